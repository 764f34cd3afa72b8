"""``rp.models``: register model versions and generate with them.

>>> rp.models.create("local-smollm", provider="local")                        # doctest: +SKIP
>>> m = rp.models.get("local-smollm@production")                             # doctest: +SKIP
>>> m.generate("Name a colour.", max_tokens=8).text                           # doctest: +SKIP
>>> for delta in (s := m.stream("Write a haiku.", max_tokens=32)): print(delta, end="")  # doctest: +SKIP
>>> s.record.usage.completion_tokens, s.record.cost.total                     # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rippleops.domain.generation import GenerationStream, as_messages
from rippleops.domain.models import parse_model_spec, parse_model_spec_text
from rippleops.domain.records import AssetRecord, GenerationRecord, LabelEventRecord, LabelRecord, VersionRecord
from rippleops.domain.refs import make_ref
from rippleops.errors import InvalidError, PayloadTooLargeError
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

KIND = "model"
Input = str | Sequence[Mapping[str, Any]]


class Model:
    """One model version, ready to call. Its spec fields (``provider``, ``params``,
    ``prices`` ...) read as attributes; ``generate`` and ``stream`` use this exact version.

    >>> m = rp.models.get("local-smollm")                                   # doctest: +SKIP
    >>> out = m.generate("Say hello.", system="Be brief.", max_tokens=16)    # doctest: +SKIP
    >>> out.text, out.usage.total_tokens, out.cost.total                     # doctest: +SKIP
    """

    __slots__ = ("_models", "record")

    def __init__(self, record: VersionRecord, models: Models) -> None:
        self.record = record
        self._models = models

    def __getattr__(self, name: str) -> Any:
        record = object.__getattribute__(self, "record")
        if name in record.content:
            return record.content[name]
        return getattr(record, name)

    def __repr__(self) -> str:
        return f"<Model {self.record.ref} provider={self.record.content.get('provider')} labels={self.record.labels}>"

    def generate(self, input: Input, *, system: str | None = None, **params: Any) -> GenerationRecord:
        """The reply to ``input`` (a text is one user turn; or chat messages), with usage
        and cost. ``params`` (``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``
        ...) override the version's defaults."""
        return self._models.generate(self.record.ref, input, system=system, project=self.record.project, **params)

    def stream(self, input: Input, *, system: str | None = None, **params: Any) -> GenerationStream:
        """Text deltas as the model produces them; ``.record`` holds usage and cost at the end."""
        return self._models.stream(self.record.ref, input, system=system, project=self.record.project, **params)

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


class Models:
    """Model assets. References may be ``local-smollm``, ``local-smollm@production``,
    ``local-smollm:2`` or ``model/local-smollm``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def create(
        self,
        name: str,
        *,
        provider: str | None = None,
        spec: Mapping[str, Any] | None = None,
        project: str | None = None,
        **fields: Any,
    ) -> Model:
        """Register a version of ``model/name`` from a spec (a mapping, keywords, or both;
        keywords win). Identical content returns the existing version (``created`` is False).

        >>> rp.models.create("local-smollm", provider="local", params={"max_tokens": 64})  # doctest: +SKIP
        >>> rp.models.create("gpt", provider="openai", base_url="https://api.openai.com/v1",
        ...                  model="gpt-4o-mini", api_key_secret="OPENAI_API_KEY",
        ...                  prices={"input_per_1m": 0.15, "output_per_1m": 0.6})   # doctest: +SKIP
        """
        data: dict[str, Any] = dict(spec or {})
        if provider is not None:
            data["provider"] = provider
        data.update(fields)
        if isinstance(data.get("file"), str | Path):
            # the server resolves nothing against the caller's folder: send an absolute path
            data["file"] = str(Path(data["file"]).expanduser().resolve())
        return Model(self._t.create_model(self._client.project_of(project), name, data), self)

    def create_from_file(
        self, name: str, path: str | Path, *, message: str | None = None, project: str | None = None
    ) -> Model:
        """Register a version from a YAML (or JSON) model file; a relative ``file:`` is read
        against the model file's folder."""
        data = load_spec_file(path, self._client.settings.max_payload_bytes)
        if message is not None:
            data["message"] = message
        return self.create(name, spec=data, project=project)

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> Model:
        """One version: ``get("local-smollm@production")`` or ``get("local-smollm", label="production")``."""
        ref = make_ref(KIND, name, label=label, version=version)
        return Model(self._t.get_model(self._client.project_of(project), ref.text), self)

    def generate(
        self, ref: str, input: Input, *, system: str | None = None, project: str | None = None, **params: Any
    ) -> GenerationRecord:
        """Generate with the version ``ref`` names now (a label is resolved at the call)."""
        return self._t.generate(self._client.project_of(project), _ref(ref), _input(input, system), params)

    def stream(
        self, ref: str, input: Input, *, system: str | None = None, project: str | None = None, **params: Any
    ) -> GenerationStream:
        """Stream with the version ``ref`` names now; fails at once if the model cannot start."""
        return self._t.stream_generation(self._client.project_of(project), _ref(ref), _input(input, system), params)

    def list(
        self, *, tag: str | None = None, label: str | None = None, project: str | None = None
    ) -> builtins.list[AssetRecord]:
        """Every model asset (name, latest version, labels, tags)."""
        return self._client.assets.list(kind=KIND, tag=tag, label=label, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._client.project_of(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` (moving ``production`` needs an admin)."""
        return self._t.set_label(self._client.project_of(project), make_ref(KIND, name).asset, label, version)

    def unlabel(self, name: str, label: str, *, project: str | None = None) -> LabelRecord:
        return self._t.remove_label(self._client.project_of(project), make_ref(KIND, name).asset, label)

    def history(
        self, name: str, *, label: str | None = None, project: str | None = None
    ) -> builtins.list[LabelEventRecord]:
        """Every label move of the model, oldest first."""
        return self._t.label_history(self._client.project_of(project), make_ref(KIND, name).asset, label)


def _ref(ref: str) -> str:
    return make_ref(KIND, ref).text


def _input(input: Input, system: str | None) -> str | list[dict[str, Any]]:
    if system is None and isinstance(input, str):
        return input  # checked where the call runs
    return [dict(m) for m in as_messages(input, system)]


def load_spec_file(path: str | Path, limit: int) -> dict[str, Any]:
    """A model file (YAML or JSON, at most ``limit`` bytes) as a mapping, checked; errors name the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidError(f"model file {p} does not exist")
    with p.open("rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLargeError(
            f"model file {p} is too large: the limit is {limit} bytes (RIPPLE_MAX_PAYLOAD_BYTES)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidError(f"model file {p} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        parse_model_spec_text(text, f"model file {p}")  # raises, naming the line
        raise
    if isinstance(data, dict) and isinstance(data.get("file"), str):
        gguf = Path(data["file"]).expanduser()
        data["file"] = str(gguf if gguf.is_absolute() else (p.parent / gguf).resolve())
    parse_model_spec(data, f"model file {p}")  # the checks, with the file named in errors
    return dict(data)
