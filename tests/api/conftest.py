"""Fixtures for the REST API tests: the app over the parametrised database (SQLite and
PostgreSQL), served in-process through FastAPI's TestClient (lifespan included)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from rippleops.server import create_app
from rippleops.services import Services
from rippleops.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2; the API is the same
    from fastapi.testclient import TestClient


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """A loopback app without required auth: requests without a token act as alice."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth_client(settings: Settings) -> Iterator[TestClient]:
    """An app that requires a token on every request."""
    with TestClient(create_app(settings, auth_required=True)) as c:
        yield c


@pytest.fixture
def admin_token(settings: Settings) -> str:
    """alice's token, left in the home by ``ripple init``."""
    return settings.token_file.read_text().strip()


@pytest.fixture
def services(app: FastAPI) -> Services:
    """The app's own services (to set up state or reach under the API in a test)."""
    s: Services = app.state.services
    return s


@pytest.fixture
def make_prompt(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Create a prompt version through the API and return its record."""

    def make(name: str, **spec: Any) -> dict[str, Any]:
        r = client.post(f"/api/v1/projects/default/prompts/{name}", json=spec or {"template": "Answer: {{ question }}"})
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    return make
