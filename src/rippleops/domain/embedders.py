"""Embedder specs: what a user writes to register an ``embedder/*`` version, and the content
fields a version holds.

Two providers::

    provider: minilm            # the shipped all-MiniLM-L6-v2 (int8 ONNX, offline)
    batch_size: 64

    provider: openai            # any OpenAI-compatible POST /v1/embeddings
    base_url: http://127.0.0.1:8000/v1
    model: text-embedding-3-small
    dimension: 1536
    api_key_secret: OPENAI_API_KEY   # the name of a Ripple secret, never the key itself

A version's content is the spec's fields plus what the runtime says identifies the vectors
(its ``describe()``: model id, dimension, normalisation and, for MiniLM, the sha256 of the
weights and the tokenizer), so other weights make another version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rippleops.domain.hashing import content_hash
from rippleops.errors import InvalidError

PROVIDERS = ("minilm", "openai")
DEFAULT_BATCH_SIZE = 64
MAX_BATCH_SIZE = 4096
MAX_DIMENSION = 65_536
SPEC_FIELDS = (
    "provider",
    "base_url",
    "model",
    "dimension",
    "api_key_secret",
    "normalize",
    "batch_size",
    "tags",
    "message",
    "description",
)
#: Content fields that decide the vectors: the embedding cache is keyed by their hash, so a
#: new version that only changes the batch size, the endpoint URL or the key keeps its cache.
VECTOR_FIELDS = (
    "provider",
    "model_id",
    "dimension",
    "normalize",
    "max_tokens",
    "pooling",
    "weights_sha256",
    "tokenizer_sha256",
)


class EmbedderSpec(BaseModel):
    """What a user gives to create an embedder version (file, JSON body, SDK or CLI options)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["minilm", "openai"] = "minilm"
    base_url: str | None = None
    model: str | None = None
    dimension: int | None = Field(default=None, ge=1, le=MAX_DIMENSION)
    api_key_secret: str | None = None
    normalize: bool = True
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=MAX_BATCH_SIZE)
    tags: list[str] = []
    message: str = ""
    description: str | None = None

    @model_validator(mode="after")
    def _provider_fields(self) -> EmbedderSpec:
        if self.provider == "minilm":
            given = [f for f in ("base_url", "model", "dimension", "api_key_secret") if getattr(self, f) is not None]
            if given:
                raise ValueError(
                    f"provider minilm is the shipped all-MiniLM-L6-v2 (384 dimensions) and takes no "
                    f"{', '.join(given)}; use provider openai for an HTTP endpoint"
                )
            if not self.normalize:
                raise ValueError("provider minilm always makes unit vectors; leave normalize out")
            return self
        missing = [f for f in ("base_url", "model", "dimension") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"provider openai needs {', '.join(missing)} (base_url, model and dimension)")
        assert self.base_url is not None
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {self.base_url!r}")
        if self.api_key_secret is not None and not self.api_key_secret.replace("_", "").isalnum():
            raise ValueError(
                f"api_key_secret names a Ripple secret (letters, digits, '_', such as OPENAI_API_KEY), "
                f"not {self.api_key_secret!r}; set its value with `ripple secret set NAME`"
            )
        return self

    def settings(self) -> dict[str, Any]:
        """The spec's content fields (what the runtime adds comes from ``describe()``)."""
        out: dict[str, Any] = {"provider": self.provider, "batch_size": self.batch_size}
        if self.provider == "openai":
            out.update(
                base_url=self.base_url.rstrip("/") if self.base_url else None,
                model=self.model,
                dimension=self.dimension,
                api_key_secret=self.api_key_secret,
                normalize=self.normalize,
            )
        return out


def parse_spec(data: Any, source: str = "embedder") -> EmbedderSpec:
    """Validate a mapping into a spec; errors name the field and the way out."""
    if not isinstance(data, dict):
        raise InvalidError(f"{source} must be a mapping such as {{provider: minilm}}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(SPEC_FIELDS))
    if unknown:
        raise InvalidError(f"{source} has unknown fields: {', '.join(unknown)}; allowed: {', '.join(SPEC_FIELDS)}")
    try:
        return EmbedderSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'embedder'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidError(f"{source} is not a valid embedder: {problems}") from None


def version_content(spec: EmbedderSpec, described: dict[str, Any]) -> dict[str, Any]:
    """A version's content: the runtime's ``describe()`` under the spec's settings.

    The provider stays the asset's word (``minilm`` / ``openai``); the runtime's own name
    for it is kept as ``runtime``.
    """
    content = {**described, **spec.settings()}
    content["runtime"] = described.get("provider")
    return content


def vector_key(content: dict[str, Any]) -> str:
    """The hex sha256 that keys the embedding cache: the hash of :data:`VECTOR_FIELDS`."""
    identity = {key: content.get(key) for key in VECTOR_FIELDS if key in content}
    return content_hash(identity).removeprefix("sha256:")
