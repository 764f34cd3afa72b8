"""Guardrails at run time: validators (one module per family), the :class:`Guard` that
runs a policy version's validators and takes their actions, and :class:`GuardedStream`."""

from rippleops.runtime.guards.base import Embedding, Outcome, Span, Validator
from rippleops.runtime.guards.guard import Guard
from rippleops.runtime.guards.stream import GuardedStream
from rippleops.runtime.guards.trace import span_attributes

__all__ = ["Embedding", "Guard", "GuardedStream", "Outcome", "Span", "Validator", "span_attributes"]
