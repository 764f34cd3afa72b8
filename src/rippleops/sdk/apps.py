"""``rp.apps``: register app versions and call them.

>>> rp.apps.create("support-bot", file="examples/support-bot.yaml")            # doctest: +SKIP
>>> bot = rp.apps.get("support-bot@production")                                # doctest: +SKIP
>>> out = bot.invoke("How do I roll back a prompt?")                           # doctest: +SKIP
>>> out.output, out.sources[0]["doc_id"], out.trace_id                         # doctest: +SKIP
>>> for delta in (s := bot.stream("And an index?")): print(delta, end="")      # doctest: +SKIP
>>> s.record.usage.completion_tokens                                           # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rippleops.domain.app_requests import AppStream
from rippleops.domain.records import AppRunRecord, AssetRecord, LabelRecord, VersionRecord
from rippleops.domain.refs import make_ref
from rippleops.errors import InvalidError, PayloadTooLargeError
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

KIND = "app"
Input = str | Sequence[Mapping[str, Any]]


class App:
    """One app version, ready to call; ``invoke`` and ``stream`` run this exact version (and
    the part versions it pinned when it was created).

    >>> bot = rp.apps.get("support-bot@production")                          # doctest: +SKIP
    >>> bot.invoke("How do I roll back?", max_tokens=32).output                # doctest: +SKIP
    >>> bot.invoke([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
    ...             {"role": "user", "content": "How do I roll back?"}])      # doctest: +SKIP
    """

    __slots__ = ("_apps", "record")

    def __init__(self, record: VersionRecord, apps: Apps) -> None:
        self.record = record
        self._apps = apps

    def __repr__(self) -> str:
        return f"<App {self.record.ref} labels={self.record.labels}>"

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.record.content.get("steps") or [])

    def invoke(
        self,
        input: Input,
        *,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> AppRunRecord:
        """The app's answer to ``input`` (a question, or chat messages whose last turn is the
        user's), with sources, guard decisions, tokens, cost and the trace id. ``params``
        (``max_tokens``, ``temperature`` ...) override the app's; ``variables`` are extra
        prompt variables; ``metadata`` (``user_id``, ``session_id`` ...) goes on the trace."""
        return self._apps.invoke(
            self.record.ref, input, variables=variables, metadata=metadata, project=self.record.project, **params
        )

    def stream(
        self,
        input: Input,
        *,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> AppStream:
        """Text deltas as the app produces them; ``.record`` once exhausted, ``.close()`` to stop."""
        return self._apps.stream(
            self.record.ref, input, variables=variables, metadata=metadata, project=self.record.project, **params
        )

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


class Apps:
    """App assets. References may be ``support-bot``, ``support-bot@production``,
    ``support-bot:2`` or ``app/support-bot``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def create(
        self,
        name: str,
        spec: Mapping[str, Any] | None = None,
        *,
        file: str | Path | None = None,
        message: str | None = None,
        project: str | None = None,
    ) -> App:
        """Register a version of ``app/name`` from a spec mapping or a YAML file; every part it
        references is resolved now and pinned. Identical content over the same pins returns
        the existing version (``created`` is False).

        >>> rp.apps.create("support-bot", {"steps": [{"retrieve": {"index": "index/docs@production"}},
        ...     {"render": {"prompt": "prompt/rag@production"}},
        ...     {"generate": {"model": "model/local-smollm@production"}}]})    # doctest: +SKIP
        """
        if (spec is None) == (file is None):
            raise InvalidError("give an app spec (a mapping) or file=PATH, not both or neither")
        data = dict(spec) if spec is not None else load_app_file(file, self._client.settings.max_payload_bytes)  # type: ignore[arg-type]
        if message is not None:
            data["message"] = message
        return App(self._t.create_app(self._client.project_of(project), name, data), self)

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> App:
        """One version: ``get("support-bot@production")`` or ``get("support-bot", label="production")``."""
        ref = make_ref(KIND, name, label=label, version=version)
        return App(self._t.get_version(self._client.project_of(project), ref.text), self)

    def invoke(
        self,
        ref: str,
        input: Input,
        *,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        project: str | None = None,
        **params: Any,
    ) -> AppRunRecord:
        """Call the version ``ref`` names now (a label is resolved at the call)."""
        request = _request(input, variables, metadata, params)
        return self._t.invoke_app(self._client.project_of(project), make_ref(KIND, ref).text, request)

    def stream(
        self,
        ref: str,
        input: Input,
        *,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        project: str | None = None,
        **params: Any,
    ) -> AppStream:
        """Stream the version ``ref`` names now; fails at once if the app cannot start."""
        request = _request(input, variables, metadata, params)
        return self._t.stream_app(self._client.project_of(project), make_ref(KIND, ref).text, request)

    def list(
        self, *, tag: str | None = None, label: str | None = None, project: str | None = None
    ) -> builtins.list[AssetRecord]:
        """Every app asset (name, latest version, labels, tags)."""
        return self._client.assets.list(kind=KIND, tag=tag, label=label, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._client.project_of(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` (moving ``production`` needs an admin)."""
        return self._t.set_label(self._client.project_of(project), make_ref(KIND, name).asset, label, version)


def _request(
    input: Input, variables: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None, params: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {"input": input} if isinstance(input, str) else {"messages": [dict(m) for m in input]}
    if variables:
        out["variables"] = dict(variables)
    if metadata:
        out["metadata"] = dict(metadata)
    if params:
        out["params"] = params
    return out


def load_app_file(path: str | Path, limit: int) -> dict[str, Any]:
    """An app file (YAML or JSON, at most ``limit`` bytes) as a mapping; errors name the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidError(f"app file {p} does not exist")
    with p.open("rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLargeError(f"app file {p} is too large: the limit is {limit} bytes (RIPPLE_MAX_PAYLOAD_BYTES)")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidError(f"app file {p} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidError(f"app file {p} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise InvalidError(f"app file {p} must hold a mapping with `steps:`, not {type(data).__name__}")
    return data
