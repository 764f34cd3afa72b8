"""Bootstrap intervals of eval runs, and the paired bootstrap of a difference between two runs."""

from __future__ import annotations

import numpy as np
import pytest

from rippleops.domain.eval_stats import aggregate, bootstrap_ci, paired_bootstrap
from rippleops.errors import InvalidError


def test_identical_runs_have_delta_zero_and_a_zero_interval() -> None:
    scores = [0.1, 0.9, 0.4, 0.4, 1.0]
    assert paired_bootstrap(scores, scores) == (0.0, 0.0, 0.0)


def test_a_constant_shift_is_exact() -> None:
    delta, lo, hi = paired_bootstrap([0.0, 0.5, 0.25], [0.25, 0.75, 0.5])
    assert delta == lo == hi == pytest.approx(0.25)


def test_clear_improvement_leaves_zero_out_of_the_interval() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0.0, 0.6, size=60)
    b = a + rng.uniform(0.05, 0.3, size=60)
    delta, lo, hi = paired_bootstrap(list(a), list(b))
    assert 0 < lo <= delta <= hi


def test_noise_keeps_zero_inside_the_interval() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, size=40)
    b = a + rng.normal(0, 0.2, size=40)
    b -= (b - a).mean()  # no real effect
    _, lo, hi = paired_bootstrap(list(a), list(b))
    assert lo < 0 < hi


def test_pairing_makes_the_interval_tighter_than_unpaired_means() -> None:
    # hard and easy samples vary a lot; B is better by 0.05 on each: only pairing sees it
    a = [0.0, 1.0] * 20
    b = [0.05, 1.0] * 20
    _, lo, hi = paired_bootstrap(a, b)
    lo_a, hi_a = bootstrap_ci(a)
    assert lo > 0
    assert lo_a is not None and hi_a is not None
    assert hi - lo < hi_a - lo_a


def test_seeded_and_reproducible() -> None:
    a, b = [0.0, 0.2, 0.9, 0.5], [0.1, 0.1, 1.0, 0.7]
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def test_many_samples_run_in_blocks() -> None:
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, size=5000)
    b = a + 0.01
    delta, lo, hi = paired_bootstrap(list(a), list(b), resamples=1000)
    assert delta == pytest.approx(0.01)
    assert lo == pytest.approx(0.01) and hi == pytest.approx(0.01)


def test_bad_input_is_refused_with_the_way_out() -> None:
    with pytest.raises(InvalidError, match="pair them by sample key"):
        paired_bootstrap([1.0], [1.0, 0.0])
    with pytest.raises(InvalidError, match="no sample was scored in both runs"):
        paired_bootstrap([], [])
    with pytest.raises(InvalidError, match="not a finite number"):
        paired_bootstrap([float("nan"), 1.0], [1.0, 1.0])


def test_matches_scipy_paired_percentile_bootstrap() -> None:
    stats = pytest.importorskip("scipy.stats", reason="scipy is not installed: the cross-check needs it")
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, size=80)
    b = np.clip(a + rng.normal(0.05, 0.15, size=80), 0, 1)
    delta, lo, hi = paired_bootstrap(list(a), list(b), resamples=9999)
    ref = stats.bootstrap(
        (a, b), lambda x, y, axis=-1: np.mean(y - x, axis=axis), paired=True, vectorized=True,
        n_resamples=9999, method="percentile", confidence_level=0.95, random_state=np.random.default_rng(6),
    )  # fmt: skip
    assert delta == pytest.approx(float(np.mean(b - a)))
    width = hi - lo
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.08 * width)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.08 * width)


def test_aggregate_still_gives_mean_interval_and_quantiles() -> None:
    agg = aggregate([1.0, 0.0, 1.0, 1.0], errors=1)
    assert agg.mean == 0.75 and agg.n == 4 and agg.errors == 1
    assert agg.ci_low is not None and agg.ci_high is not None and agg.ci_low <= 0.75 <= agg.ci_high
    assert aggregate([]).n == 0
