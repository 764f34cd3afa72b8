"""Embedders: texts in, float32 vectors out.

- :class:`Embedder` — the interface (``embed``, ``dimension``, ``describe`` ...)
- :class:`OnnxMiniLMEmbedder` — all-MiniLM-L6-v2, int8 ONNX, offline, no PyTorch
  (``pip install 'rippleops[embed]'``)
- :class:`OpenAICompatibleEmbedder` — any ``POST /v1/embeddings`` server

Importing this package imports neither numpy nor onnxruntime's model; a missing extra is
reported when an embedder is created, as an :class:`~rippleops.errors.InvalidError` naming it.
"""

from __future__ import annotations

from .base import DEFAULT_BATCH_SIZE, Embedder
from .onnx_minilm import OnnxMiniLMEmbedder
from .openai_compat import OpenAICompatibleEmbedder

__all__ = ["DEFAULT_BATCH_SIZE", "Embedder", "OnnxMiniLMEmbedder", "OpenAICompatibleEmbedder"]
