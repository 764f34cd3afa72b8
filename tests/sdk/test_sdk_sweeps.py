"""``rp.sweeps`` on the embedded transport (the job runs inline) and the remote one (the
server's pool runs it, the SDK polls; the REST routes ``/sweeps``), over SQLite and
PostgreSQL, with the real MiniLM index and SmolLM2."""

from __future__ import annotations

import httpx
import pytest

from rippleops import Client, InvalidError, NotFoundError
from rippleops.services import Services
from rippleops.settings import Settings
from sweep_support import build_sweep_world

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def world(settings: Settings) -> None:
    services = Services(settings)
    try:
        build_sweep_world(services, services.access.authenticate(settings.token_file.read_text().strip()))
    finally:
        services.close()


def test_a_sweep_runs_and_its_result_and_report_come_back(rp: Client, world: None, settings: Settings) -> None:
    job = rp.sweeps.run("app/bot@production", suite="suite/qa", grid={"k": [1], "mode": ["vector"]})
    assert job.kind == "sweep.run" and job.state.value == "succeeded"
    result = rp.sweeps.result(job.id)
    assert result == job.result
    (point,) = result["points"]
    assert point["knobs"] == {"k": 1, "mode": "vector"} and point["app"] == "app/bot:2"
    assert result["front"] == [0] and result["recommendation"]["index"] == 0
    html = rp.sweeps.report_html(job.id)
    assert "app/bot:2" in html and "Pareto front" in html
    if rp.is_remote:
        token = settings.token_file.read_text().strip()
        base = rp.transport.url.rstrip("/") + "/api/v1/projects/default/sweeps"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            assert http.get(f"{base}/{job.id}").json() == result
            page = http.get(f"{base}/{job.id}/report")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "Pareto front" in page.text
            bad = http.post(base, json={"app": "app/bot", "suite": "suite/qa", "grid": {"top_p": [1]}})
            assert bad.status_code == 422 and "unknown sweep knob 'top_p'" in bad.text
            assert http.get(f"{base}/999999").status_code == 404


def test_bad_sweeps_raise_on_both_transports(rp: Client, world: None) -> None:
    with pytest.raises(InvalidError, match="unknown sweep knob 'top_p'"):
        rp.sweeps.run("app/bot", suite="suite/qa", grid={"top_p": [1]})
    with pytest.raises(NotFoundError):
        rp.sweeps.run("app/nope", suite="suite/qa", grid={"k": [1]})
    with pytest.raises(InvalidError, match="more than 50"):
        rp.sweeps.run("app/bot", suite="suite/qa", grid={"k": list(range(1, 11)), "max_tokens": list(range(1, 7))})
