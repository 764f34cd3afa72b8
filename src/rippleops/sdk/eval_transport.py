"""The suite and eval-run operations of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` (the services in-process) and
:class:`~rippleops.sdk.remote.RemoteTransport` (``…/suites`` and ``…/evals``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import TypeAdapter

from rippleops.domain.records import (
    CompareRecord,
    EvalRunRecord,
    EvalSampleRecord,
    GateReport,
    PromptRecord,
    VersionRecord,
)
from rippleops.domain.refs import parse_ref
from rippleops.sdk._http import quote_part, ref_segment

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

KIND = "suite"
_RUNS = TypeAdapter(list[EvalRunRecord])
_SAMPLES = TypeAdapter(list[EvalSampleRecord])
_PROMPTS = TypeAdapter(list[PromptRecord])


class EmbeddedEvals:
    """Suite and eval calls on the services (mixed into the embedded transport)."""

    def _ev(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def create_suite(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        t = self._ev()
        return t.services.suites.create(t.principal, project, name, spec)

    def get_suite(self, project: str, ref: str) -> VersionRecord:
        t = self._ev()
        return t.services.suites.get(t.principal, project, ref)

    def init_judge_prompts(self, project: str) -> list[PromptRecord]:
        t = self._ev()
        return t.services.suites.init_prompts(t.principal, project)

    def get_eval_run(self, project: str, run_id: int) -> EvalRunRecord:
        t = self._ev()
        return t.services.evals.get_run(t.principal, project, run_id)

    def list_eval_runs(
        self, project: str, *, suite: str | None, target: str | None, state: str | None, limit: int
    ) -> list[EvalRunRecord]:
        t = self._ev()
        return t.services.evals.runs(t.principal, project, suite=suite, target=target, state=state, limit=limit)

    def eval_samples(self, project: str, run_id: int, *, offset: int, limit: int | None) -> list[EvalSampleRecord]:
        t = self._ev()
        return t.services.evals.samples(t.principal, project, run_id, offset=offset, limit=limit)

    def gate_eval_run(self, project: str, run_id: int, baseline: int | None) -> GateReport:
        t = self._ev()
        return t.services.evals.gate(t.principal, project, run_id, baseline=baseline)

    def compare_eval_runs(self, project: str, run_a: int, run_b: int, top: int) -> CompareRecord:
        t = self._ev()
        return t.services.evals.compare(t.principal, project, run_a, run_b, top=top)

    def eval_report_html(self, project: str, run_id: int) -> str:
        t = self._ev()
        return t.services.evals.report_html(t.principal, project, run_id)

    def eval_compare_html(self, project: str, run_a: int, run_b: int) -> str:
        t = self._ev()
        return t.services.evals.compare_html(t.principal, project, run_a, run_b)


class RemoteEvals:
    """Suite and eval calls over HTTP (mixed into the remote transport)."""

    def _rv(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def _evals(self, project: str) -> str:
        return f"{self._rv()._p(project)}/evals"

    def create_suite(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        t = self._rv()
        return t._record(VersionRecord, "POST", f"{t._p(project)}/suites/{quote_part(name)}", body=spec)

    def get_suite(self, project: str, ref: str) -> VersionRecord:
        t = self._rv()
        return t._record(VersionRecord, "GET", f"{t._p(project)}/suites/{ref_segment(parse_ref(ref, KIND))}")

    def init_judge_prompts(self, project: str) -> list[PromptRecord]:
        result: list[PromptRecord] = self._rv()._list(_PROMPTS, "POST", f"{self._evals(project)}/judge-prompts")
        return result

    def get_eval_run(self, project: str, run_id: int) -> EvalRunRecord:
        return self._rv()._record(EvalRunRecord, "GET", f"{self._evals(project)}/{run_id}")

    def list_eval_runs(
        self, project: str, *, suite: str | None, target: str | None, state: str | None, limit: int
    ) -> list[EvalRunRecord]:
        params = {"suite": suite, "target": target, "state": state, "limit": limit}
        result: list[EvalRunRecord] = self._rv()._list(_RUNS, "GET", self._evals(project), params=params)
        return result

    def eval_samples(self, project: str, run_id: int, *, offset: int, limit: int | None) -> list[EvalSampleRecord]:
        params = {"offset": offset, "limit": limit}
        path = f"{self._evals(project)}/{run_id}/samples"
        result: list[EvalSampleRecord] = self._rv()._list(_SAMPLES, "GET", path, params=params)
        return result

    def gate_eval_run(self, project: str, run_id: int, baseline: int | None) -> GateReport:
        body = {"baseline": baseline}
        return self._rv()._record(GateReport, "POST", f"{self._evals(project)}/{run_id}/gate", body=body)

    def compare_eval_runs(self, project: str, run_a: int, run_b: int, top: int) -> CompareRecord:
        body = {"run_a": run_a, "run_b": run_b, "top": top}
        return self._rv()._record(CompareRecord, "POST", f"{self._evals(project)}/compare", body=body)

    def eval_report_html(self, project: str, run_id: int) -> str:
        return self._rv()._send("GET", f"{self._evals(project)}/{run_id}/report").text

    def eval_compare_html(self, project: str, run_a: int, run_b: int) -> str:
        return self._rv()._send("GET", f"{self._evals(project)}/{run_a}/compare/{run_b}/report").text
