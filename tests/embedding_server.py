"""A real OpenAI-compatible ``POST /v1/embeddings`` server for tests: uvicorn on a free
127.0.0.1 port, embedding with the shipped MiniLM, checking a bearer key that the test can
change while it runs (to prove a rotated Ripple secret is used at once)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder
from support import RunningServer, free_port, wait_healthy

MODEL = "all-MiniLM-L6-v2"


@dataclass
class EmbeddingServer:
    url: str  # the base URL clients are given: http://127.0.0.1:PORT/v1
    api_key: str
    requests: int = 0
    texts: int = 0
    _running: RunningServer | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()


def start_embedding_server(api_key: str = "sk-first") -> EmbeddingServer:
    model: list[OnnxMiniLMEmbedder] = []
    lock = threading.Lock()
    app = FastAPI()
    port = free_port()
    state = EmbeddingServer(f"http://127.0.0.1:{port}/v1", api_key)

    def embed(texts: list[str]) -> list[list[float]]:
        with lock:
            if not model:
                model.append(OnnxMiniLMEmbedder())
        return [row.tolist() for row in model[0].embed(texts)]

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {state.api_key}":
            return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}, 401)
        body: dict[str, Any] = await request.json()
        if body.get("model") != MODEL:
            return JSONResponse({"error": {"message": f"model {body.get('model')!r} does not exist"}}, 404)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        state.requests += 1
        state.texts += len(texts)
        vectors = await asyncio.to_thread(embed, texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return JSONResponse({"object": "list", "model": MODEL, "data": data, "usage": {"prompt_tokens": 0}})

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{port}", server, thread)
    wait_healthy(running.url)
    state._running = running
    return state
