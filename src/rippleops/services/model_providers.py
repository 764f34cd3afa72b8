"""The runtime objects behind model versions: built from a version's content and kept for
the life of the process.

Loading the local GGUF takes ~0.2 s and ~200 MiB, so one loaded model serves every version
(and every :class:`~rippleops.services.Services` in the process) that runs the same weights
with the same context window: versions that differ only in default parameters or prices
share it. An OpenAI-compatible provider is an HTTP client (keep-alive connections), keyed by
everything that shapes its requests, the API key's digest included, so a rotated secret gets
a fresh client at the next call.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from rippleops.domain.hashing import canonical_json
from rippleops.domain.models import DEFAULT_LOCAL_CONTEXT, LOCAL
from rippleops.runtime.providers.llm import LLM, LocalGGUF, OpenAICompatibleLLM

#: Loaded local models kept at once (each holds its weights and KV cache in memory).
MAX_LOCAL = 3
MAX_REMOTE = 64

Key = tuple[Any, ...]


class ProviderPool:
    """Providers by key, least recently used dropped first. An evicted provider is not
    closed here: a call on another thread may still hold it; it is freed once unreferenced."""

    def __init__(self, max_local: int = MAX_LOCAL, max_remote: int = MAX_REMOTE) -> None:
        self._limits = {True: max_local, False: max_remote}
        self._items: OrderedDict[Key, LLM] = OrderedDict()
        self._lock = threading.Lock()  # held while building: two threads never load the same weights twice

    def get(self, key: Key, build: Callable[[], LLM]) -> LLM:
        with self._lock:
            provider = self._items.get(key)
            if provider is not None:
                self._items.move_to_end(key)
                return provider
            provider = build()
            self._items[key] = provider
            local = key[0] == LOCAL
            same = [k for k in self._items if (k[0] == LOCAL) == local]
            for old in same[: max(0, len(same) - self._limits[local])]:
                del self._items[old]
            return provider

    def local(self, file: str | None, context_window: int | None, threads: int | None = None) -> LocalGGUF:
        """The local model for a GGUF file (``None``: the shipped SmolLM2) and context window,
        on ``threads`` CPU threads (``None``: the runtime's default)."""
        n_ctx = context_window or DEFAULT_LOCAL_CONTEXT
        key = (LOCAL, file or "", n_ctx, threads)
        provider = self.get(key, lambda: LocalGGUF(file, n_ctx=n_ctx, n_threads=threads))
        assert isinstance(provider, LocalGGUF)
        return provider

    def for_content(
        self, content: Mapping[str, Any], api_key: str | None, extras: Mapping[str, Any], threads: int | None = None
    ) -> LLM:
        """The provider a version's content describes; ``extras`` are body parameters of the
        call, ``threads`` the CPU threads of a local model."""
        if content["provider"] == LOCAL:
            return self.local(content.get("file"), content.get("context_window"), threads)
        body = {**content.get("extra_body", {}), **extras}
        key_digest = hashlib.sha256(api_key.encode()).hexdigest() if api_key else ""
        key = (
            "openai",
            content["base_url"],
            content["model"],
            float(content["timeout"]),
            int(content["retries"]),
            content.get("context_window"),
            canonical_json(body),
            key_digest,
        )

        def build() -> LLM:
            return OpenAICompatibleLLM(
                content["base_url"],
                content["model"],
                api_key,
                timeout=float(content["timeout"]),
                max_retries=int(content["retries"]),
                context_size=content.get("context_window"),
                extra_body=body,
            )

        return self.get(key, build)

    def __len__(self) -> int:
        return len(self._items)


#: The process's pool, shared by every ModelService.
SHARED_POOL = ProviderPool()
