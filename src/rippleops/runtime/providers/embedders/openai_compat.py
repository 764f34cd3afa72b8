"""Any server that speaks OpenAI's ``POST /v1/embeddings``: OpenAI, vLLM, llama.cpp, Ollama,
text-embeddings-inference, or another Ripple.

Failures are told apart by whose fault they are: a server that cannot be reached, times
out or keeps answering 429/5xx is :class:`~rippleops.errors.UnavailableError` (retry later);
a server that answers but refuses the request or answers nonsense (bad key, unknown model,
not JSON, wrong dimension) is :class:`~rippleops.errors.InvalidError` (fix the settings).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rippleops.errors import InvalidError

from ..openai_http import DEFAULT_BACKOFF, DEFAULT_RETRIES, OpenAIHTTP
from ..openai_http import DEFAULT_CONNECT_TIMEOUT as DEFAULT_CONNECT_TIMEOUT
from ..openai_http import MAX_RETRY_AFTER as MAX_RETRY_AFTER
from ..openai_http import RETRY_STATUSES as RETRY_STATUSES
from .base import DEFAULT_BATCH_SIZE, EMBED_EXTRA_HINT, Embedder, batches, check_texts

_MISSING_EXTRA: ImportError | None = None
try:
    import numpy as np
except ImportError as exc:  # numpy comes with the embed extra; the constructor says how to get it
    _MISSING_EXTRA = exc

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_TIMEOUT = 60.0


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
        self._http = OpenAIHTTP(self.url, "embeddings server", model, api_key, timeout, retries, backoff)

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
        self._http.close()

    def _embed_batch(self, batch: list[str]) -> npt.NDArray[np.float32]:
        payload = {"model": self._model, "input": batch, "encoding_format": "float"}
        response = self._http.post(payload)
        return self._parse(self._http.json(response), len(batch))

    def _parse(self, body: Any, expected: int) -> npt.NDArray[np.float32]:
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
