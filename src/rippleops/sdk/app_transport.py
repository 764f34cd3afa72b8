"""The app calls of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` (the services in-process) and
:class:`~rippleops.sdk.remote.RemoteTransport` (``POST …/apps/{ref}/invoke``: JSON, or
Server-Sent Events when streaming, with a model's long read timeout)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import httpx

from rippleops.domain.app_requests import AppStream
from rippleops.domain.generation import parse_sse, primed
from rippleops.domain.records import AppRunRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import UnavailableError, error_from_dict
from rippleops.sdk._http import quote_part, ref_segment

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

KIND = "app"


class EmbeddedApps:
    """App calls on the services (mixed into the embedded transport)."""

    def _e(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def create_app(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self._e().services.apps.create(self._e().principal, project, name, spec)

    def invoke_app(self, project: str, ref: str, request: dict[str, Any]) -> AppRunRecord:
        return self._e().services.apps.invoke(self._e().principal, project, ref, request)

    def stream_app(self, project: str, ref: str, request: dict[str, Any]) -> AppStream:
        return self._e().services.apps.stream(self._e().principal, project, ref, request)


class RemoteApps:
    """App calls over HTTP (mixed into the remote transport)."""

    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def create_app(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self._r()._record(VersionRecord, "POST", f"{self._r()._p(project)}/apps/{quote_part(name)}", body=spec)

    def invoke_app(self, project: str, ref: str, request: dict[str, Any]) -> AppRunRecord:
        response = self._r()._generation(self._invoke_path(project, ref), request, stream=False)
        return AppRunRecord.model_validate_json(response.content)

    def stream_app(self, project: str, ref: str, request: dict[str, Any]) -> AppStream:
        response = self._r()._generation(self._invoke_path(project, ref), {**request, "stream": True}, stream=True)
        got: dict[str, AppRunRecord] = {}
        url = self._r().url

        def deltas() -> Iterator[str]:
            try:
                for event, data in parse_sse(response.iter_lines()):
                    if event == "delta":
                        yield str(data["text"])
                    elif event == "done":
                        got["record"] = AppRunRecord.model_validate(data)
                        return
                    elif event == "error":
                        raise error_from_dict(data.get("error") or {}, 500)
            except httpx.TransportError as exc:
                raise UnavailableError(f"the Ripple server at {url} broke off the stream: {exc}") from exc
            finally:
                response.close()
            raise UnavailableError(f"the Ripple server at {url} ended the stream without its final record")

        return AppStream(primed(deltas()), lambda: got.get("record"))

    def _invoke_path(self, project: str, ref: str) -> str:
        return f"{self._r()._p(project)}/apps/{ref_segment(parse_ref(ref, KIND))}/invoke"
