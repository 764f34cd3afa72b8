"""Pure computations over data: quality and bias reports, PII detection.

No store, no I/O: callers hand in pyarrow record batches (or text) and get JSON-able dicts
back. The datasets service stores the reports; guardrails reuse :class:`PiiScanner`.
"""

from rippleops.runtime.analyzers.bias import bias_report
from rippleops.runtime.analyzers.pii import PiiFinding, PiiScanner
from rippleops.runtime.analyzers.quality import quality_report, quality_summary

__all__ = ["PiiFinding", "PiiScanner", "bias_report", "quality_report", "quality_summary"]
