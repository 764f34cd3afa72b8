"""Statistics of eval runs: means with bootstrap confidence intervals (numpy, seeded, so the
same scores give the same interval every time), and the paired bootstrap of a difference
between two runs over the same samples.

>>> lo, hi = bootstrap_ci([1.0, 0.0, 1.0, 1.0])
>>> 0.0 <= lo <= 0.75 <= hi <= 1.0
True
>>> paired_bootstrap([0.5, 0.5], [0.5, 0.5])
(0.0, 0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rippleops.domain.records import MetricAggregate
from rippleops.errors import InvalidError

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
    means = _resampled_means(data, resamples, seed)
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


#: index draws per block, so a run of many samples does not allocate resamples x n at once
_BLOCK = 4_000_000


def _resampled_means(data: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The means of ``resamples`` bootstrap resamples of ``data`` (vectorised, in row blocks)."""
    rng = np.random.default_rng(seed)
    n = len(data)
    rows = max(1, _BLOCK // n)
    blocks = [
        data[rng.integers(0, n, size=(min(rows, resamples - start), n))].mean(axis=1)
        for start in range(0, resamples, rows)
    ]
    return np.concatenate(blocks)


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


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``b - a`` over paired samples with its percentile bootstrap interval:
    ``(mean_delta, lo, hi)``. Pairs are resampled together (the same sample index for both
    runs), which is what makes the interval tight when both runs share their hard samples."""
    if len(a) != len(b):
        raise InvalidError(
            f"paired bootstrap needs pairs: {len(a)} scores in A and {len(b)} in B; pair them by sample key first"
        )
    if len(a) == 0:
        raise InvalidError("paired bootstrap needs at least one pair of scores; no sample was scored in both runs")
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(diffs)):
        raise InvalidError(
            "paired bootstrap got a score that is not a finite number; record it as a sample error instead"
        )
    mean = float(diffs.mean())
    if len(diffs) == 1 or np.all(diffs == diffs[0]):
        return mean, mean, mean
    means = _resampled_means(diffs, resamples, seed)
    alpha = (1.0 - confidence) / 2
    return mean, float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
