"""Models (``model/*`` assets): create versions from specs, and generate or stream text with
a version, each call returning its token usage and cost.

A call's decoding parameters are the version's defaults, overridden by each layer given
(a prompt's ``params``, then the call's own). The provider behind a version is built once
per process (:mod:`rippleops.services.model_providers`); an API key is read from its Ripple
secret at every call, so a rotated key applies at once. Errors name the model version and
the way out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rippleops.domain.access import Action, Principal
from rippleops.domain.generation import GenerationStream, as_messages, cost, primed, token_bound
from rippleops.domain.models import EXTRA_NEUTRAL, LOCAL, ModelSpec, check_params, parse_model_spec, split_params
from rippleops.domain.records import GenerationRecord, VersionRecord
from rippleops.errors import InvalidError, NotFoundError, RippleError, UnavailableError
from rippleops.runtime.providers.llm import LLM, Generation
from rippleops.services.access import AccessService
from rippleops.services.assets import AssetService
from rippleops.services.model_providers import SHARED_POOL, ProviderPool
from rippleops.services.secrets import SecretService
from rippleops.store.db import Database

KIND = "model"
# llama.cpp's own words when the prompt alone is longer than the context
_CONTEXT_ERROR = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")

ParamLayers = Sequence[tuple[str, Mapping[str, Any] | None]]
Input = str | Sequence[Mapping[str, Any]]  # a text (one user turn) or chat messages


@dataclass(frozen=True)
class ModelCall:
    """One call, ready to run: the exact version, its provider, the messages and the
    effective parameters."""

    record: VersionRecord
    provider: LLM
    messages: list[dict[str, str]]
    params: dict[str, Any]  # what is in effect: sampling plus the extras that were set
    sampling: dict[str, Any]  # the runtime's keyword arguments

    @property
    def content(self) -> dict[str, Any]:
        return self.record.content


class ModelService:
    def __init__(
        self,
        db: Database,
        access: AccessService,
        assets: AssetService,
        secrets: SecretService,
        pool: ProviderPool = SHARED_POOL,
        *,
        threads: int | None = None,
    ) -> None:
        self.db = db
        self.access = access
        self.assets = assets
        self.secrets = secrets
        self.pool = pool
        self.threads = threads  # of a local model (RIPPLE_LLM_THREADS); None: the runtime's default

    # -- versions ------------------------------------------------------------------------------

    def create(
        self, principal: Principal, project: str, name: str, spec: Mapping[str, Any] | ModelSpec
    ) -> VersionRecord:
        """Register ``spec`` as the next version of ``model/name`` (a no-op for known content).

        A local model is loaded once here, to record the sha256 of its weights."""
        parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec, f"model/{name}")
        with self.db.reading() as s:  # refuse early: loading weights for a caller who may not write is waste
            self.access.authorize(s, principal, project, Action.WRITE)
        if parsed.provider == LOCAL:
            try:
                provider = self.pool.local(parsed.file, parsed.fields.get("context_window"), self.threads)
            except InvalidError as exc:
                raise InvalidError(f"model/{name}: {exc.message}", details=exc.details) from exc
            content = parsed.local_content(provider.describe())
        else:
            content = parsed.openai_content()
        record = self.assets.register(principal, project, KIND, name, content, message=parsed.message, tags=parsed.tags)
        if parsed.description is not None:
            desc = self.assets.update(principal, project, f"{KIND}/{name}", description=parsed.description).description
            record = record.model_copy(update={"description": desc})
        return record

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.assets.get(principal, project, ref, KIND)

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.assets.versions(principal, project, name, KIND)

    # -- calls ---------------------------------------------------------------------------------

    def generate(
        self, principal: Principal, project: str, ref: str, messages: Input, /, **params: Any
    ) -> GenerationRecord:
        """The model's reply to ``messages`` (a text is one user turn), with usage and cost."""
        return self.generate_with(principal, project, ref, messages, params)

    def stream(
        self, principal: Principal, project: str, ref: str, messages: Input, /, **params: Any
    ) -> GenerationStream:
        """Like :meth:`generate`, as text deltas; the record is on the stream once it ends.
        A call that cannot start fails here, before the first delta."""
        return self.stream_with(principal, project, ref, messages, params)

    def generate_with(
        self, principal: Principal, project: str, ref: str, messages: Input, params: Mapping[str, Any]
    ) -> GenerationRecord:
        """:meth:`generate` with the parameters as a mapping (as the interfaces receive them)."""
        return self.complete(self.prepare(principal, project, ref, as_messages(messages), [("call", params)]))

    def stream_with(
        self, principal: Principal, project: str, ref: str, messages: Input, params: Mapping[str, Any]
    ) -> GenerationStream:
        return self.start_stream(self.prepare(principal, project, ref, as_messages(messages), [("call", params)]))

    def prepare(
        self, principal: Principal, project: str, ref: str, messages: list[dict[str, str]], layers: ParamLayers
    ) -> ModelCall:
        """Resolve ``ref``, merge the parameters (the version's defaults < each layer in
        order), get the provider and check that prompt and completion fit the context."""
        return self.prepare_version(principal, project, self.get(principal, project, ref), messages, layers)

    def prepare_version(
        self,
        principal: Principal,
        project: str,
        record: VersionRecord,
        messages: list[dict[str, str]],
        layers: ParamLayers,
    ) -> ModelCall:
        """:meth:`prepare` for a version already fetched (an app holds its pinned versions)."""
        content = record.content
        merged = dict(content["params"])
        for source, layer in layers:
            merged.update(check_params(layer, source))
        sampling, extras = split_params(merged)
        if content["provider"] == LOCAL:
            set_extras = sorted(k for k, v in extras.items() if v != EXTRA_NEUTRAL[k])
            if set_extras:
                raise InvalidError(
                    f"{record.ref} runs on the local provider, which decodes without repetition, presence "
                    f"or frequency penalties; leave {', '.join(set_extras)} out"
                )
            extras = {}
        api_key = self._api_key(principal, project, record)
        with self._errors(record):
            provider = self.pool.for_content(content, api_key, extras, self.threads)
            self._check_weights(record, provider)
        call = ModelCall(record, provider, messages, {**sampling, **extras}, sampling)
        self._check_context(call)
        return call

    def complete(self, call: ModelCall, prompt: str | None = None) -> GenerationRecord:
        with self._errors(call.record):
            generation = call.provider.generate(call.messages, **call.sampling)
        return self._record(call, generation, prompt, None)

    def start_stream(self, call: ModelCall, prompt: str | None = None) -> GenerationStream:
        with self._errors(call.record):
            result = call.provider.stream(call.messages, **call.sampling)
            deltas = primed(self._guarded(call.record, result))

        def finish(text: str) -> GenerationRecord:
            return self._record(call, result.generation, prompt, result.time_to_first_token_s)

        return GenerationStream(deltas, finish)

    # -- the rules -------------------------------------------------------------------------------

    def _api_key(self, principal: Principal, project: str, record: VersionRecord) -> str | None:
        name = record.content.get("api_key_secret")
        if not name:
            return None
        try:
            return self.secrets.reveal(principal, project, name)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{record.ref} takes its API key from the secret {name!r}, which does not exist in project "
                f"{project!r}; set it with `ripple secret set {name}`",
                details={"model": record.ref, "secret": name},
            ) from exc

    @staticmethod
    def _check_weights(record: VersionRecord, provider: LLM) -> None:
        want = record.content.get("weights_sha256")
        got = getattr(provider, "weights_sha256", None)
        if want and got != want:
            raise InvalidError(
                f"the weights on disk are not the ones {record.ref} was registered with (sha256 {got}, "
                f"recorded {want}); reinstall them, or register a new version for these weights"
            )

    def _check_context(self, call: ModelCall) -> None:
        window = call.content.get("context_window")
        if window is None:
            return  # the server decides
        max_tokens = call.sampling["max_tokens"]
        ref = call.record.ref
        if max_tokens >= window:
            raise InvalidError(
                f"{ref}: max_tokens {max_tokens} leaves no room for the prompt in the context window of "
                f"{window} tokens; lower max_tokens"
            )
        if token_bound(call.messages) + max_tokens <= window:
            return
        # It may not fit: count exactly with a one-token call. llama.cpp keeps the evaluated
        # prompt, so the real call that follows does not evaluate it again.
        with self._errors(call.record):
            probe = call.provider.generate(call.messages, max_tokens=1, temperature=0.0)
        if probe.prompt_tokens and probe.prompt_tokens + max_tokens > window:
            raise InvalidError(
                f"{ref}: the prompt is {probe.prompt_tokens} tokens and max_tokens is {max_tokens}, "
                f"{probe.prompt_tokens + max_tokens} in all, more than the context window of {window} tokens; "
                f"lower max_tokens to at most {window - probe.prompt_tokens} or shorten the prompt",
                details={"model": ref, "prompt_tokens": probe.prompt_tokens, "context_window": window},
            )

    def _guarded(self, record: VersionRecord, deltas: Iterator[str]) -> Iterator[str]:
        with self._errors(record):
            yield from deltas

    @contextmanager
    def _errors(self, record: VersionRecord) -> Iterator[None]:
        """Provider errors, retold with the model version and the way out."""
        try:
            yield
        except ValueError as exc:  # llama-cpp-python's way of saying the prompt is too long
            m = _CONTEXT_ERROR.search(str(exc))
            if m is None:
                raise
            raise InvalidError(
                f"{record.ref}: the prompt is {m[1]} tokens, which does not fit in the context window of "
                f"{m[2]} tokens; shorten the prompt, or register a version with a larger context_window",
                details={"model": record.ref, "prompt_tokens": int(m[1]), "context_window": int(m[2])},
            ) from exc
        except RippleError as exc:
            if exc.details.get("model") == record.ref:
                raise  # told already
            message = f"{record.ref}: {exc.message}{_hint(exc, record)}"
            raise type(exc)(message, details={**exc.details, "model": record.ref}) from exc

    def _record(
        self, call: ModelCall, generation: Generation, prompt: str | None, ttft: float | None
    ) -> GenerationRecord:
        usage = {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens,
        }
        reported = call.content["provider"] == LOCAL or bool(usage["total_tokens"])
        return GenerationRecord.model_validate(
            {
                "text": generation.text,
                "finish_reason": generation.finish_reason,
                "model": call.record.ref,
                "prompt": prompt,
                "params": call.params,
                "usage": {**usage, "reported": reported},
                "cost": cost(usage, call.content["prices"]),
                "latency_s": generation.latency_s,
                "time_to_first_token_s": ttft,
            }
        )


def _hint(exc: RippleError, record: VersionRecord) -> str:
    c = record.content
    if c["provider"] == LOCAL:
        return ""
    secret = c.get("api_key_secret")
    if isinstance(exc, UnavailableError):
        if "Timeout" in exc.message:
            return (
                f"; it did not answer within the model's timeout of {c['timeout']:g} s: register a version with a "
                "larger `timeout:` (or more `retries:`), or try again later"
            )
        return (
            f"; is the server at {c['base_url']} running? Try again later, or register a version of "
            f"model/{record.name} with another base_url"
        )
    if exc.details.get("status") in (401, 403):
        if secret:
            return f"; the key comes from the secret {secret!r}: update it with `ripple secret set {secret}`"
        return "; the model has no api_key_secret: register a version with `api_key_secret: NAME`"
    if "malformed" in exc.message or "not JSON" in exc.message:
        return f"; check that base_url ({c['base_url']}) is an OpenAI-compatible /v1 endpoint"
    return ""
