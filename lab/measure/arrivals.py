"""What the arrival times of output frames say: throughput, warm-up, stalls and bursts.

Definitions (all on the arrival clock of :mod:`lab.rtc.receiving`, ``complete_ns``):

- **interval**: time between consecutive frame arrivals.
- **bursts**: Scope generates frames in chunks; when frames arrive chunked, intervals
  fall into two groups (within a chunk and between chunks). A split of the log-intervals
  into two groups whose centres differ by at least ``BURST_SEPARATION`` times marks the
  stream as bursty; ``burst_frames`` is the median number of frames per burst (1 when not
  bursty). Gaps between bursts are the stream's normal rhythm, not stalls.
- **stall**: a gap longer than ``stall_factor`` (default 3) times the typical gap (the
  median interval, or for a bursty stream the median gap between bursts), counted in
  steady state only: the slow first chunks of warm-up are warm-up, not stalls.
- **rolling fps**: ``k / (t[i] - t[i-k])`` over the last ``k`` frames, with ``k`` chosen
  so the window spans at least ``MIN_WINDOW_S`` and, for a bursty stream, a whole number
  of bursts (at least two), so chunked arrival does not look like fps swings. A fixed frame
  count avoids the quantisation of counting frames in a fixed time window. For a bursty
  stream the windows run from one burst's first frame to a later burst's first frame, so
  how a burst's frames spread on arrival (a busy client reads them late) does not move it.
- **warm-up end (steady state)**: the first time after which the rolling fps stays within
  ``tolerance`` (default 10 %) of the steady median for ``hold_s`` (default 2 s). The
  steady median is the median rolling fps over the second half of the trial.
  ``warmup_s`` is from the first frame to that time; frames before it are excluded from
  steady-state figures. A trial that never settles reports ``warmup_s`` as None.
- **fps_out** (steady): frames after warm-up divided by the time they span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lab.stats import Figure, percentile_figure

__all__ = ["ArrivalAnalysis", "analyze_arrivals", "BURST_SEPARATION"]

BURST_SEPARATION = 4.0
DEFAULT_TOLERANCE = 0.10
DEFAULT_HOLD_S = 2.0
DEFAULT_STALL_FACTOR = 3.0
MIN_WINDOW_S = 1.0


@dataclass(frozen=True)
class ArrivalAnalysis:
    """Throughput, warm-up, stalls and bursts of one stream of arrivals."""

    n_frames: int
    duration_s: float
    warmup_end_index: int | None
    warmup_s: float | None
    fps_out: Figure
    interval_p50: Figure
    interval_p95: Figure
    interval_max: Figure
    stalls: int
    stall_threshold_s: float | None
    stall_gaps_s: tuple[float, ...]
    bursty: bool
    burst_frames: float
    window_frames: int
    rolling_t_s: NDArray[np.float64]
    rolling_fps: NDArray[np.float64]

    def figures(self) -> list[Figure]:
        """The figures of this analysis, each with unit and n."""
        n = self.n_frames
        return [
            Figure("warmup_s", self.warmup_s, "s", n,
                   warnings=() if self.warmup_s is not None else ("never reached a steady rate",)),
            self.fps_out, self.interval_p50, self.interval_p95, self.interval_max,
            Figure("stalls", float(self.stalls), "count", n,
                   note=f"gaps > {self.stall_threshold_s:.3f} s" if self.stall_threshold_s else None),
            Figure("burst_frames", self.burst_frames, "frames", n,
                   note="chunked arrival" if self.bursty else "smooth arrival"),
        ]


def analyze_arrivals(
    arrival_ns: ArrayLike,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    hold_s: float = DEFAULT_HOLD_S,
    stall_factor: float = DEFAULT_STALL_FACTOR,
) -> ArrivalAnalysis:
    """Analyse frame arrival times (nanoseconds, any monotonic origin).

    Examples
    --------
    >>> import numpy as np
    >>> a = analyze_arrivals(np.arange(300) * 50_000_000)   # 20 fps for 15 s
    >>> round(a.fps_out.value, 1), a.stalls, a.bursty
    (20.0, 0, False)
    """
    t = np.sort(np.asarray(arrival_ns, dtype=np.int64)).astype(float) / 1e9
    n = t.size
    if n < 3:
        return _too_few(n, t)
    t = t - t[0]
    intervals = np.diff(t)
    bursty, burst_frames, typical_gap, gap_threshold = _bursts(intervals)
    threshold = stall_factor * typical_gap if typical_gap > 0 else None
    k = _window_frames(t, bursty, burst_frames)
    begins, ends = _windows(t.size, k, np.flatnonzero(intervals > gap_threshold) + 1 if bursty else None, burst_frames)
    rolling_t, rolling_fps = t[ends], (ends - begins) / np.maximum(t[ends] - t[begins], 1e-9)
    warmup_index = _steady_start(t, begins, ends, rolling_fps, tolerance, hold_s)
    steady_gaps = intervals[warmup_index or 0:]
    stall_gaps = steady_gaps[steady_gaps > threshold] if threshold else np.array([])
    steady_intervals = np.diff(t[warmup_index or 0:])
    fps = _steady_fps(t, warmup_index or 0, np.flatnonzero(intervals > gap_threshold) + 1 if bursty else None)
    steady_n = t.size - (warmup_index or 0)
    fps_figure = Figure("fps_out", fps, "fps", int(steady_n),
                        note="steady state" if warmup_index is not None else "whole trial (no steady state found)")
    ms = steady_intervals * 1e3
    return ArrivalAnalysis(
        n_frames=n,
        duration_s=float(t[-1]),
        warmup_end_index=warmup_index,
        warmup_s=float(t[warmup_index]) if warmup_index is not None else None,
        fps_out=fps_figure,
        interval_p50=percentile_figure("interval_p50", ms, 50, "ms"),
        interval_p95=percentile_figure("interval_p95", ms, 95, "ms"),
        interval_max=Figure("interval_max", float(ms.max()) if ms.size else None, "ms", int(ms.size)),
        stalls=int(stall_gaps.size),
        stall_threshold_s=threshold,
        stall_gaps_s=tuple(float(g) for g in stall_gaps),
        bursty=bursty,
        burst_frames=burst_frames,
        window_frames=k,
        rolling_t_s=rolling_t,
        rolling_fps=rolling_fps,
    )


def _steady_fps(t: NDArray[np.float64], start: int, burst_starts: NDArray[np.intp] | None) -> float | None:
    """Frames per second from ``start`` on; for bursts, over whole bursts (start to start)."""
    end = t.size - 1
    if burst_starts is not None and burst_starts.size >= 2:
        later = burst_starts[burst_starts >= start]
        if later.size >= 2:
            start, end = int(later[0]), int(later[-1])
    span = t[end] - t[start]
    return (end - start) / span if span > 0 else None


def _bursts(intervals: NDArray[np.float64]) -> tuple[bool, float, float, float]:
    """``(bursty, frames per burst, typical gap, gap threshold)`` from the intervals.

    Splits the sorted log-intervals at their widest gap, among the splits that leave 5-50 %
    of the intervals in the long group (bursts hold two frames or more, and a long group
    under 5 % is rare noise such as stalls); bursty if the group centres are
    ``BURST_SEPARATION`` apart. The widest gap, not the split of most variance between the
    groups (Otsu's), because a busy client reads some frames of a burst together,
    sub-millisecond apart: on a log scale those spread the short group so far that the
    split of most variance falls inside it.
    """
    positive = intervals[intervals > 0]
    median = float(np.median(positive)) if positive.size else 0.0
    if positive.size < 8:
        return False, 1.0, median, np.inf
    logs = np.sort(np.log(positive))
    first, last = int(np.ceil(logs.size / 2)), logs.size - int(np.ceil(0.05 * logs.size))
    best_split = first + int(np.argmax(np.diff(logs)[first - 1:last]))
    low, high = np.exp(logs[:best_split]), np.exp(logs[best_split:])
    separated = np.median(high) >= BURST_SEPARATION * np.median(low)
    share = high.size / positive.size
    if not separated or share < 0.05 or share > 0.5:
        return False, 1.0, median, np.inf
    gap_threshold = float(np.exp((logs[best_split - 1] + logs[best_split]) / 2))  # inside the widest gap
    burst_ends = np.flatnonzero(intervals > gap_threshold)
    sizes = np.diff(np.concatenate(([-1], burst_ends, [intervals.size])))
    frames = float(np.median(sizes))
    # A few long gaps among smooth arrivals (stalls) are not bursts: bursts repeat.
    if frames < 2 or burst_ends.size < 3:
        return False, 1.0, median, np.inf
    return True, frames, float(np.median(high)), gap_threshold


def _window_frames(t: NDArray[np.float64], bursty: bool, burst_frames: float) -> int:
    """Frames per rolling window: spans MIN_WINDOW_S, whole bursts (two or more) if bursty.

    The count comes from the rate of the stream's second half (its steady rate): the whole
    trial's mean rate includes a slower warm-up, and windows sized from it spanned less than
    MIN_WINDOW_S once the stream was steady (0.87 s seen), noisier than defined.
    """
    second_half = t[t >= t[-1] / 2]
    span = second_half[-1] - second_half[0] if second_half.size > 1 else 0.0
    rate = (second_half.size - 1) / span if span > 0 else ((t.size - 1) / t[-1] if t[-1] > 0 else 1.0)
    k = max(10, int(np.ceil(MIN_WINDOW_S * rate)))
    if bursty:
        per_burst = max(1, int(round(burst_frames)))
        k = max(2 * per_burst, int(np.ceil(k / per_burst)) * per_burst)
    return min(k, t.size - 1)


def _windows(n: int, k: int, burst_starts: NDArray[np.intp] | None,
             burst_frames: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """First and last frame of each rolling window: every ``k`` frames, or for bursts from one
    burst's first frame to a later one's (whole bursts, about ``k`` frames), so that how the
    frames of a burst spread on arrival does not move the rate."""
    if burst_starts is not None:
        starts = np.concatenate(([0], burst_starts))
        m = max(1, round(k / max(burst_frames, 1.0)))
        if starts.size > m + 1:
            return starts[:-m], starts[m:]
    ends = np.arange(k, n)
    return ends - k, ends


def _steady_start(t: NDArray[np.float64], begins: NDArray[np.intp], ends: NDArray[np.intp], fps: NDArray[np.float64],
                  tolerance: float, hold_s: float) -> int | None:
    """Index of the first frame of the first window that starts a run in band for ``hold_s``."""
    if fps.size < 2 or t[-1] < 2 * hold_s:
        return None
    window_end_t = t[ends]
    steady_median = float(np.median(fps[window_end_t >= t[-1] / 2]))
    if steady_median <= 0:
        return None
    inside = np.abs(fps - steady_median) <= tolerance * steady_median
    run_start: int | None = None
    for i, ok in enumerate(inside):
        if not ok:
            run_start = None
            continue
        if run_start is None:
            run_start = i
        if window_end_t[i] - window_end_t[run_start] >= hold_s:
            # Window run_start covers frames begins[run_start] .. ends[run_start], all at the steady rate.
            return int(begins[run_start])
    return None


def _too_few(n: int, t: NDArray[np.float64]) -> ArrivalAnalysis:
    empty = np.array([], dtype=float)
    reason = (f"only {n} frames",)
    return ArrivalAnalysis(
        n_frames=n, duration_s=float(t[-1] - t[0]) if n else 0.0, warmup_end_index=None, warmup_s=None,
        fps_out=Figure("fps_out", None, "fps", n, warnings=reason),
        interval_p50=Figure("interval_p50", None, "ms", max(n - 1, 0), warnings=reason),
        interval_p95=Figure("interval_p95", None, "ms", max(n - 1, 0), warnings=reason),
        interval_max=Figure("interval_max", None, "ms", max(n - 1, 0), warnings=reason),
        stalls=0, stall_threshold_s=None, stall_gaps_s=(), bursty=False, burst_frames=1.0,
        window_frames=0, rolling_t_s=empty, rolling_fps=empty,
    )
