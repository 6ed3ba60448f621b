"""Rates of what the simulator sent: the truth for ``fps_out``, ``warmup_s`` and ``stalls``.

The accuracy tests and benchmarks hold the client's figures (:mod:`lab.measure.arrivals`,
from arrival times) against the same definitions applied here to the simulator's own
records: when it sent each frame and which chunk made it. This module imports none of the
measuring code, so that a fault there is not copied into the truth. It is also simpler,
because the records say what the client has to infer (which frames went out together):

- a **unit** is what went out together: one frame of a paced stream, or one chunk's frames
  of an unpaced one (the caller says which, from how it set the simulator up);
- **rolling rate**: from a unit's first send to that of the first later unit at least
  ``WINDOW_S`` on, the frames of the units in between over that time;
- **warm-up end**: the first send of the first window that starts a run of windows within
  ``TOLERANCE`` of the steady rate whose ends span ``HOLD_S``; the steady rate is the
  median of the windows that end in the second half of the stream;
- **steady fps**: from the warm-up end on, the frames of every unit but the last over the
  time from the first unit's first send to the last one's;
- **stall**: a gap from one unit's last send to the next unit's first longer than
  ``STALL_FACTOR`` times the median such gap, starting at or after the warm-up end.

Times are seconds from the first frame sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["SentUnits", "rolling_rates", "steady_fps", "stall_gaps_s", "warmup_end_s"]

WINDOW_S = 1.0
TOLERANCE = 0.10
HOLD_S = 2.0
STALL_FACTOR = 3.0


@dataclass(frozen=True)
class SentUnits:
    """First and last send (s, from the first frame) and frame count of each unit, in order."""

    first_s: NDArray[np.float64]
    last_s: NDArray[np.float64]
    frames: NDArray[np.int64]

    @classmethod
    def from_truth(cls, truth_frames: pd.DataFrame, *, chunked: bool) -> SentUnits:
        """Units of the ``frames`` table of ``GET /sim/sessions/{id}/truth`` (repeats of a
        paused stream left out): each chunk's frames if ``chunked``, else each frame."""
        new = truth_frames[truth_frames["kind"] == "frame"]
        sent_ns = new["sent_ns"].to_numpy(dtype=np.int64)
        sent_s = pd.Series((sent_ns - sent_ns[0]) / 1e9)
        by_unit = sent_s.groupby(new["chunk_index"].to_numpy() if chunked else np.arange(sent_s.size), sort=True)
        return cls(by_unit.min().to_numpy(), by_unit.max().to_numpy(), by_unit.size().to_numpy())


def rolling_rates(units: SentUnits) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """``(begin, end, fps)`` of every window: its first and end unit, and its rate."""
    ends = np.searchsorted(units.first_s, units.first_s + WINDOW_S, side="left")
    begins = np.flatnonzero(ends < units.first_s.size)
    ends = ends[begins]
    frames_before = np.concatenate(([0], np.cumsum(units.frames)))
    fps = (frames_before[ends] - frames_before[begins]) / (units.first_s[ends] - units.first_s[begins])
    return begins, ends, fps


def warmup_end_s(units: SentUnits, tolerance: float = TOLERANCE) -> float | None:
    """When the steady rate began (None if it never held for ``HOLD_S``); ``tolerance`` is the
    band's half-width as a share of the steady rate."""
    begins, ends, fps = rolling_rates(units)
    if fps.size == 0:
        return None
    end_s = units.first_s[ends]
    steady = float(np.median(fps[end_s >= units.last_s[-1] / 2]))
    in_band = np.abs(fps - steady) <= tolerance * steady
    # windows in band share a run number until a window out of band starts the next run
    runs = pd.DataFrame({"run": np.cumsum(~in_band), "end_s": end_s, "begin": begins})[in_band].groupby("run")
    held = runs["end_s"].max() - runs["end_s"].min() >= HOLD_S
    if not held.any():
        return None
    return float(units.first_s[runs["begin"].min()[held].iloc[0]])


def steady_fps(units: SentUnits, from_s: float) -> float | None:
    """Frames per second of the units that went out from ``from_s`` on (None if fewer than two)."""
    later = np.flatnonzero(units.first_s >= from_s)
    if later.size < 2:
        return None
    first, last = later[0], later[-1]
    return float(units.frames[first:last].sum() / (units.first_s[last] - units.first_s[first]))


def stall_gaps_s(units: SentUnits, from_s: float) -> list[float]:
    """The gaps between units longer than ``STALL_FACTOR`` times the median gap, from ``from_s`` on."""
    gaps = units.first_s[1:] - units.last_s[:-1]
    if gaps.size == 0:
        return []
    long = (gaps > STALL_FACTOR * float(np.median(gaps))) & (units.last_s[:-1] >= from_s)
    return [float(gap) for gap in gaps[long]]
