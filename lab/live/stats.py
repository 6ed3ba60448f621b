"""Rolling figures of a live stream: output fps, frame interval and latency over the last seconds.

These are figures to watch, not to report: they cover a short window (``window_s``, 3 s
by default) and carry no confidence interval. For measurements, run a trial
(:mod:`lab.measure.run`).

- ``fps``: frames that arrived in the window divided by the window (in the first
  seconds: frames after the first one, divided by the time since it), so a stall shows
  as a falling fps instead of the last rate frozen on screen;
- ``interval_p50_ms`` / ``interval_max_ms``: median and largest gap between consecutive
  arrivals in the window (chunked output shows as a max of about one chunk's time);
- ``latency_p50_ms``: median of output arrival minus input send time, for frames whose
  input stamp came back (stamped input through a pipeline that keeps the picture), else None.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["LiveFigures", "LiveStats", "DEFAULT_WINDOW_S", "HISTORY_SAMPLES"]

DEFAULT_WINDOW_S = 3.0
HISTORY_SAMPLES = 120  # at two samples a second: the last minute, for the rolling chart


@dataclass(frozen=True)
class LiveFigures:
    """The rolling figures at one moment; ``t_s`` counts from the first frame."""

    t_s: float
    frames: int
    fps: float
    interval_p50_ms: float | None
    interval_max_ms: float | None
    latency_p50_ms: float | None
    latency_n: int

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain dict (for JSON and CSV)."""
        return asdict(self)


class LiveStats:
    """Collects frame arrivals and turns them into :class:`LiveFigures` on demand.

    Parameters
    ----------
    window_s:
        How far back the rolling figures look.
    history:
        How many sampled figures :attr:`history` keeps (for the chart).
    clock:
        The monotonic clock in ns, the one frame arrivals are stamped with (tests pass a fake).

    Examples
    --------
    >>> stats = LiveStats(clock=lambda: 2_000_000_000)
    >>> for k in range(21):
    ...     stats.add(1_000_000_000 + k * 50_000_000)
    >>> round(stats.figures().fps, 1), stats.figures().interval_p50_ms
    (20.0, 50.0)
    """

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, history: int = HISTORY_SAMPLES,
                 clock: Callable[[], int] = time.perf_counter_ns) -> None:
        self.window_ns = int(window_s * 1e9)
        self.clock = clock
        self.frames = 0
        self.first_ns: int | None = None
        self.history: deque[LiveFigures] = deque(maxlen=history)
        self._arrivals: deque[int] = deque()
        self._latencies: deque[tuple[int, float]] = deque()

    def add(self, complete_ns: int, latency_ms: float | None = None) -> None:
        """Count one frame that arrived at ``complete_ns``, with its latency if known."""
        if self.first_ns is None:
            self.first_ns = complete_ns
        self.frames += 1
        self._arrivals.append(complete_ns)
        if latency_ms is not None:
            self._latencies.append((complete_ns, latency_ms))

    def figures(self) -> LiveFigures:
        """The figures over the last ``window_s`` as of now."""
        now = self.clock()
        if self.first_ns is None:
            return LiveFigures(0.0, 0, 0.0, None, None, None, 0)
        # Frames strictly after `start`, over the time since `start`: exact from the second
        # frame on, and falling towards 0 while nothing arrives.
        start = max(now - self.window_ns, self.first_ns)
        while self._arrivals and self._arrivals[0] < start:
            self._arrivals.popleft()
        while self._latencies and self._latencies[0][0] < start:
            self._latencies.popleft()
        arrivals = np.fromiter(self._arrivals, np.int64, len(self._arrivals))
        intervals = np.diff(arrivals) / 1e6
        latencies = [latency for _, latency in self._latencies]
        counted = int(np.count_nonzero(arrivals > start))
        return LiveFigures(
            t_s=(now - self.first_ns) / 1e9,
            frames=self.frames,
            fps=counted / ((now - start) / 1e9) if now > start else 0.0,
            interval_p50_ms=float(np.median(intervals)) if intervals.size else None,
            interval_max_ms=float(intervals.max()) if intervals.size else None,
            latency_p50_ms=float(np.median(latencies)) if latencies else None,
            latency_n=len(latencies),
        )

    def sample(self) -> LiveFigures:
        """:meth:`figures`, also kept in :attr:`history` for the rolling chart."""
        figures = self.figures()
        self.history.append(figures)
        return figures
