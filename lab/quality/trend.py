"""The trend of a figure over a trial: is the picture getting worse (or drifting) as it runs?

Generic over the figure: the slope of flicker over time shows a pipeline that degrades,
the slope of similarity to a reference image is "identity drift".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from lab.stats import CONFIDENCE, Figure

__all__ = ["Trend", "trend"]


@dataclass(frozen=True)
class Trend:
    """Theil-Sen slope (figure units per second) with its CI, intercept at t = 0, and n."""

    slope_per_s: float
    ci_low: float
    ci_high: float
    intercept: float
    n: int

    def figure(self, name: str, unit: str) -> Figure:
        """As a reported :class:`~lab.stats.Figure`, in ``unit`` per second."""
        return Figure(name, self.slope_per_s, f"{unit}/s", self.n, self.ci_low, self.ci_high)


def trend(times: ArrayLike, values: ArrayLike) -> Trend:
    """Slope of ``values`` against ``times`` (seconds) by Theil-Sen, with a 95 % CI.

    Theil-Sen takes the median of the slopes between all pairs of samples, so a few
    outliers (a glitch frame, a keyframe pulse, a scene change) do not tilt it as they
    would a least-squares line (it tolerates about 29 % of them), and its CI (from
    Kendall's tau) assumes no particular distribution of the noise. Like every CI over
    samples of one stream, it is optimistic when the samples are autocorrelated; repeated
    trials are the honest unit. Needs at least 3 finite samples at 2 or more distinct times.
    """
    t = np.asarray(times, dtype=float).ravel()
    y = np.asarray(values, dtype=float).ravel()
    if t.size != y.size:
        raise ValueError(f"trend needs one time per value, got {t.size} times for {y.size} values")
    if t.size < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError(f"trend needs at least 3 finite samples, got {y.size} "
                         f"({int(np.sum(~np.isfinite(y)))} values not finite): drop NaNs first")
    if np.ptp(t) == 0:
        raise ValueError("trend needs samples at 2 or more distinct times")
    result = sps.theilslopes(y, t, alpha=CONFIDENCE)
    return Trend(float(result.slope), float(result.low_slope), float(result.high_slope),
                 float(result.intercept), int(t.size))
