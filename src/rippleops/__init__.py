"""Ripple: every piece of a generative-AI system as a versioned asset with lineage.

>>> from rippleops import Client
>>> rp = Client()  # doctest: +SKIP
"""

from rippleops.errors import (
    ConflictError,
    ForbiddenError,
    GateFailedError,
    InvalidError,
    NotFoundError,
    PayloadTooLargeError,
    RippleError,
    UnauthenticatedError,
    UnavailableError,
)
from rippleops.sdk import Client, Prompt

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ConflictError",
    "ForbiddenError",
    "GateFailedError",
    "InvalidError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Prompt",
    "RippleError",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
]
