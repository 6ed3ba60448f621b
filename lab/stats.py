"""Statistics for measurements: figures with n, unit and confidence intervals, and comparisons.

Conventions (see the README's "Measurement definitions"):

- a :class:`Figure` is one reported number: value, unit, n, and a 95 % bootstrap
  confidence interval where one makes sense; ``warnings`` say in words when the number
  should not be trusted (too few samples for the percentile asked, high spread);
- percentile CIs use :func:`scipy.stats.bootstrap` (percentile method). Frames of one
  stream are autocorrelated, so a CI over the frames of one trial is optimistic; repeats
  (trials) are the honest unit, and :func:`summarize` works on per-trial values too;
- :func:`compare` gives the difference of two conditions (b - a) with a bootstrap CI, the
  ratio, and a Mann-Whitney U verdict, as the VACE overhead question needs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

__all__ = [
    "Figure",
    "Summary",
    "Comparison",
    "percentile_figure",
    "mean_figure",
    "summarize",
    "compare",
    "min_samples_for_percentile",
    "CONFIDENCE",
]

CONFIDENCE = 0.95
N_RESAMPLES = 2000
HIGH_CV = 0.10
_SEED = 20261125  # fixed, so a report re-rendered from the same data gives the same CIs


@dataclass(frozen=True)
class Figure:
    """One reported number with its unit, sample count, CI and warnings in words."""

    name: str
    value: float | None
    unit: str
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    warnings: tuple[str, ...] = ()
    note: str | None = None

    def with_warning(self, text: str) -> Figure:
        """A copy with one more warning."""
        return replace(self, warnings=(*self.warnings, text))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and tables."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "n": self.n,
                "ci_low": self.ci_low, "ci_high": self.ci_high,
                "warnings": list(self.warnings), "note": self.note}

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.name}: n/a (n={self.n})"
        ci = f" [{self.ci_low:.4g}, {self.ci_high:.4g}]" if self.ci_low is not None and self.ci_high is not None else ""
        flag = " (!)" if self.warnings else ""
        return f"{self.name}: {self.value:.4g} {self.unit}{ci} n={self.n}{flag}"


@dataclass(frozen=True)
class Summary:
    """n, mean ± std, median, p95, min and max of a sample, with warnings in words."""

    unit: str
    n: int
    mean: float
    std: float
    median: float
    p95: float
    min: float
    max: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean); inf for a zero mean."""
        return self.std / abs(self.mean) if self.mean else math.inf


def min_samples_for_percentile(q: float) -> int:
    """Fewest samples for which the ``q``-th percentile is not simply the extreme value.

    With fewer than ``1 / (1 - q/100)`` samples (20 for p95, 100 for p99) the estimate is
    the sample maximum; we ask for twice that before reporting it without a warning.
    """
    tail = min(q, 100 - q) / 100
    return 2 * math.ceil(1 / tail) if tail > 0 else 2


