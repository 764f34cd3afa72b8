"""``python -m rippleops.server [--host H] [--port P] [--auth]`` runs the server;
``--write-openapi PATH`` writes the OpenAPI schema (``docs/openapi.json``) and exits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from rippleops.errors import InvalidError, RippleError
from rippleops.server.openapi import openapi_json
from rippleops.server.run import DEFAULT_HOST, DEFAULT_PORT, serve
from rippleops.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rippleops.server", description="Run the Ripple server.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--auth", action="store_true", help="require an API token on every request")
    parser.add_argument("--access-log", action="store_true", help="log every request (off: /metrics counts them)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--write-openapi", metavar="PATH", type=Path, help="write the OpenAPI schema and exit")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"RIPPLE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"error: the Ripple settings are not valid: {problems}", file=sys.stderr)
        return InvalidError.exit_code
    try:
        if args.write_openapi:
            args.write_openapi.write_text(openapi_json())
            print(f"wrote {args.write_openapi}")
            return 0
        serve(
            settings,
            host=args.host,
            port=args.port,
            auth=args.auth,
            log_level=args.log_level,
            access_log=args.access_log,
        )
    except RippleError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
