from __future__ import annotations

from collections.abc import Iterator

import pytest

from rippleops.domain.access import Principal
from rippleops.services import Services
from rippleops.settings import Settings


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services(settings)
    yield svc
    svc.close()


@pytest.fixture
def admin(services: Services, settings: Settings) -> Principal:
    return services.access.authenticate(settings.token_file.read_text().strip())
