"""One app call: the steps of a pinned app version run in order, each as a span of the
call's trace, ending in an :class:`~rippleops.domain.records.AppRunRecord` (invoke) or an
:class:`AppStream` of text deltas (stream).

Every step before the answer (input guard, retrieval, tools, rendering) runs when the call
is made, so a stream that cannot start fails before its first delta. The answering step
generates (streamed, through the output guard's :meth:`Guard.stream` when there is one) or
runs the agent loop (:mod:`rippleops.services.app_agent`). Spans are started with the call's
root as their explicit parent, so a stream's spans nest right however its deltas are pulled.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from rippleops.domain import templating
from rippleops.domain.app_requests import AppRequest, AppStream
from rippleops.domain.apps import (
    AGENT,
    GUARD_INPUT,
    GUARD_OUTPUT,
    RENDER,
    RETRIEVE,
    TOOL,
    Step,
)
from rippleops.domain.generation import GenerationStream, as_messages
from rippleops.domain.guards import GuardContext, GuardResult
from rippleops.domain.models import LOCAL
from rippleops.domain.records import AppRunRecord, GenerationRecord, PromptRecord
from rippleops.domain.synth import grammar_schema
from rippleops.errors import InvalidError, RippleError
from rippleops.runtime import tracing as tr
from rippleops.runtime.tracing import Tracing, record_error, set_attributes
from rippleops.services.app_agent import AgentIO, agent_schema, run_agent, system_turn
from rippleops.services.app_spans import CANCELLED, CallSpans, CompiledApp, Totals
from rippleops.services.app_tools import Tool, result_text
from rippleops.services.prompts import render_record

if TYPE_CHECKING:
    from rippleops.domain.access import Principal
    from rippleops.services import Services
    from rippleops.services.models import ModelCall


@dataclass
class _Answer:
    """What the answering step is to generate from."""

    messages: list[dict[str, str]]
    layers: list[tuple[str, dict[str, Any] | None]]
    prompt: PromptRecord | None


class AppCall(CallSpans):
    """One call of one compiled app version."""

    def __init__(
        self,
        services: Services,
        principal: Principal,
        project: str,
        app: CompiledApp,
        request: AppRequest,
        tracing: Tracing,
    ) -> None:
        self.services, self.principal, self.project = services, principal, project
        self.app, self.request, self.tracing = app, request, tracing
        self.question = request.question
        self.values: dict[str, Any] = {"question": request.question, "history": request.history, "chunks": [],
                                       "sources": []}  # fmt: skip
        self.totals = Totals()
        self.started = time.perf_counter()
        self.root: Span | None = None
        self._record: AppRunRecord | None = None

    # -- the two ways in -------------------------------------------------------------------------

    def invoke(self) -> AppRunRecord:
        root = self._start_root()
        try:
            blocked = self._prelude()
            if blocked is not None:
                return self._finish(blocked.text, "blocked", blocked=True)
            answer = self._answer_input()
            step = self.app.spec.answer_step
            if step.kind == AGENT:
                text, reason = self._agent(step)
            else:
                text, reason = self._generate(step, answer)
            guard_step = self._guard_output_step()
            if guard_step is None:
                return self._finish(text, reason)
            result = self._guard_output(guard_step, text, answer, step)
            return self._finish(result.text, "blocked" if result.blocked else reason, blocked=result.blocked)
        except BaseException as exc:
            record_error(root, exc)
            root.end()
            raise

    def stream(self) -> AppStream:
        root = self._start_root()
        try:
            blocked = self._prelude()
            if blocked is not None:
                self._finish(blocked.text, "blocked", blocked=True)
                return AppStream(iter([blocked.text]), lambda: self._record, self._trace_id())
            step = self.app.spec.answer_step
            if step.kind == AGENT:
                text, reason = self._agent(step)
                deltas: Iterator[str] = iter([text])
                llm_span, gen = None, None
            else:
                call = self._model_call(step, self._answer_input())
                llm_span = self._llm_span(call)
                try:
                    gen = self.services.models.start_stream(call, prompt=self._prompt_ref())
                except BaseException as exc:
                    self._end_llm_span(llm_span, None, exc)
                    raise
                deltas, reason = gen, "stop"
        except BaseException as exc:
            record_error(root, exc)
            root.end()
            raise
        return AppStream(
            self._stream_deltas(deltas, reason, llm_span, gen), lambda: self._record, self._trace_id(),
            on_close_unstarted=lambda: self._end_stream("cancelled", None, [], reason, llm_span, gen, None, None, None),
        )  # fmt: skip

    def _trace_id(self) -> str | None:
        return None if self.root is None else format(self.root.get_span_context().trace_id, "032x")

    # -- steps before the answer -----------------------------------------------------------------

    def _prelude(self) -> GuardResult | None:
        """Run every step before the answering one; an input guard's block is returned."""
        for step in self.app.spec.steps:
            if step.kind == GUARD_INPUT:
                result = self._guard(step, "input", self.question, GuardContext(query=self.question))
                if result.blocked:
                    return result
                self.question = self.values["question"] = result.text
            elif step.kind == RETRIEVE:
                self._retrieve(step)
            elif step.kind == TOOL:
                self._tool_step(step)
            elif step.kind == RENDER:
                pass  # rendered with the answer's input (it needs every value gathered so far)
            else:
                break
        return None

    def _retrieve(self, step: Step) -> None:
        f = step.fields
        index = self.app.exact(f["index"])
        attrs = {tr.INDEX_REF: index, tr.INPUT_VALUE: self.question, "ripple.retrieval.k": f["k"],
                 "ripple.retrieval.mode": f["mode"]}  # fmt: skip
        with self._step(step.name, tr.RETRIEVER, attrs) as span:
            found = self.services.search.search(
                self.principal,
                self.project,
                index,
                self.question,
                k=f["k"],
                mode=f["mode"],
                filters=f["filters"] or None,
            )
            limit = f.get("max_chars")
            docs = []
            for h in found.hits:
                text = h.text if limit is None else h.text[:limit]
                self.values["chunks"].append(text)
                source = {"index": found.index, "doc_id": h.doc_id, "id": h.id, "score": h.score, "start": h.start,
                          "end": h.end}  # fmt: skip
                self.totals.sources.append({**source, "text": text})
                self.values["sources"].append({**source, "text": text, "heading": h.heading})
                docs.append({"document.id": h.id, "document.content": text, "document.score": h.score,
                             "document.metadata": {"doc_id": h.doc_id, "start": h.start, "end": h.end}})  # fmt: skip
            set_attributes(span, {tr.RETRIEVAL_DOCUMENTS: docs, "ripple.retrieval.took_ms": found.took_ms})

    def _tool_step(self, step: Step) -> None:
        f = step.fields
        tool = self.app.tools[f["name"]]
        args = {k: self._arg(step, k, v) for k, v in f["args"].items()}
        with self._step(step.name, tr.TOOL, {tr.TOOL_NAME: tool.name, tr.INPUT_VALUE: args}) as span:
            result = tool.call(args)
            set_attributes(span, {tr.OUTPUT_VALUE: result_text(result)})
        self.values[f["as"]] = result

    def _arg(self, step: Step, name: str, value: Any) -> Any:
        names = self.app.arg_vars.get((step.index, name))
        if names is None:
            return value
        values = {k: v for k, v in self.values.items() if k in names}
        values.update((k, v) for k, v in self.request.variables.items() if k in names)
        try:
            return templating.render("text", template=value, values=values)
        except InvalidError as exc:
            raise InvalidError(f"{step.where}: args.{name}: {exc.message}") from None

    def _answer_input(self) -> _Answer:
        """The messages the answer is generated from: the rendered prompt, or the chat."""
        render = next((s for s in self.app.spec.steps if s.kind == RENDER), None)
        if render is None:
            return _Answer([*self.request.history, {"role": "user", "content": self.question}], [], None)
        ref = self.app.exact(render.fields["prompt"])
        prompt = self.app.prompts[ref]
        values = self._prompt_values(ref, render)
        attrs = {tr.PROMPT_REF: ref, tr.INPUT_VALUE: values}
        with self._step(render.name, tr.PROMPT, attrs) as span:
            messages = as_messages(render_record(prompt, values))
            set_attributes(span, {tr.OUTPUT_VALUE: messages})
        return _Answer(messages, [(f"{prompt.ref} params", prompt.params)], prompt)

    def _prompt_values(self, ref: str, step: Step) -> dict[str, Any]:
        """The values a prompt takes: the app's own (question, chunks, tool results ...) that
        it names, plus every request variable (one it does not take is an error)."""
        takes = self.app.prompt_vars[ref]
        extra = sorted(set(self.request.variables) - takes)
        if extra:
            raise InvalidError(
                f"{step.where}: {ref} takes no variable {', '.join(extra)}; it takes: {', '.join(sorted(takes)) or 'none'}"
            )
        out = {k: v for k, v in self.values.items() if k in takes}
        out.update(self.request.variables)
        return out

    def _prompt_ref(self) -> str | None:
        render = next((s for s in self.app.spec.steps if s.kind == RENDER), None)
        return None if render is None else self.app.exact(render.fields["prompt"])

    # -- the answer -----------------------------------------------------------------------------

    def _model_call(self, step: Step, answer: _Answer) -> ModelCall:
        model = self.app.models[self.app.answer_model]
        layers = [*answer.layers, (f"{step.where} params", step.fields["params"]), ("request", self.request.params)]
        call = self.services.models.prepare_version(self.principal, self.project, model, answer.messages, layers)
        if answer.prompt is not None and answer.prompt.output_schema and model.content["provider"] == LOCAL:
            call = _constrained(call, answer.prompt.output_schema)
        return call

    def _generate(self, step: Step, answer: _Answer, *, attempt: int = 0) -> tuple[str, str]:
        call = self._model_call(step, answer)
        span = self._llm_span(call, attempt=attempt)
        try:
            out = self.services.models.complete(call, prompt=self._prompt_ref())
        except BaseException as exc:
            self._end_llm_span(span, None, exc)
            raise
        self._end_llm_span(span, out, None)
        return out.text, out.finish_reason

    def _agent(self, step: Step) -> tuple[str, str]:
        f = step.fields
        tools = {name: self.app.tools[name] for name in f["tools"]}
        with self._step(
            step.name, tr.AGENT, {tr.INPUT_VALUE: self.question, "ripple.agent.max_steps": f["max_steps"]}
        ) as span:
            model = self.app.models[self.app.answer_model]
            prompt = None
            if f.get("prompt"):
                ref = self.app.exact(f["prompt"])
                prompt = self.app.prompts[ref]
                self.values["tools"] = [{"name": t.name, "description": t.spec.description} for t in tools.values()]
                messages = as_messages(render_record(prompt, self._prompt_values(ref, step)))
            else:
                messages = [system_turn(list(tools.values())), *self.request.history,
                            {"role": "user", "content": self.question}]  # fmt: skip
            layers = [*([(f"{prompt.ref} params", prompt.params)] if prompt else []),
                      (f"{step.where} params", f["params"]), ("request", self.request.params)]  # fmt: skip
            schema = grammar_schema(agent_schema(list(tools))) if model.content["provider"] == LOCAL else None

            def generate(msgs: list[dict[str, str]], n: int) -> GenerationRecord:
                call = self.services.models.prepare_version(self.principal, self.project, model, msgs, layers)
                if schema is not None:
                    call = dataclasses.replace(call, sampling={**call.sampling, "json_schema": schema},
                                               params={**call.params, "constrained": True})  # fmt: skip
                llm = self._llm_span(call, parent=span)
                llm.set_attribute("ripple.agent.step", n)
                try:
                    out = self.services.models.complete(call)
                except BaseException as exc:
                    self._end_llm_span(llm, None, exc, step=False)
                    raise
                self._end_llm_span(llm, out, None, step=False)
                return out

            def call_tool(tool: Tool, args: dict[str, Any]) -> tuple[Any, str | None]:
                attrs = {tr.TOOL_NAME: tool.name, tr.INPUT_VALUE: args}
                tool_span = self.tracing.start_span(f"tool:{tool.name}", kind=tr.TOOL, attributes=attrs, parent=span)
                try:
                    result = tool.call(args)
                    set_attributes(tool_span, {tr.OUTPUT_VALUE: result_text(result)})
                    return result, None
                except RippleError as exc:  # the agent is told and goes on; the span records the error
                    record_error(tool_span, exc)
                    return None, exc.message
                finally:
                    tool_span.end()

            text, reason, rounds = run_agent(AgentIO(messages, tools, f["max_steps"], generate, call_tool))
            set_attributes(span, {tr.OUTPUT_VALUE: text, "ripple.agent.steps": rounds,
                                  "ripple.agent.stopped": "answer" if reason == "stop" else "max_steps"})  # fmt: skip
        return text, reason

    # -- guards -----------------------------------------------------------------------------------

    def _guard_output_step(self) -> Step | None:
        last = self.app.spec.steps[-1]
        return last if last.kind == GUARD_OUTPUT else None

    def _output_context(self, answer: _Answer | None) -> GuardContext:
        schema = answer.prompt.output_schema if answer is not None and answer.prompt is not None else None
        return GuardContext(query=self.question, contexts=tuple(self.values["chunks"]), output_schema=schema)

    def _guard_output(self, guard_step: Step, text: str, answer: _Answer, step: Step) -> GuardResult:
        ctx = self._output_context(answer)
        result = self._guard(guard_step, "output", text, ctx)
        guard = self.app.guards[self.app.exact(guard_step.fields["policy"])]
        attempt = 0
        while result.decision == "reask" and result.reask and attempt < guard.max_reasks and step.kind != AGENT:
            attempt += 1
            answer.messages = [*answer.messages, {"role": "assistant", "content": text},
                               {"role": "user", "content": result.reask}]  # fmt: skip
            text, _ = self._generate(step, answer, attempt=attempt)
            result = self._guard(guard_step, "output", text, ctx, attempt=attempt)
        return result

    def _guard(self, step: Step, stage: str, text: str, ctx: GuardContext, *, attempt: int = 0) -> GuardResult:
        policy = self.app.exact(step.fields["policy"])
        guard = self.app.guards[policy]
        attrs = {tr.POLICY_REF: policy, tr.GUARD_STAGE: stage, tr.INPUT_VALUE: text, "ripple.reask": attempt or None}
        with self._step(step.name, tr.GUARDRAIL, attrs) as span:
            result = guard.check_input(text, ctx) if stage == "input" else guard.check_output(text, ctx)
            self._guard_done(span, result)
        return result

    # -- streaming ----------------------------------------------------------------------------------

    def _stream_deltas(
        self, deltas: Iterator[str], reason: str, llm_span: Span | None, gen: GenerationStream | None
    ) -> Iterator[str]:
        guard_step = self._guard_output_step()
        guard_span: Span | None = None
        guarded: Any = None
        source: Iterator[str] = deltas
        if guard_step is not None:
            policy = self.app.exact(guard_step.fields["policy"])
            guard = self.app.guards[policy]
            guard_span = self.tracing.start_span(
                guard_step.name, kind=tr.GUARDRAIL, attributes={tr.POLICY_REF: policy, tr.GUARD_STAGE: "output",
                                                                "ripple.guard.streamed": True},
                parent=self.root,
            )  # fmt: skip
            guarded = guard.stream(deltas, self._output_context(self._stream_answer()))
            source = guarded
        parts: list[str] = []
        state = "running"
        error: BaseException | None = None
        try:
            for delta in source:
                parts.append(delta)
                yield delta
            state = "done"
        except GeneratorExit:
            state = "cancelled"
            raise
        except BaseException as exc:
            state, error = "failed", exc
            raise
        finally:
            self._end_stream(state, error, parts, reason, llm_span, gen, guard_span, guarded, guard_step)

    def _stream_answer(self) -> _Answer | None:
        render = next((s for s in self.app.spec.steps if s.kind == RENDER), None)
        if render is None:
            return None
        prompt = self.app.prompts[self.app.exact(render.fields["prompt"])]
        return _Answer([], [], prompt)

    def _end_stream(
        self, state: str, error: BaseException | None, parts: list[str], reason: str, llm_span: Span | None,
        gen: GenerationStream | None, guard_span: Span | None, guarded: Any, guard_step: Step | None,
    ) -> None:  # fmt: skip
        root = self.root
        assert root is not None
        for closer in (guarded, gen):
            close = getattr(closer, "close", None)
            if close is not None:
                close()
        out = None
        if gen is not None:
            try:
                out = gen.record
            except InvalidError:
                out = None  # stopped early (a guard's block, a close): no usage from the provider
        cancelled = state == "cancelled"
        if llm_span is not None:
            model_failed = error if state == "failed" and out is None else None
            self._end_llm_span(llm_span, out, model_failed, cancelled=cancelled and out is None)
            reason = out.finish_reason if out is not None else reason
        result: GuardResult | None = None
        if guard_span is not None:
            result = getattr(guarded, "result", None) if state == "done" else None
            if result is not None:
                self._guard_done(guard_span, result)
            if cancelled:
                guard_span.set_status(Status(StatusCode.ERROR, CANCELLED))
            elif error is not None:
                record_error(guard_span, error)
            guard_span.end()
            self._step_done(guard_step.name if guard_step else "guard_output", tr.GUARDRAIL, guard_span)
        if state == "done":
            blocked = bool(result and result.blocked)
            self._finish("".join(parts), "blocked" if blocked else reason, blocked=blocked)
            return
        if cancelled:
            root.set_attribute("ripple.cancelled", True)
            root.set_status(Status(StatusCode.ERROR, CANCELLED))
        elif error is not None:
            record_error(root, error)
        set_attributes(root, {tr.OUTPUT_VALUE: "".join(parts)})
        root.end()


def _constrained(call: ModelCall, schema: dict[str, Any]) -> ModelCall:
    return dataclasses.replace(
        call,
        sampling={**call.sampling, "json_schema": grammar_schema(schema)},
        params={**call.params, "constrained": True},
    )
