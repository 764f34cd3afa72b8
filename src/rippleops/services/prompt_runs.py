"""Prompt runs: render a prompt version, call the model it names (or the one given), and
return the generation with the exact prompt and model versions used.

Parameters merge as: the model version's defaults < the prompt's ``params`` < the call's.
A text prompt is sent as one user turn; a chat prompt as its rendered messages.

A prompt with an ``output_schema`` run on the local provider is decoded under a llama.cpp
grammar made from that schema, so the reply is JSON of that shape (the record's params then
say ``constrained: true``). OpenAI-compatible endpoints differ in what they accept for this
(``response_format``), so it is not sent to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rippleops.domain.access import Principal
from rippleops.domain.generation import GenerationStream, as_messages
from rippleops.domain.models import LOCAL
from rippleops.domain.records import GenerationRecord, PromptRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.synth import grammar_schema
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services.models import KIND as MODEL
from rippleops.services.models import ModelCall, ModelService
from rippleops.services.prompts import PromptService, render_record


class PromptRunService:
    def __init__(self, prompts: PromptService, models: ModelService) -> None:
        self.prompts = prompts
        self.models = models

    def run(
        self,
        principal: Principal,
        project: str,
        prompt_ref: str,
        values: Mapping[str, Any],
        /,
        model: str | None = None,
        **params: Any,
    ) -> GenerationRecord:
        """Render ``prompt_ref`` with ``values`` and generate with its model (or ``model``)."""
        return self.run_with(principal, project, prompt_ref, values, model, params)

    def stream(
        self,
        principal: Principal,
        project: str,
        prompt_ref: str,
        values: Mapping[str, Any],
        /,
        model: str | None = None,
        **params: Any,
    ) -> GenerationStream:
        """Like :meth:`run`, as text deltas; the record is on the stream once it ends."""
        return self.stream_with(principal, project, prompt_ref, values, model, params)

    def run_with(
        self,
        principal: Principal,
        project: str,
        prompt_ref: str,
        values: Mapping[str, Any],
        model: str | None,
        params: Mapping[str, Any],
    ) -> GenerationRecord:
        """:meth:`run` with the parameters as a mapping (as the interfaces receive them)."""
        prompt, call = self.prepare(principal, project, prompt_ref, values, model, params)
        return self.models.complete(call, prompt=prompt.ref)

    def stream_with(
        self,
        principal: Principal,
        project: str,
        prompt_ref: str,
        values: Mapping[str, Any],
        model: str | None,
        params: Mapping[str, Any],
    ) -> GenerationStream:
        prompt, call = self.prepare(principal, project, prompt_ref, values, model, params)
        return self.models.start_stream(call, prompt=prompt.ref)

    def prepare(
        self,
        principal: Principal,
        project: str,
        prompt_ref: str,
        values: Mapping[str, Any],
        model: str | None,
        params: Mapping[str, Any],
    ) -> tuple[PromptRecord, ModelCall]:
        prompt = self.prompts.get(principal, project, prompt_ref)
        model_ref = model or prompt.model
        if not model_ref:
            raise InvalidError(
                f"{prompt.ref} names no model; pass one (`--model local-smollm@production`, model=...) "
                "or register a version of the prompt with `model: model/NAME@LABEL`"
            )
        ref = parse_ref(model_ref, MODEL)
        messages = as_messages(render_record(prompt, dict(values)))
        layers = [(f"{prompt.ref} params", prompt.params), ("call", params)]
        try:
            call = self.models.prepare(principal, project, ref.text, messages, layers)
        except NotFoundError as exc:
            if model is not None or exc.details.get("model"):
                raise
            raise NotFoundError(f"{prompt.ref} runs on {model_ref}: {exc.message}", details=exc.details) from exc
        if prompt.output_schema and call.content.get("provider") == LOCAL:
            call = dataclasses.replace(
                call,
                sampling={**call.sampling, "json_schema": grammar_schema(prompt.output_schema)},
                params={**call.params, "constrained": True},
            )
        return prompt, call
