"""Embedders, the ``embedder/*`` asset kind: register a provider, get its runtime object
(cached per version), and embed texts through the embedding cache.

A ``minilm`` version records what the shipped model says it is (``describe()``: model id,
dimension, normalisation, sha256 of weights and tokenizer); an ``openai`` version records
the endpoint, model, dimension and the *name* of the secret that holds its key. The key is
read from the secret store at each call, so a rotated key is used at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Action, Principal
from rippleops.domain.embedders import EmbedderSpec, parse_spec, vector_key, version_content
from rippleops.domain.records import EmbeddingRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError
from rippleops.runtime.providers.embedders import Embedder, OnnxMiniLMEmbedder, OpenAICompatibleEmbedder
from rippleops.runtime.providers.embedders.base import check_texts
from rippleops.services.access import AccessService
from rippleops.services.assets import AssetService
from rippleops.services.embedding_cache import EmbeddingCache
from rippleops.services.secrets import SecretService

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

KIND = "embedder"
#: Most texts one embed request takes (an index build sends many requests, not one huge one).
MAX_TEXTS_PER_CALL = 4096


@dataclass(frozen=True)
class Embedded:
    """Vectors of one embed call and what they cost: ``embedded`` texts went to the model."""

    ref: str
    vectors: npt.NDArray[np.float32]
    cached: int
    embedded: int


class EmbedderService:
    """``embedder/*`` versions and embedding through the cache.

    >>> record = services.embedders.create(admin, "default", "minilm", {"provider": "minilm"})  # doctest: +SKIP
    >>> services.embedders.embed(admin, "default", "minilm", ["hello"]).shape                 # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self, access: AccessService, assets: AssetService, secrets: SecretService, cache: EmbeddingCache
    ) -> None:
        self.access = access
        self.assets = assets
        self.secrets = secrets
        self.cache = cache
        self._providers: dict[str, tuple[str | None, Embedder]] = {}  # version hash -> (key digest, embedder)
        self._lock = threading.Lock()

    # -- versions ----------------------------------------------------------------------------

    def create(
        self, principal: Principal, project: str, name: str, spec: EmbedderSpec | dict[str, Any]
    ) -> VersionRecord:
        """Register ``spec`` as the next version of ``embedder/name`` (a no-op for known content)."""
        if not isinstance(spec, EmbedderSpec):
            spec = parse_spec(spec, f"embedder/{name}")
        # Authorise before loading a model: a viewer's request must not cost a model load.
        with self.assets.db.reading() as s:
            self.access.authorize(s, principal, project, Action.WRITE)
        probe = _build(spec.settings(), api_key=None)
        try:
            described = probe.describe()
        finally:
            if spec.provider != "minilm":
                probe.close()
        content = version_content(spec, described)
        record = self.assets.register(principal, project, KIND, name, content, message=spec.message, tags=spec.tags)
        if spec.provider == "minilm":  # keep the loaded model: the next call likely embeds
            with self._lock:
                self._providers.setdefault(record.hash, (None, probe))
        if spec.description is not None:
            desc = self.assets.update(principal, project, f"{KIND}/{name}", description=spec.description).description
            record = record.model_copy(update={"description": desc})
        return record

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.assets.get(principal, project, parse_ref(ref, KIND))

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.assets.versions(principal, project, name, KIND)

    # -- the runtime object -----------------------------------------------------------------------

    def embedder(self, principal: Principal, project: str, ref: str) -> tuple[VersionRecord, Embedder]:
        """The version ``ref`` resolves to and its runtime embedder (built once per version).

        An ``openai`` version's key is read from the secret store on every call; when it has
        changed since the embedder was built, a new one is built with the new key.
        """
        record = self.get(principal, project, ref)
        content = record.content
        api_key = None
        secret = content.get("api_key_secret")
        if secret:
            api_key = self.secrets.reveal(principal, project, secret)
        fingerprint = hashlib.sha256(api_key.encode()).hexdigest() if api_key else None
        with self._lock:
            cached = self._providers.get(record.hash)
            if cached is not None and cached[0] == fingerprint:
                return record, cached[1]
        built = _build(content, api_key)
        _check_identity(record, built)
        with self._lock:
            old = self._providers.get(record.hash)
            if old is not None and old[0] == fingerprint:  # another thread won the race: use its object
                built.close()
                return record, old[1]
            self._providers[record.hash] = (fingerprint, built)
        if old is not None:
            old[1].close()
        return record, built

    # -- embedding ---------------------------------------------------------------------------------

    def embed(self, principal: Principal, project: str, ref: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors for ``texts``, ``(len(texts), dimension)`` float32, through the cache:
        a text this embedder has embedded before costs no model call."""
        return self.embed_counted(principal, project, ref, texts).vectors

    def embed_counted(self, principal: Principal, project: str, ref: str, texts: Sequence[str]) -> Embedded:
        """:meth:`embed`, also saying how many texts were cached and how many were embedded."""
        items = check_texts(texts, 1)
        if len(items) > MAX_TEXTS_PER_CALL:
            raise InvalidError(
                f"{len(items)} texts in one call; the limit is {MAX_TEXTS_PER_CALL}, send them in batches"
            )
        record, embedder = self.embedder(principal, project, ref)
        content = record.content
        batch_size = int(content.get("batch_size") or 64)
        vectors, misses = self.cache.embed_counted(
            vector_key(content),
            int(content["dimension"]),
            items,
            lambda missing: embedder.embed(missing, batch_size=batch_size),
        )
        return Embedded(record.ref, vectors, cached=len(items) - misses, embedded=misses)

    def embed_record(self, principal: Principal, project: str, ref: str, texts: Sequence[str]) -> EmbeddingRecord:
        """:meth:`embed_counted` as the record the interfaces return (vectors as lists of floats)."""
        result = self.embed_counted(principal, project, ref, texts)
        return EmbeddingRecord(
            ref=result.ref,
            dimension=int(result.vectors.shape[1]),
            vectors=result.vectors.tolist(),
            cached=result.cached,
            embedded=result.embedded,
        )

    def close(self) -> None:
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for _, embedder in providers:
            embedder.close()


def _build(content: dict[str, Any], api_key: str | None) -> Embedder:
    """The runtime embedder a version's content (or a spec's settings) describes."""
    provider = content.get("provider")
    if provider == "minilm":
        return OnnxMiniLMEmbedder()
    if provider == "openai":
        return OpenAICompatibleEmbedder(
            str(content["base_url"]),
            str(content["model"]),
            dimension=int(content["dimension"]),
            api_key=api_key,
            normalize=bool(content.get("normalize", True)),
        )
    raise InvalidError(f"unknown embedder provider {provider!r}; providers: minilm, openai")


def _check_identity(record: VersionRecord, embedder: Embedder) -> None:
    """Refuse to embed with weights other than the ones the version recorded."""
    described = embedder.describe()
    for key in ("weights_sha256", "tokenizer_sha256", "dimension", "model_id"):
        if key in record.content and described.get(key) != record.content[key]:
            raise InvalidError(
                f"{record.ref} was registered with {key} {record.content[key]!r}, but the installed model has "
                f"{described.get(key)!r}; register a new version (`ripple embedder add {record.name}`) and rebuild "
                "its indexes, or install the package version it was made with",
                details={"field": key, "recorded": record.content[key], "installed": described.get(key)},
            )
