"""Statistics of eval runs: means with bootstrap confidence intervals (numpy, seeded, so the
same scores give the same interval every time).

>>> lo, hi = bootstrap_ci([1.0, 0.0, 1.0, 1.0])
>>> 0.0 <= lo <= 0.75 <= hi <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rippleops.domain.records import MetricAggregate

RESAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean; ``(None, None)`` without values."""
    if len(values) == 0:
        return None, None
    data = np.asarray(values, dtype=np.float64)
    if len(data) == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def aggregate(values: Sequence[float], errors: int = 0, *, seed: int = 0) -> MetricAggregate:
    """Mean, bootstrap interval, p50 and p95 of one metric's scores over a run."""
    if len(values) == 0:
        return MetricAggregate(n=0, errors=errors)
    data = np.asarray(values, dtype=np.float64)
    lo, hi = bootstrap_ci(values, seed=seed)
    return MetricAggregate(
        mean=float(data.mean()), ci_low=lo, ci_high=hi, n=len(data), errors=errors,
        p50=float(np.quantile(data, 0.5)), p95=float(np.quantile(data, 0.95)),
    )  # fmt: skip
