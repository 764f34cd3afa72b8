"""The model and prompt-run calls of the remote transport (mixed into
:class:`~rippleops.sdk.remote.RemoteTransport`): JSON answers, or Server-Sent Events when
streaming, with a long read timeout because a model takes its time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import httpx

from rippleops.domain.generation import GenerationStream, parse_sse, primed
from rippleops.domain.records import GenerationRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, UnavailableError, error_from_dict
from rippleops.sdk._http import error_of, quote_part, ref_segment

if TYPE_CHECKING:
    from rippleops.sdk.remote import RemoteTransport

PROMPT = "prompt"
MODEL = "model"
#: Read timeout of a generation: a long completion on a slow model (per event when streaming).
GENERATION_TIMEOUT = 600.0


class RemoteModels:
    """Model calls over HTTP (mixed into the remote transport)."""

    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def create_model(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self._r()._record(VersionRecord, "POST", f"{self._r()._p(project)}/models/{quote_part(name)}", body=spec)

    def get_model(self, project: str, ref: str) -> VersionRecord:
        path = f"{self._r()._p(project)}/models/{ref_segment(parse_ref(ref, MODEL))}"
        return self._r()._record(VersionRecord, "GET", path)

    def generate(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationRecord:
        body = {"messages": messages, "params": params}
        response = self._generation(self._model_path(project, ref), body, stream=False)
        return GenerationRecord.model_validate_json(response.content)

    def stream_generation(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationStream:
        body = {"messages": messages, "params": params, "stream": True}
        return self._events(self._generation(self._model_path(project, ref), body, stream=True))

    def run_prompt(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationRecord:
        body = {"variables": values, "model": model, "params": params}
        response = self._generation(self._run_path(project, ref), body, stream=False)
        return GenerationRecord.model_validate_json(response.content)

    def stream_prompt_run(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationStream:
        body = {"variables": values, "model": model, "params": params, "stream": True}
        return self._events(self._generation(self._run_path(project, ref), body, stream=True))

    def _model_path(self, project: str, ref: str) -> str:
        return f"{self._r()._p(project)}/models/{ref_segment(parse_ref(ref, MODEL))}/generate"

    def _run_path(self, project: str, ref: str) -> str:
        return f"{self._r()._p(project)}/prompts/{ref_segment(parse_ref(ref, PROMPT))}/run"

    def _generation(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """POST a generation: with a long read timeout (the model takes its time); a
        stream's body is left open for :meth:`_events`."""
        try:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidError(f"the request cannot be sent to the server as JSON: {exc}") from None
        timeout = {**self._r()._extensions["timeout"], "read": GENERATION_TIMEOUT}
        headers = {**self._r()._headers, "Content-Type": "application/json"}
        if stream:
            headers["Accept"] = "text/event-stream"
        request = httpx.Request(
            "POST", self._r()._url(path), content=content, headers=headers, extensions={"timeout": timeout}
        )
        try:
            response = self._r()._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"cannot reach the Ripple server at {self._r().url} ({type(exc).__name__}: {exc or 'no answer'}); "
                "start it with `ripple server start` or check RIPPLE_SERVER_URL"
            ) from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise error_of(response)
        return response

    def _events(self, response: httpx.Response) -> GenerationStream:
        """The deltas of a Server-Sent Events answer; its ``done`` event holds the record."""
        got: dict[str, GenerationRecord] = {}

        def deltas() -> Iterator[str]:
            try:
                for event, data in parse_sse(response.iter_lines()):
                    if event == "delta":
                        yield str(data["text"])
                    elif event == "done":
                        got["record"] = GenerationRecord.model_validate(data)
                        return
                    elif event == "error":
                        raise error_from_dict(data.get("error") or {}, 500)
            except httpx.TransportError as exc:
                raise UnavailableError(f"the Ripple server at {self._r().url} broke off the stream: {exc}") from exc
            finally:
                response.close()
            raise UnavailableError(f"the Ripple server at {self._r().url} ended the stream without its final record")

        return GenerationStream(primed(deltas()), lambda text: got["record"])
