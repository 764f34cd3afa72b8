"""The platform server: REST ``/api/v1`` over the services (FastAPI + uvicorn).

>>> from rippleops.server import create_app, serve
>>> serve(host="127.0.0.1", port=8750)   # doctest: +SKIP
"""

from rippleops.server.app import create_app
from rippleops.server.run import serve

__all__ = ["create_app", "serve"]
