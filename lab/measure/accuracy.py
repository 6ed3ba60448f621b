"""Compare client measurements with the simulator's ground truth (accuracy tests, benchmarks).

The simulator records, per output frame, the stamp id of the input it came from and its
internal delay (input received to output handed to its sender). Client latency minus that
internal delay is the loopback transport both ways: the baseline that a perfect
instrument would add to the simulator's own delay.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["latency_minus_internal_ms", "SKIP_START_FRAMES"]

SKIP_START_FRAMES = 5  # the first frames include connection start-up


def latency_minus_internal_ms(joined: pd.DataFrame, truth_frames: pd.DataFrame) -> pd.Series:
    """Per stamped frame (first arrival of each id): client latency minus internal delay, in ms.

    ``joined`` comes from :func:`lab.measure.latency.join_stamped`; ``truth_frames`` is the
    ``frames`` table of ``GET /sim/sessions/{id}/truth``.
    """
    internal = truth_frames.dropna(subset=["input_stamp_id"]).drop_duplicates("input_stamp_id")
    internal_ms = internal.set_index(internal["input_stamp_id"].astype(int))["internal_delay_ns"] / 1e6
    first = joined.dropna(subset=["latency_ms"]).drop_duplicates("stamp_id").iloc[SKIP_START_FRAMES:]
    return (first["latency_ms"].astype(float) - first["stamp_id"].astype(int).map(internal_ms)).dropna()
