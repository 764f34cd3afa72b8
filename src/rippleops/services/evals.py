"""Eval runs: a suite version scoring a target version, as a resumable job; comparisons and
gates. (Issue 6, helper B fills this in.)

The contract other services rely on (the ripple engine's apply calls these):

- ``evaluate(principal, project, suite, target, *, ctx=None, concurrency=None) -> EvalRunRecord``:
  run the suite on the exact target version in this thread (resuming an unfinished run of the
  same suite version on the same target version) and return the finished run.
- ``run(principal, project, suite, target, *, concurrency=None, wait=False, watch=None) -> JobRecord``:
  the same as an ``eval.run`` job (its result holds ``{"run": id, ...}``).
- ``get_run(principal, project, run_id) -> EvalRunRecord``;
  ``runs(principal, project, *, suite=None, target=None, limit=50) -> list[EvalRunRecord]``.
- ``baseline(principal, project, suite, target_asset, *, label=None) -> EvalRunRecord | None``:
  the newest succeeded run of the suite (any version of it) on the version of ``target_asset``
  that holds ``label`` (the suite's ``baseline`` label, default ``production``).
- ``gate(principal, project, run_id, *, baseline=None) -> GateReport``: the suite's gates on the
  run, against ``baseline`` (a run id) or the default baseline; ``passed`` False when any gate
  fails or cannot be decided for a max_regression gate whose baseline is not comparable.
- ``compare(principal, project, run_a, run_b) -> CompareRecord``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rippleops.services import Services


class EvalService:
    def __init__(self, services: Services) -> None:
        self.services = services