def _clean(values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def percentile_figure(name: str, values: ArrayLike, q: float, unit: str, *, ci: bool = True) -> Figure:
    """The ``q``-th percentile of ``values`` with a bootstrap CI and small-n warnings.

    Examples
    --------
    >>> str(percentile_figure("latency p50", [10, 11, 12, 13, 14] * 10, 50, "ms"))  # doctest: +ELLIPSIS
    'latency p50: 12 ms [...] n=50'
    """
    data = _clean(values)
    n = data.size
    if n == 0:
        return Figure(name, None, unit, 0, warnings=("no samples",))
    value = float(np.percentile(data, q))
    figure = Figure(name, value, unit, n)
    needed = min_samples_for_percentile(q)
    if n < needed:
        figure = figure.with_warning(f"only {n} samples: p{q:g} needs at least {needed} to be more than the extreme value")
    if ci and n >= 3 and np.ptp(data) > 0:
        low, high = _bootstrap_ci(data, lambda x, axis: np.percentile(x, q, axis=axis))
        figure = replace(figure, ci_low=low, ci_high=high)
    elif ci:
        figure = replace(figure, ci_low=value, ci_high=value)
    return figure


def mean_figure(name: str, values: ArrayLike, unit: str, *, note: str | None = None) -> Figure:
    """The mean of ``values`` with a bootstrap CI (a share: the mean of 0/100 flags, in %).

    Examples
    --------
    >>> str(mean_figure("similarity", [0.5, 0.6, 0.7] * 10, "cosine"))  # doctest: +ELLIPSIS
    'similarity: 0.6 cosine [...] n=30'
    """
    data = _clean(values)
    if data.size == 0:
        return Figure(name, None, unit, 0, warnings=("no samples",), note=note)
    value = float(np.mean(data))
    low, high = (_bootstrap_ci(data, lambda x, axis: np.mean(x, axis=axis))
                 if data.size >= 3 and np.ptp(data) > 0 else (value, value))
    figure = Figure(name, value, unit, int(data.size), low, high, note=note)
    return figure.with_warning(f"only {data.size} samples: the CI is unreliable") if data.size < 5 else figure


def _bootstrap_ci(data: NDArray[np.float64], statistic: Any) -> tuple[float, float]:
    with warnings.catch_warnings():
        # Degenerate resamples (all equal) are expected for discrete data; the CI is still usable.
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=sps.DegenerateDataWarning)
        result = sps.bootstrap((data,), statistic, vectorized=True, n_resamples=N_RESAMPLES,
                               confidence_level=CONFIDENCE, method="percentile",
                               random_state=np.random.default_rng(_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarize(values: ArrayLike, unit: str) -> Summary:
    """n, mean ± std, median, p95, min, max, and warnings (small n, CV ≥ 10 %, outliers)."""
    data = _clean(values)
    n = data.size
    if n == 0:
        nan = float("nan")
        return Summary(unit, 0, nan, nan, nan, nan, nan, nan, ("no samples",))
    std = float(np.std(data, ddof=1)) if n > 1 else 0.0
    summary = Summary(unit, n, float(np.mean(data)), std, float(np.median(data)),
                      float(np.percentile(data, 95)), float(np.min(data)), float(np.max(data)))
    notes = []
    if n < 5:
        notes.append(f"only {n} samples: repeat the measurement for a trustworthy spread")
    if n > 1 and summary.cv >= HIGH_CV:
        notes.append(f"std is {summary.cv:.0%} of the mean: the result may be unstable; "
                     "look for warm-up, stalls or a busy machine, and add repeats")
    q1, q3 = np.percentile(data, [25, 75])
    iqr = q3 - q1
    if n >= 5 and iqr > 0 and (summary.max > q3 + 3 * iqr or summary.min < q1 - 3 * iqr):
        notes.append("outliers beyond 3 IQR: check the per-frame data before trusting the mean")
    return replace(summary, warnings=tuple(notes))


@dataclass(frozen=True)
class Comparison:
    """Condition b against condition a: difference (b - a) with CI, ratio, and a verdict."""

    name: str
    unit: str
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    difference: float
    ci_low: float
    ci_high: float
    ratio: float
    p_value: float | None
    significant: bool
    min_effect: float

    @property
    def verdict(self) -> str:
        """``+`` b larger, ``-`` b smaller, ``~`` not significant (asv's marks)."""
        if not self.significant:
            return "~"
        return "+" if self.difference > 0 else "-"

    def __str__(self) -> str:
        what = "not significant" if not self.significant else f"{self.ratio:.2f}x"
        return (f"{self.name}: {self.median_a:.4g} -> {self.median_b:.4g} {self.unit} "
                f"(diff {self.difference:+.4g} [{self.ci_low:+.4g}, {self.ci_high:+.4g}], {what})")


def compare(name: str, a: ArrayLike, b: ArrayLike, unit: str, *, min_effect: float = 0.0,
            alpha: float = 0.05) -> Comparison:
    """Compare two conditions by their medians.

    The difference of medians (b - a) gets a bootstrap CI; the verdict is significant
    when Mann-Whitney U rejects equality at ``alpha`` (or, with fewer than 5 samples per
    side, when the CI excludes zero) and the difference is at least ``min_effect``.
    """
    xa, xb = _clean(a), _clean(b)
    if xa.size == 0 or xb.size == 0:
        raise ValueError(f"compare({name!r}) needs samples on both sides (got {xa.size} and {xb.size}).")
    median_a, median_b = float(np.median(xa)), float(np.median(xb))
    difference = median_b - median_a
    if xa.size >= 2 and xb.size >= 2 and (np.ptp(xa) > 0 or np.ptp(xb) > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            warnings.simplefilter("ignore", category=sps.DegenerateDataWarning)
            result = sps.bootstrap((xa, xb), lambda x, y, axis: np.median(y, axis=axis) - np.median(x, axis=axis),
                                   vectorized=True, n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE,
                                   method="percentile", random_state=np.random.default_rng(_SEED))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    else:
        low = high = difference
    p_value: float | None = None
    if xa.size >= 5 and xb.size >= 5:
        p_value = float(sps.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
        differs = p_value < alpha
    else:
        differs = low > 0 or high < 0
    ratio = median_b / median_a if median_a else math.inf
    return Comparison(name, unit, xa.size, xb.size, median_a, median_b, difference, low, high, ratio,
                      p_value, bool(differs and abs(difference) >= min_effect), min_effect)

