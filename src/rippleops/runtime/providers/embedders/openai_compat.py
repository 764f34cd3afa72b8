"""Any server that speaks OpenAI's ``POST /v1/embeddings``: OpenAI, vLLM, llama.cpp, Ollama,
text-embeddings-inference, or another Ripple.

Failures are told apart by whose fault they are: a server that cannot be reached, times
out or keeps answering 429/5xx is :class:`~rippleops.errors.UnavailableError` (retry later);
a server that answers but refuses the request or answers nonsense (bad key, unknown model,
not JSON, wrong dimension) is :class:`~rippleops.errors.InvalidError` (fix the settings).
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from rippleops.errors import InvalidError, UnavailableError

from .base import DEFAULT_BATCH_SIZE, EMBED_EXTRA_HINT, Embedder, batches, check_texts

_MISSING_EXTRA: ImportError | None = None
try:
    import numpy as np
except ImportError as exc:  # numpy comes with the embed extra; the constructor says how to get it
    _MISSING_EXTRA = exc

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
#: A Retry-After longer than this is cut short: a job would rather fail and be retried.
MAX_RETRY_AFTER = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAICompatibleEmbedder(Embedder):
    """Embeddings from an OpenAI-compatible HTTP endpoint.

    Example::

        embedder = OpenAICompatibleEmbedder("http://127.0.0.1:8000/v1", "all-MiniLM-L6-v2", dimension=384)
        vectors = embedder.embed(["first text", "second text"])

    ``base_url`` ends where OpenAI's ends (``https://api.openai.com/v1``); ``/embeddings`` is
    added. Each batch is one request; 429 and 5xx answers and timeouts are retried ``retries``
    times with exponential backoff (honouring ``Retry-After``); a refused connection is not
    retried. With ``normalize`` (the default) vectors are scaled to unit length here, whatever
    the server does.
    """

    provider: ClassVar[str] = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        dimension: int,
        api_key: str | None = None,
        normalize: bool = True,
        max_tokens: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        if _MISSING_EXTRA is not None:
            raise InvalidError(
                f"the openai-compatible embedder needs numpy, which the 'embed' extra brings: {EMBED_EXTRA_HINT}"
            ) from _MISSING_EXTRA
        if not base_url.startswith(("http://", "https://")):
            raise InvalidError(f"base_url must start with http:// or https://, not {base_url!r}")
        if not model:
            raise InvalidError("model must name the server's embedding model")
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise InvalidError(f"dimension must be a positive integer, not {dimension!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise InvalidError("timeout must be positive; retries and backoff must not be negative")
        self.url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._dimension = dimension
        self._normalize = normalize
        self._max_tokens = max_tokens
        self._retries = retries
        self._backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        )

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def normalize(self) -> bool:
        return self._normalize

    @property
    def max_tokens(self) -> int | None:
        return self._max_tokens

    # describe() stays the base one on purpose: the URL and the key say where the model runs
    # and who pays, not what the vectors are; a staging and a production endpoint serving the
    # same model must not make every index stale.

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> npt.NDArray[np.float32]:
        items = check_texts(texts, batch_size)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        for rows in batches(len(items), batch_size):
            out[rows.start : rows.stop] = self._embed_batch(items[rows.start : rows.stop])
        if self._normalize and len(items):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, batch: list[str]) -> npt.NDArray[np.float32]:
        payload = {"model": self._model, "input": batch, "encoding_format": "float"}
        for attempt in range(self._retries + 1):
            last_try = attempt == self._retries
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.ConnectError as err:
                # Refused or unresolvable: nothing listens there, and waiting will not change that soon.
                raise UnavailableError(f"cannot reach the embeddings server at {self.url}: {err}") from err
            except httpx.TransportError as err:  # timeouts, dropped connections
                if last_try:
                    raise UnavailableError(
                        f"the embeddings server at {self.url} failed {attempt + 1} time(s), last with "
                        f"{type(err).__name__}: {err or 'no detail'}"
                    ) from err
                time.sleep(self._delay(attempt, None))
                continue
            if response.status_code in RETRY_STATUSES and not last_try:
                time.sleep(self._delay(attempt, response))
                continue
            return self._parse(response, len(batch))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date: fall back on our own backoff
        # Jitter keeps many workers that failed together from retrying together.
        return float(self._backoff * 2**attempt * random.uniform(0.75, 1.0))

    def _parse(self, response: httpx.Response, expected: int) -> npt.NDArray[np.float32]:
        status = response.status_code
        if status in RETRY_STATUSES:
            raise UnavailableError(
                f"the embeddings server at {self.url} answered HTTP {status} after {self._retries + 1} attempt(s): "
                f"{_server_message(response)}",
                details={"status": status},
            )
        if status in (401, 403):
            raise InvalidError(
                f"the embeddings server at {self.url} refused the credentials (HTTP {status}): "
                f"{_server_message(response)}; check the api_key",
                details={"status": status},
            )
        if status >= 400:
            raise InvalidError(
                f"the embeddings server at {self.url} refused the request for model {self._model!r} "
                f"(HTTP {status}): {_server_message(response)}",
                details={"status": status},
            )
        try:
            body = response.json()
        except ValueError:
            raise InvalidError(
                f"the embeddings server at {self.url} answered HTTP {status} with something that is not JSON "
                f"({response.text[:80]!r}); is base_url an OpenAI-compatible /v1 endpoint?"
            ) from None
        vectors = _vectors_from_body(body, expected)
        if isinstance(vectors, str):
            raise InvalidError(f"the embeddings server at {self.url} answered malformed JSON: {vectors}")
        if vectors.shape[1] != self._dimension:
            raise InvalidError(
                f"the embeddings server at {self.url} returned {vectors.shape[1]}-dimensional vectors for model "
                f"{self._model!r}, but this embedder is configured for {self._dimension}; fix the dimension or the model"
            )
        return vectors


def _vectors_from_body(body: Any, expected: int) -> npt.NDArray[np.float32] | str:
    """The ``(expected, d)`` matrix in input order, or what is wrong with the body."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return "no 'data' list"
    if len(data) != expected:
        return f"{len(data)} embeddings for {expected} inputs"
    if not all(isinstance(item, dict) and "embedding" in item for item in data):
        return "an item of 'data' has no 'embedding'"
    indexes = [item.get("index") for item in data]
    if all(isinstance(i, int) for i in indexes):
        if sorted(indexes) != list(range(expected)):
            return f"the 'index' fields are not 0..{expected - 1}"
        data = sorted(data, key=lambda item: item["index"])
    rows = []
    for item in data:
        raw = item["embedding"]
        try:
            if isinstance(raw, str):  # encoding_format=base64, for servers that ignore our ask for floats
                rows.append(np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4"))
            elif isinstance(raw, list) and raw and all(isinstance(x, int | float) for x in raw):
                rows.append(np.asarray(raw, dtype=np.float32))
            else:
                return "an 'embedding' is neither a list of numbers nor base64"
        except ValueError:
            return "an 'embedding' is not valid base64 float32"
    if len({len(row) for row in rows}) > 1:
        return "the embeddings have different lengths"
    vectors = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    if not np.isfinite(vectors).all():
        return "an embedding holds NaN or infinity"
    return vectors.astype(np.float32, copy=False)


def _server_message(response: httpx.Response) -> str:
    """The error text a server put in its answer (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if key in body:
                return str(body[key])[:200]
    return str(body)[:200]
