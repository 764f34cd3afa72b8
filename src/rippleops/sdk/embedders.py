"""``rp.embedders``: register embedder versions and embed texts with them (through the
embedding cache: a text the embedder has seen is not embedded again).

>>> rp.embedders.create("minilm")                                        # doctest: +SKIP
<Embedder embedder/minilm:1 minilm 384d labels=['latest']>
>>> vectors = rp.embedders.embed("minilm", ["reset my password", "opening hours"])  # doctest: +SKIP
>>> vectors.shape                                                        # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rippleops.domain.records import AssetRecord, EmbeddingRecord, LabelRecord, VersionRecord
from rippleops.domain.refs import make_ref, parse_ref
from rippleops.errors import InvalidError
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from rippleops.sdk.client import Client

KIND = "embedder"


class Embedder:
    """One embedder version. Its content (``provider``, ``model_id``, ``dimension``,
    ``normalize``, ``weights_sha256`` ...) reads as attributes; ``embed`` uses this exact version.

    >>> e = rp.embedders.get("minilm@production")        # doctest: +SKIP
    >>> e.dimension, e.model_id                            # doctest: +SKIP
    (384, 'sentence-transformers/all-MiniLM-L6-v2')
    >>> e.embed(["hello"]).shape                           # doctest: +SKIP
    (1, 384)
    """

    __slots__ = ("_embedders", "record")

    def __init__(self, record: VersionRecord, embedders: Embedders) -> None:
        self.record = record
        self._embedders = embedders

    def __getattr__(self, name: str) -> Any:
        record = object.__getattribute__(self, "record")
        if name in record.content:
            return record.content[name]
        return getattr(record, name)

    def __repr__(self) -> str:
        c = self.record.content
        return f"<Embedder {self.record.ref} {c.get('provider')} {c.get('dimension')}d labels={self.record.labels}>"

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors for ``texts`` from this version, ``(len(texts), dimension)`` float32."""
        return self._embedders.embed(self.record.ref, texts)

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


class Embedders:
    """Embedder assets. References may be ``minilm``, ``minilm@production``, ``minilm:2``
    or ``embedder/minilm``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def _p(self, project: str | None) -> str:
        return self._client.project_of(project)

    def create(
        self,
        name: str,
        *,
        provider: str = "minilm",
        base_url: str | None = None,
        model: str | None = None,
        dimension: int | None = None,
        api_key_secret: str | None = None,
        normalize: bool | None = None,
        batch_size: int | None = None,
        tags: builtins.list[str] | None = None,
        message: str = "",
        description: str | None = None,
        project: str | None = None,
    ) -> Embedder:
        """Register a version of ``embedder/name`` (identical content returns the existing one).

        ``provider="minilm"`` is the shipped all-MiniLM-L6-v2 (offline, 384 dimensions);
        ``provider="openai"`` any OpenAI-compatible endpoint, whose key is the Ripple secret
        named by ``api_key_secret``.

        >>> rp.secrets.set("OPENAI_API_KEY", "sk-...")                      # doctest: +SKIP
        >>> rp.embedders.create("small", provider="openai", base_url="https://api.openai.com/v1",
        ...     model="text-embedding-3-small", dimension=1536, api_key_secret="OPENAI_API_KEY")  # doctest: +SKIP
        """
        spec: dict[str, Any] = {"provider": provider, "message": message}
        for key, value in (
            ("base_url", base_url),
            ("model", model),
            ("dimension", dimension),
            ("api_key_secret", api_key_secret),
            ("normalize", normalize),
            ("batch_size", batch_size),
            ("tags", tags),
            ("description", description),
        ):
            if value is not None:
                spec[key] = value
        return Embedder(self._t.create_embedder(self._p(project), name, spec), self)

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> Embedder:
        """One embedder version: ``get("minilm")``, ``get("minilm", label="production")``, ``get("minilm:2")``."""
        ref = make_ref(KIND, name, label=label, version=version).text
        return Embedder(self._t.get_version(self._p(project), ref), self)

    def list(
        self, *, tag: str | None = None, label: str | None = None, project: str | None = None
    ) -> builtins.list[AssetRecord]:
        """Every embedder asset (name, latest version, labels, tags)."""
        return self._client.assets.list(kind=KIND, tag=tag, label=label, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._p(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` of the embedder."""
        return self._t.set_label(self._p(project), make_ref(KIND, name).asset, label, version)

    def embed(self, ref: str, texts: Sequence[str], *, project: str | None = None) -> npt.NDArray[np.float32]:
        """Vectors for ``texts``, ``(len(texts), dimension)`` float32 (needs numpy).

        >>> rp.embedders.embed("minilm@production", ["first", "second"]).shape  # doctest: +SKIP
        (2, 384)
        """
        import numpy as np

        record = self.embed_record(ref, texts, project=project)
        return np.asarray(record.vectors, dtype=np.float32).reshape(len(record.vectors), record.dimension)

    def embed_record(self, ref: str, texts: Sequence[str], *, project: str | None = None) -> EmbeddingRecord:
        """The embed call's record: the vectors as lists, and how many texts came from the cache."""
        if isinstance(texts, str):
            raise InvalidError("embed() takes a list of texts, not a single str; wrap it: [text]")
        return self._t.embed_texts(self._p(project), parse_ref(ref, KIND).text, list(texts))
