"""Statistics: invariants (hypothesis), CIs that cover, warnings in words, comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.stats import compare, min_samples_for_percentile, percentile_figure, summarize

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=200))
def test_summary_invariants(values: list[float]) -> None:
    s = summarize(values, "ms")
    assert s.n == len(values)
    assert s.min <= s.median <= s.max
    assert s.min - 1e-6 <= s.mean <= s.max + 1e-6
    assert s.std >= 0


@given(st.lists(finite, min_size=2, max_size=100), st.randoms())
def test_summary_ignores_order(values: list[float], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(values)
    rnd.shuffle(shuffled)
    a, b = summarize(values, "ms"), summarize(shuffled, "ms")
    assert (a.median, a.p95, a.min, a.max) == (b.median, b.p95, b.min, b.max)


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=3, max_size=60), st.sampled_from([5, 50, 95]))
def test_percentile_ci_contains_the_estimate(values: list[float], q: int) -> None:
    figure = percentile_figure("x", values, q, "ms")
    assert figure.ci_low is not None and figure.ci_high is not None and figure.value is not None
    assert figure.ci_low - 1e-9 <= figure.value <= figure.ci_high + 1e-9


def test_percentile_ci_covers_the_true_median_usually() -> None:
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(40):
        sample = rng.normal(100, 10, 200)
        figure = percentile_figure("p50", sample, 50, "ms")
        covered += figure.ci_low <= 100 <= figure.ci_high  # type: ignore[operator]
    assert covered >= 33  # nominal 95 %: 38 of 40 expected; 33 leaves room for chance


def test_median_ci_of_three_values_is_their_range() -> None:
    # A resample of three draws has the smallest value as its median when two or three of the
    # draws are that value: 3 (1/3)^2 (2/3) + (1/3)^3 = 7/27 of resamples, far more than the
    # 2.5 % tail; likewise the largest. So the 95 % percentile CI is [min, max].
    figure = percentile_figure("p50", [3.0, 1.0, 2.0], 50, "ms")
    assert (figure.value, figure.ci_low, figure.ci_high) == (2.0, 1.0, 3.0)


def test_median_ci_width_follows_the_normal_theory_and_narrows_with_n() -> None:
    # The median of n normal draws has a standard error of about 1.2533 sigma / sqrt(n), so
    # a 95 % CI is about 2 x 1.96 x 1.2533 x 10 / sqrt(n) wide: 6.95 for n = 50 and 1.74
    # for n = 800 (16x the samples, a quarter of the width). Means over 10 samples each.
    rng = np.random.default_rng(3)
    widths = {}
    for n in (50, 800):
        figures = [percentile_figure("p50", rng.normal(100, 10, n), 50, "ms") for _ in range(10)]
        widths[n] = float(np.mean([f.ci_high - f.ci_low for f in figures]))  # type: ignore[operator]
    assert widths[50] == pytest.approx(6.95, rel=0.25) and widths[800] == pytest.approx(1.74, rel=0.25)
    assert 0.15 < widths[800] / widths[50] < 0.4


def test_compare_ci_covers_the_true_difference_usually() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(40):
        result = compare("latency", rng.normal(100, 10, 40), rng.normal(110, 10, 40), "ms")
        covered += result.ci_low <= 10 <= result.ci_high
    assert covered >= 33  # nominal 95 %: 38 of 40 expected; 33 leaves room for chance


def test_small_n_warns_for_tail_percentiles() -> None:
    assert min_samples_for_percentile(95) == 40 and min_samples_for_percentile(50) == 4
    tail = percentile_figure("p95", range(10), 95, "ms")
    assert any("needs at least 40" in w for w in tail.warnings)
    assert percentile_figure("p50", range(10), 50, "ms").warnings == ()


def test_empty_and_constant_samples() -> None:
    assert percentile_figure("x", [], 50, "ms").value is None
    flat = percentile_figure("x", [5.0] * 10, 50, "ms")
    assert (flat.value, flat.ci_low, flat.ci_high) == (5.0, 5.0, 5.0)


def test_summary_warns_about_spread_outliers_and_few_samples() -> None:
    assert any("unstable" in w for w in summarize([10, 20, 30, 40, 50], "ms").warnings)
    assert any("outliers" in w for w in summarize([10.0] * 20 + [10.5] * 20 + [500.0], "ms").warnings)
    assert any("only 3 samples" in w for w in summarize([1, 1, 1], "ms").warnings)
    assert summarize(np.full(50, 100.0) + np.linspace(0, 1, 50), "ms").warnings == ()


def test_compare_detects_a_real_difference_and_not_noise() -> None:
    rng = np.random.default_rng(7)
    off = rng.normal(100, 5, 60)
    on = rng.normal(130, 5, 60)
    result = compare("latency", off, on, "ms")
    assert result.significant and result.verdict == "+"
    assert result.ci_low < 30 < result.ci_high and result.ratio == pytest.approx(1.3, abs=0.05)
    same = compare("latency", off, rng.normal(100, 5, 60), "ms")
    assert not same.significant and same.verdict == "~"


def test_compare_min_effect_and_tiny_samples() -> None:
    assert not compare("x", [100] * 10, [101] * 10, "ms", min_effect=5).significant
    small = compare("x", [1.0, 1.1], [5.0, 5.2], "s")
    assert small.p_value is None and small.significant
    with pytest.raises(ValueError, match="samples on both sides"):
        compare("x", [], [1], "s")
