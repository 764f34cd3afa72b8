"""Sweeps through the service layer with the real parts (MiniLM index, SmolLM2 answering),
on SQLite and PostgreSQL: every point is a candidate app version scored by the suite, the
summary names a front and a recommendation, the reports are written, no label moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rippleops.domain.access import Principal
from rippleops.errors import ConflictError, InvalidError, NotFoundError
from rippleops.services import Services
from sweep_support import P, build_sweep_world

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


def test_a_grid_sweep_scores_each_point_as_a_candidate_version(services: Services, admin: Principal) -> None:
    build_sweep_world(services, admin)
    spec = {"app": "app/bot@production", "suite": "suite/qa", "grid": {"k": [1, 2]}}
    job = services.sweeps.run(admin, P, spec, wait=True)
    assert job.state.value == "succeeded", job.error
    result = services.sweeps.result(admin, P, job.id)
    points = result["points"]
    assert [p["knobs"] for p in points] == [{"k": 1}, {"k": 2}]
    # k=2 is the base's own spec: the same content is the same version
    assert [p["app"] for p in points] == ["app/bot:2", "app/bot:1"]
    assert result["objective"] == "contains" and result["suite"] == "suite/qa:1"
    for p in points:
        run = services.evals.get_run(admin, P, p["run"])
        assert (run.target, run.state, run.samples) == (p["app"], "succeeded", 3)
        assert p["quality"] == run.aggregates["contains"].mean
        assert p["latency_ms"] == run.aggregates["latency_ms"].p50 and p["cost"] == 0.0
    assert set(result["front"]) <= {0, 1} and result["front"]
    rec = result["recommendation"]
    assert rec["index"] in result["front"] and rec["app"] == points[rec["index"]]["app"] and rec["reason"]
    # no label moved: production is still the base
    assert services.apps.get(admin, P, "app/bot@production").ref == "app/bot:1"
    v2 = services.apps.get(admin, P, "app/bot:2")
    assert v2.content["steps"][0]["retrieve"]["k"] == 1 and "sweep" in v2.message
    # the reports, in the home
    reports = result["reports"]
    assert json.loads(Path(reports["json"]).read_text())["points"] == points
    html = Path(reports["html"]).read_text()
    assert "app/bot:2" in html and "Pareto front" in html
    assert services.sweeps.report_html(admin, P, job.id) == html


def test_a_bad_sweep_fails_when_submitted(services: Services, admin: Principal) -> None:
    build_sweep_world(services, admin)
    with pytest.raises(NotFoundError):
        services.sweeps.run(admin, P, {"app": "app/nope", "suite": "suite/qa", "grid": {"k": [1]}})
    with pytest.raises(NotFoundError):
        services.sweeps.run(admin, P, {"app": "app/bot", "suite": "suite/nope", "grid": {"k": [1]}})
    with pytest.raises(InvalidError, match="more than 50"):
        services.sweeps.run(admin, P, {"app": "app/bot", "suite": "suite/qa", "grid": {"k": list(range(1, 52))}})
    job = services.jobs.list(admin, P)[0]
    with pytest.raises(NotFoundError, match="not a sweep"):
        services.sweeps.result(admin, P, job.id)


def test_a_failing_objective_is_reported_and_the_job_fails(services: Services, admin: Principal) -> None:
    build_sweep_world(services, admin)
    spec = {"app": "app/bot", "suite": "suite/qa", "grid": {"k": [1]}, "objective": "rouge_l"}
    job = services.sweeps.run(admin, P, spec, wait=True)
    assert job.state.value == "failed" and job.error is not None
    assert "no point of the sweep could be scored on rouge_l" in job.error.message
    assert "pick one with --objective" in job.error.message
    with pytest.raises(ConflictError, match="is failed"):
        services.sweeps.result(admin, P, job.id)


def test_an_optuna_sweep_over_chunk_size_builds_index_variants(sqlite_settings: object, tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="--method optuna needs the eval extra: pip install 'rippleops[eval]'")
    from rippleops.settings import Settings

    assert isinstance(sqlite_settings, Settings)
    services = Services(sqlite_settings)
    try:
        admin = services.access.authenticate(sqlite_settings.token_file.read_text().strip())
        build_sweep_world(services, admin)
        storage = f"sqlite:///{tmp_path / 'optuna.db'}"
        spec = {"app": "app/bot@production", "suite": "suite/qa", "grid": {"chunk_size": [200, 400], "k": [1]},
                "method": "optuna", "trials": 6, "seed": 3, "storage": storage, "study": "kb-chunks"}  # fmt: skip
        job = services.sweeps.run(admin, P, spec, wait=True)
        assert job.state.value == "succeeded", job.error
        result = job.result
        assert result is not None
        # two combinations: TPE stops once both are scored, each scored once
        assert sorted(p["knobs"]["chunk_size"] for p in result["points"]) == [200, 400]
        indexes = result["indexes"]
        assert set(indexes) == {"200", "400"}
        built = {services.indexes.get(admin, P, ref).recipe["chunking"]["size"] for ref in indexes.values()}
        assert built == {200, 400}
        for p in result["points"]:
            app = services.apps.get(admin, P, p["app"])
            assert app.content["steps"][0]["retrieve"]["index"] == indexes[str(p["knobs"]["chunk_size"])]
        assert services.indexes.get(admin, P, "index/kb@production").ref == "index/kb:1"
        # the study lives in the storage given, for other workers to share
        import optuna

        study = optuna.load_study(study_name="kb-chunks", storage=storage)
        assert len([t for t in study.trials if t.state.name == "COMPLETE"]) >= 2
    finally:
        services.close()
