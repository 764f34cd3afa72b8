"""The checked-in OpenAPI schema (``docs/openapi.json``): an API change is always deliberate.

Regenerate it with ``python -m rippleops.server --write-openapi docs/openapi.json``.
"""

from __future__ import annotations

import json

from rippleops.server.app import create_app
from rippleops.settings import Settings

WRITE_COMMAND = "python -m rippleops.server --write-openapi docs/openapi.json"


def openapi_json() -> str:
    """The schema as checked in: sorted keys, two-space indent, a final newline.

    Built on an in-memory database so that no home folder is touched (the schema does not
    depend on the settings)."""
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    try:
        return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
    finally:
        app.state.services.close()
