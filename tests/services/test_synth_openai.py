"""A synth run against an OpenAI-compatible endpoint: a real ``llama_cpp.server`` on a free
loopback port serving the shipped SmolLM2. With ``constrained: on`` the schema goes out as
``response_format``; the server honours the seed, so the same seed gives the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rippleops.domain.datasets import ImportSource, file_uri
from rippleops.services import Services
from rippleops.settings import Settings
from support import LlamaServer
from synth_data import check_counts, check_qa_rows, write_docs

P = "default"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LlamaServer(tmp_path_factory.mktemp("llama-synth") / "server.log")
    yield server.url
    server.stop()


def test_qa_through_an_openai_compatible_server(sqlite_settings: Settings, llama: str, tmp_path: Path) -> None:
    services = Services(sqlite_settings)
    try:
        admin = services.access.authenticate(sqlite_settings.token_file.read_text().strip())
        folder = write_docs(tmp_path / "docs")
        services.datasets.import_file(admin, P, "docs", ImportSource(folder, "docs", file_uri(folder)))
        services.models.create(admin, P, "served", {"provider": "openai", "base_url": llama, "model": "smollm2",
                                                    "params": {"repeat_penalty": 1.0}})  # fmt: skip
        spec = {"task": "qa", "source": "docs", "into": "qa", "model": "served", "n": 2, "constrained": "on",
                "params": {"seed": 7, "max_tokens": 96}}  # fmt: skip
        jobs = [services.jobs.submit(admin, P, "synth.generate", {**spec, "into": into}) for into in ("qa", "qa2")]
        for job in jobs:
            assert job.state.value == "succeeded", job.error
            check_counts(job.result)
        first = services.datasets.get(admin, P, jobs[0].result["dataset"])
        assert first.content["provenance"]["generator"]["parameters"]["constrained"] is True
        rows = services.datasets.read_table(admin, P, first.ref).to_pylist()
        docs = services.datasets.read_table(admin, P, "dataset/docs", columns=["doc_id", "text"]).to_pylist()
        check_qa_rows(rows, {**spec, "source": "dataset/docs"}, {d["doc_id"]: d["text"] for d in docs})
        assert services.datasets.read_table(admin, P, jobs[1].result["dataset"]).to_pylist() == rows
        assert jobs[0].result["rejected"].get("unparseable", 0) == 0  # the server constrained every reply
    finally:
        services.close()
