"""The HTTP side of talking to an OpenAI-compatible server, shared by the chat and embeddings
providers: one client, retries with backoff, and errors told apart by whose fault they are.

A server that cannot be reached, times out or keeps answering 429/5xx is
:class:`~rippleops.errors.UnavailableError` (retry later); a server that answers but refuses
the request or answers something that is not JSON is :class:`~rippleops.errors.InvalidError`
(fix the settings).
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from rippleops.errors import InvalidError, UnavailableError

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
#: A Retry-After longer than this is cut short: a job would rather fail and be retried.
MAX_RETRY_AFTER = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAIHTTP:
    """POSTs to one endpoint ``url`` of an OpenAI-compatible server.

    ``what`` names the server in error messages ("chat server", "embeddings server").
    429 and 5xx answers and timeouts are retried ``max_retries`` times with jittered
    exponential backoff, honouring ``Retry-After``; a refused connection is not retried.
    """

    def __init__(
        self,
        url: str,
        what: str,
        model: str,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        backoff: float,
    ) -> None:
        self.url = url
        self.what = what
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        )

    def close(self) -> None:
        self.client.close()

    def post(self, payload: dict[str, Any], *, stream: bool = False) -> httpx.Response:
        """The server's answer to ``payload``, after retries; any error status raises.

        With ``stream`` the body is left unread (close the response when done); a stream is
        retried only until its first byte.
        """
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            try:
                response = self._send(payload, stream)
            except httpx.ConnectError as err:
                # Refused or unresolvable: nothing listens there, and waiting will not change that soon.
                raise UnavailableError(f"cannot reach the {self.what} at {self.url}: {err}") from err
            except httpx.TransportError as err:  # timeouts, dropped connections
                if last_try:
                    raise UnavailableError(
                        f"the {self.what} at {self.url} failed {attempt + 1} time(s), last with "
                        f"{type(err).__name__}: {err or 'no detail'}"
                    ) from err
                time.sleep(self.delay(attempt, None))
                continue
            if response.status_code in RETRY_STATUSES and not last_try:
                if stream:
                    response.close()
                time.sleep(self.delay(attempt, response))
                continue
            if stream and response.status_code >= 400:
                response.read()
            self.check_status(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(self, payload: dict[str, Any], stream: bool) -> httpx.Response:
        if not stream:
            return self.client.post(self.url, json=payload)
        request = self.client.build_request("POST", self.url, json=payload)
        return self.client.send(request, stream=True)

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry ``attempt + 1``."""
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date: fall back on our own backoff
        # Jitter keeps many workers that failed together from retrying together.
        return float(self.backoff * 2**attempt * random.uniform(0.75, 1.0))

    def check_status(self, response: httpx.Response) -> None:
        """Raise for an error status: retryable ones (after the retries) as unavailable, others as invalid."""
        status = response.status_code
        if status in RETRY_STATUSES:
            raise UnavailableError(
                f"the {self.what} at {self.url} answered HTTP {status} after {self.max_retries + 1} attempt(s): "
                f"{server_message(response)}",
                details={"status": status},
            )
        if status in (401, 403):
            raise InvalidError(
                f"the {self.what} at {self.url} refused the credentials (HTTP {status}): "
                f"{server_message(response)}; check the api_key",
                details={"status": status},
            )
        if status >= 400:
            raise InvalidError(
                f"the {self.what} at {self.url} refused the request for model {self.model!r} "
                f"(HTTP {status}): {server_message(response)}",
                details={"status": status},
            )

    def json(self, response: httpx.Response) -> Any:
        """The decoded body of a successful answer."""
        try:
            return response.json()
        except ValueError:
            raise InvalidError(
                f"the {self.what} at {self.url} answered HTTP {response.status_code} with something that is not "
                f"JSON ({response.text[:80]!r}); is base_url an OpenAI-compatible /v1 endpoint?"
            ) from None


def error_text(body: dict[str, Any]) -> str:
    """The text of a body's ``error`` (OpenAI's ``error.message``, or the error itself)."""
    error = body.get("error")
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return str(error)[:200]


def server_message(response: httpx.Response) -> str:
    """The error text a server put in its answer (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        if "error" in body:
            return error_text(body)
        for key in ("detail", "message"):
            if key in body:
                return str(body[key])[:200]
    return str(body)[:200]
