"""When the output track sends each frame, and with which timestamp, as Scope 0.2.4 does.

Both pacers measure the pipeline's output throughput: total frames over total inter-batch
time of the last ``FPS_WINDOW_BATCHES`` batches, clamped to 1-60 fps, and 60 fps before two
batches exist. That rate is the session's ``pipeline_fps`` and the rate of the repeated
frames sent while paused.

* :class:`ThroughputPacer` (generative pipelines, which give no timestamps): frames go out
  ``1 / fps`` apart and ``pts`` grows by ``int(90000 / fps)`` per frame.
* :class:`TimestampPacer` (passthrough, gray: the input timestamps are kept): frames go out
  at their ``pts`` spacing from an anchor, with Scope's drift-tolerant rules: frames within
  10 ms of their time go at once, and the anchor moves on a timestamp discontinuity of
  250 ms or more or a drift of 500 ms or more.

Times are ``perf_counter_ns`` values on the pacing clock (see :mod:`lab.sim.media.tracks`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from aiortc.mediastreams import VIDEO_CLOCK_RATE

from lab.sim.media.queues import OutputFrame

__all__ = [
    "DEFAULT_FPS",
    "FPS_WINDOW_BATCHES",
    "Pacer",
    "ThroughputPacer",
    "TimestampPacer",
    "make_pacer",
]

FPS_WINDOW_BATCHES = 10
DEFAULT_FPS = 60.0  # before the pipeline has produced two batches
MIN_FPS = 1.0
MAX_FPS = 60.0
TOLERANCE_NS = 10_000_000
DISCONTINUITY_TICKS = VIDEO_CLOCK_RATE // 4  # 250 ms on the 90 kHz clock
MAX_DRIFT_NS = 500_000_000
_NS_PER_S = 1_000_000_000


class Pacer(ABC):
    """Measures output throughput and schedules frames."""

    def __init__(self) -> None:
        # (time, frames) of the last batches; one more than the window gives its intervals.
        self._batches: deque[tuple[int, int]] = deque(maxlen=FPS_WINDOW_BATCHES + 1)

    def add_batch(self, at_ns: int, frames: int) -> None:
        """Record a batch of output frames produced at ``at_ns``."""
        self._batches.append((at_ns, frames))

    @property
    def fps(self) -> float:
        """Measured output frames per second (clamped to 1-60; 60 before two batches)."""
        if len(self._batches) < 2:
            return DEFAULT_FPS
        span_s = (self._batches[-1][0] - self._batches[0][0]) / _NS_PER_S
        frames = sum(count for _, count in list(self._batches)[1:])
        if span_s <= 0:
            return MAX_FPS
        return min(max(frames / span_s, MIN_FPS), MAX_FPS)

    @abstractmethod
    def schedule(
        self, item: OutputFrame, earliest_ns: int, previous_ns: int | None
    ) -> tuple[int, int]:
        """Return ``(due_ns, pts)`` for ``item``.

        Parameters
        ----------
        item
            The frame to send.
        earliest_ns
            It cannot go before this (now, or when it is ready if later).
        previous_ns
            When the previous frame was due, if any.
        """


class ThroughputPacer(Pacer):
    """Frames ``1 / fps`` apart, with ``pts`` advancing by ``int(90000 / fps)``."""

    def __init__(self) -> None:
        super().__init__()
        self._pts: int | None = None

    def schedule(
        self, item: OutputFrame, earliest_ns: int, previous_ns: int | None
    ) -> tuple[int, int]:
        fps = self.fps
        self._pts = 0 if self._pts is None else self._pts + int(VIDEO_CLOCK_RATE / fps)
        if previous_ns is None:
            return earliest_ns, self._pts
        return max(earliest_ns, previous_ns + round(_NS_PER_S / fps)), self._pts


class TimestampPacer(Pacer):
    """Frames at their input timestamps' spacing, re-anchored on jumps and drift."""

    def __init__(self) -> None:
        super().__init__()
        self._anchored = False
        self._anchor_ns = 0
        self._anchor_pts = 0
        self._last_pts = 0

    def schedule(
        self, item: OutputFrame, earliest_ns: int, previous_ns: int | None
    ) -> tuple[int, int]:
        # A frame without a timestamp is treated as due with the previous one.
        pts = self._last_pts if item.pts is None else item.pts
        if not self._anchored or not 0 <= pts - self._last_pts < DISCONTINUITY_TICKS:
            self._anchor(pts, earliest_ns)
        self._last_pts = pts
        due_ns = self._anchor_ns + (pts - self._anchor_pts) * _NS_PER_S // VIDEO_CLOCK_RATE
        if abs(due_ns - earliest_ns) >= MAX_DRIFT_NS:
            self._anchor(pts, earliest_ns)
            due_ns = earliest_ns
        if due_ns - earliest_ns <= TOLERANCE_NS:
            return earliest_ns, pts
        return due_ns, pts

    def _anchor(self, pts: int, at_ns: int) -> None:
        self._anchored = True
        self._anchor_ns = at_ns
        self._anchor_pts = pts


def make_pacer(timestamped: bool) -> Pacer:
    """A :class:`TimestampPacer` for pipelines that keep input timestamps, else throughput."""
    return TimestampPacer() if timestamped else ThroughputPacer()
