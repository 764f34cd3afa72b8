"""The Python SDK: :class:`Client` with an embedded and a remote transport."""

from rippleops.sdk.client import Client
from rippleops.sdk.prompts import Prompt

__all__ = ["Client", "Prompt"]
