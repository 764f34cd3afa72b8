"""``rp.prompts``: create, fetch (cached), render, diff and label prompts.

The cache keeps each fetched prompt for ``cache_ttl`` seconds. After that the stale copy
is still returned at once while a background thread revalidates it with the server (ETag,
so an unchanged prompt costs a 304). When the server cannot be reached, the last good
version keeps being served, with a warning; when nothing was ever fetched, a ``fallback``
template given by the caller is used instead.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain import templating
from rippleops.domain.generation import GenerationStream
from rippleops.domain.prompts import PromptSpec, parse_spec_bytes
from rippleops.domain.records import GenerationRecord, LabelEventRecord, LabelRecord, PromptRecord, VersionRecord
from rippleops.domain.refs import make_ref
from rippleops.errors import InvalidError, UnavailableError
from rippleops.sdk.transport import NotModified, Transport, prompt_etag

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

log = logging.getLogger(__name__)
KIND = "prompt"


class Prompt:
    """One prompt version, ready to render.

    >>> p = rp.prompts.get("answer", label="production")   # doctest: +SKIP
    >>> p.render(question="What is Ripple?")                # doctest: +SKIP
    'Answer briefly: What is Ripple?'
    """

    __slots__ = ("_prompts", "is_fallback", "record")

    def __init__(self, record: PromptRecord, *, is_fallback: bool = False, prompts: Prompts | None = None) -> None:
        self.record = record
        self.is_fallback = is_fallback
        self._prompts = prompts  # the collection it came from, to run it

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)

    def __repr__(self) -> str:
        return f"<Prompt {self.record.ref}{' (fallback)' if self.is_fallback else ''} labels={self.record.labels}>"

    def render(self, **values: Any) -> str | list[dict[str, str]]:
        """Fill in the variables: a text prompt gives a string, a chat prompt a message list."""
        return templating.render(
            self.record.type,
            template=self.record.template,
            messages=self.record.messages,
            variables=self.record.variables or None,
            values=values,
            includes=self.record.includes,
        )

    def run(self, *, model: str | None = None, params: dict[str, Any] | None = None, **values: Any) -> GenerationRecord:
        """Render this exact version with ``values`` and generate with the model it names
        (or ``model``); ``params`` override the prompt's. The record names the prompt and
        model versions used, the usage and the cost. (Variables named ``model`` or ``params``
        go through ``rp.prompts.run(name, {...})``, which takes them as a dict.)

        >>> rp.prompts.get("answer@production").run(question="What is Ripple?").text   # doctest: +SKIP
        >>> rp.prompts.get("answer").run(question="Hi", params={"max_tokens": 16})       # doctest: +SKIP
        """
        return self._runner().run(self.record.ref, values, model=model, project=self.record.project, **(params or {}))

    def stream(
        self, *, model: str | None = None, params: dict[str, Any] | None = None, **values: Any
    ) -> GenerationStream:
        """Like :meth:`run`, as text deltas; ``.record`` holds the result once they end."""
        runner = self._runner()
        return runner.run_stream(self.record.ref, values, model=model, project=self.record.project, **(params or {}))

    def _runner(self) -> Prompts:
        if self.is_fallback or self._prompts is None:
            raise InvalidError(f"{self.record.ref} is a fallback template, not a stored version; it cannot be run")
        return self._prompts

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


@dataclass(slots=True)
class _Entry:
    record: PromptRecord
    etag: str
    fetched_at: float
    refreshing: bool = False
    warned: bool = False


class Prompts:
    """Prompt assets. Names may be ``answer``, ``answer@production``, ``answer:2`` or ``prompt/answer``."""

    def __init__(self, client: Client, cache_ttl: float) -> None:
        self._client = client
        self.cache_ttl = cache_ttl
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def create(
        self,
        name: str,
        *,
        template: str | None = None,
        messages: builtins.list[dict[str, Any]] | None = None,
        variables: Any = None,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
        message: str = "",
        description: str | None = None,
        project: str | None = None,
    ) -> Prompt:
        """Register a new version of ``prompt/name`` (identical content returns the existing one).

        >>> rp.prompts.create("answer", template="Answer: {{ question }}", message="first")  # doctest: +SKIP
        <Prompt prompt/answer:1 labels=['latest']>
        """
        spec: dict[str, Any] = {"message": message}
        for key, value in (
            ("template", template),
            ("messages", messages),
            ("variables", variables),
            ("model", model),
            ("params", params),
            ("output_schema", output_schema),
            ("tags", tags),
            ("description", description),
        ):
            if value is not None:
                spec[key] = value
        return Prompt(self._t.create_prompt(self._client.project_of(project), name, spec), prompts=self)

    def create_from_file(
        self, name: str, path: str | Path, *, message: str | None = None, project: str | None = None
    ) -> Prompt:
        """Register a version from a YAML (or JSON) prompt file."""
        spec = load_spec_file(path, self._client.settings.max_payload_bytes)
        data = spec.model_dump(exclude_none=True)
        if message is not None:
            data["message"] = message
        return Prompt(self._t.create_prompt(self._client.project_of(project), name, data), prompts=self)

    def get(
        self,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        cache_ttl: float | None = None,
        fallback: str | list[dict[str, Any]] | None = None,
        project: str | None = None,
    ) -> Prompt:
        """Fetch a prompt version, through the cache.

        >>> rp.prompts.get("answer", label="production")  # doctest: +SKIP
        >>> rp.prompts.get("answer@production", fallback="Answer: {{ question }}")  # doctest: +SKIP
        """
        ref = make_ref(KIND, name, label=label, version=version).text
        key = (self._client.project_of(project), ref)
        ttl = self.cache_ttl if cache_ttl is None else cache_ttl
        entry = self._cache.get(key)
        if entry is not None:
            if ttl > 0 and time.monotonic() - entry.fetched_at < ttl:
                return Prompt(entry.record, prompts=self)
            if ttl > 0:  # stale: serve it now, revalidate in the background
                self._refresh_in_background(key, entry)
                return Prompt(entry.record, prompts=self)
        try:
            return Prompt(self._fetch(key, entry), prompts=self)
        except UnavailableError as exc:
            if entry is not None:
                self._warn_stale(key, entry, exc)
                return Prompt(entry.record, prompts=self)
            if fallback is not None:
                warnings.warn(f"{ref}: {exc.message}; using the fallback template", RuntimeWarning, stacklevel=2)
                return Prompt(_fallback_record(ref, fallback), is_fallback=True)
            raise

    def _fetch(self, key: tuple[str, str], entry: _Entry | None) -> PromptRecord:
        result = self._t.get_prompt(key[0], key[1], etag=entry.etag if entry else None)
        if isinstance(result, NotModified):
            assert entry is not None
            entry.fetched_at = time.monotonic()
            entry.warned = False
            return entry.record
        with self._lock:
            self._cache[key] = _Entry(result, prompt_etag(result), time.monotonic())
        return result

    def _refresh_in_background(self, key: tuple[str, str], entry: _Entry) -> None:
        with self._lock:
            if entry.refreshing:
                return
            entry.refreshing = True

        def run() -> None:
            try:
                self._fetch(key, entry)
            except UnavailableError as exc:
                self._warn_stale(key, entry, exc)
            except Exception:
                log.exception("refreshing %s failed; serving the cached version", key[1])
            finally:
                entry.refreshing = False

        threading.Thread(target=run, name=f"ripple-prompt-refresh-{key[1]}", daemon=True).start()

    def _warn_stale(self, key: tuple[str, str], entry: _Entry, exc: UnavailableError) -> None:
        if not entry.warned:
            entry.warned = True
            msg = f"{key[1]}: {exc.message}; serving the last good version {entry.record.ref}"
            log.warning(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def render(
        self,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        project: str | None = None,
        **values: Any,
    ) -> str | list[dict[str, str]]:
        """Fetch (cached) and render in one call."""
        return self.get(name, label=label, version=version, project=project).render(**values)

    def run(
        self,
        name: str,
        values: dict[str, Any] | None = None,
        *,
        model: str | None = None,
        label: str | None = None,
        version: int | None = None,
        project: str | None = None,
        **params: Any,
    ) -> GenerationRecord:
        """Render and run the version ``name`` resolves to now (no cache), with the model it
        names or ``model``; ``params`` (``max_tokens`` ...) override the prompt's.

        >>> rp.prompts.run("answer@production", {"question": "Hi"}, max_tokens=32).text   # doctest: +SKIP
        """
        ref = make_ref(KIND, name, label=label, version=version).text
        return self._t.run_prompt(self._client.project_of(project), ref, dict(values or {}), model, params)

    def run_stream(
        self,
        name: str,
        values: dict[str, Any] | None = None,
        *,
        model: str | None = None,
        label: str | None = None,
        version: int | None = None,
        project: str | None = None,
        **params: Any,
    ) -> GenerationStream:
        """:meth:`run` as text deltas; ``.record`` holds the result once they end."""
        ref = make_ref(KIND, name, label=label, version=version).text
        return self._t.stream_prompt_run(self._client.project_of(project), ref, dict(values or {}), model, params)

    def list(
        self, *, tag: str | None = None, label: str | None = None, project: str | None = None
    ) -> builtins.list[Any]:
        """Every prompt asset (name, latest version, labels, tags)."""
        return self._client.assets.list(kind=KIND, tag=tag, label=label, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._client.project_of(project), make_ref(KIND, name).asset)

    def history(
        self, name: str, *, label: str | None = None, project: str | None = None
    ) -> builtins.list[LabelEventRecord]:
        """Every label move of the prompt, oldest first."""
        return self._t.label_history(self._client.project_of(project), make_ref(KIND, name).asset, label)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` (moving ``production`` needs an admin)."""
        return self._t.set_label(self._client.project_of(project), make_ref(KIND, name).asset, label, version)

    def unlabel(self, name: str, label: str, *, project: str | None = None) -> LabelRecord:
        return self._t.remove_label(self._client.project_of(project), make_ref(KIND, name).asset, label)

    def diff(self, a: str, b: str, *, project: str | None = None) -> dict[str, Any]:
        """What changed from ``a`` to ``b`` (``answer:1``, ``answer@production`` ...)."""
        return self._t.diff_prompts(self._client.project_of(project), make_ref(KIND, a).text, make_ref(KIND, b).text)


def load_spec_file(path: str | Path, limit: int) -> PromptSpec:
    """Read and validate a prompt file of at most ``limit`` bytes; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise InvalidError(f"prompt file {p} does not exist")
    with p.open("rb") as f:
        data = f.read(limit + 1)
    return parse_spec_bytes(data, f"prompt file {p}", limit)


def _fallback_record(ref: str, fallback: str | list[dict[str, Any]]) -> PromptRecord:
    kind = "text" if isinstance(fallback, str) else "chat"
    name = ref.split("/", 1)[1].split("@")[0].split(":")[0]
    return PromptRecord(
        ref=ref,
        kind=KIND,
        name=name,
        version=0,
        hash="",
        labels=[],
        created_at=datetime.now(UTC),
        created_by="fallback",
        project="",
        type=kind,
        template=fallback if kind == "text" else None,
        messages=templating.normalize_messages(fallback) if kind == "chat" else None,
    )
