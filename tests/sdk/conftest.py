"""The SDK suite runs twice: on the embedded transport and on the remote one, against a
real uvicorn server on a free 127.0.0.1 port over the same database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rippleops import Client
from rippleops.settings import Settings
from support import RunningServer, start_server


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    srv = start_server(settings)
    yield srv
    srv.stop()


@pytest.fixture(params=["embedded", "remote"])
def rp(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Client]:
    """alice's client (instance admin) on either transport."""
    if request.param == "embedded":
        client = Client(settings=settings)
    else:
        srv: RunningServer = request.getfixturevalue("server")
        client = Client(url=srv.url, token=settings.token_file.read_text().strip(), settings=settings)
    yield client
    client.close()
