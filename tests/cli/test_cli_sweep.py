"""``ripple sweep`` in-process on a SQLite home with the real MiniLM index and SmolLM2: the
table of points, the recommendation, the HTML report; bad flags exit 2 with the way out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Ripple

from rippleops.services import Services
from rippleops.settings import Settings
from sweep_support import build_sweep_world


@pytest.fixture
def world(sqlite_settings: Settings) -> None:
    services = Services(sqlite_settings)
    try:
        build_sweep_world(services, services.access.authenticate(sqlite_settings.token_file.read_text().strip()))
    finally:
        services.close()


@pytest.mark.slow
def test_sweep_prints_points_front_and_recommendation(
    ripple: Ripple, world: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")
    html = tmp_path / "sweep.html"
    out = ripple.ok("sweep", "app/bot@production", "--suite", "suite/qa", "--grid", "k=1,2", "--html", str(html)).stdout
    assert "k=1" in out and "k=2" in out and "app/bot:2" in out
    assert "recommended: #" in out and "html report written to" in out
    assert "Pareto front" in html.read_text()
    # a sweep file, with a flag that wins over it; the same points are the same versions
    spec = ripple.file(
        "sweep.yaml", "app: app/bot@production\nsuite: suite/qa\ngrid: {k: [1]}\nobjective: exact_match\n"
    )
    result = json.loads(ripple.ok("sweep", "--file", spec, "--objective", "contains", "--json").stdout)
    assert result["objective"] == "contains" and [p["app"] for p in result["points"]] == ["app/bot:2"]


def test_bad_sweeps_exit_2_naming_the_way_out(ripple: Ripple, world: None) -> None:
    r = ripple.fails(2, "sweep", "app/bot", "--suite", "suite/qa", "--grid", "top_p=1")
    assert "unknown sweep knob 'top_p'" in r.stderr
    r = ripple.fails(2, "sweep", "app/bot", "--suite", "suite/qa", "--grid", "k")
    assert "KNOB=V1,V2" in r.stderr
    r = ripple.fails(
        2,
        "sweep",
        "app/bot",
        "--suite",
        "suite/qa",
        "--grid",
        "k=1,2,3,4,5,6,7,8",
        "--grid",
        "max_tokens=1,2,3,4,5,6,7",
    )
    assert "--max-points 56" in r.stderr
    r = ripple.fails(2, "sweep", "app/bot", "--suite", "suite/qa", "--grid", "k=1", "--trials", "3")
    assert "for --method optuna" in r.stderr
