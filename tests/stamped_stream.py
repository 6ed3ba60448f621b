"""Stream a stamped source through a pipeline and return the frames joined with what was sent.

The shortest path to exact per-frame latency for frame-preserving pipelines
(passthrough, gray), without a trial's analysis: used by the accuracy tests and by
``bench/bench_accuracy.py`` and ``bench/bench_loopback.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from lab.client import ScopeClient
from lab.measure.latency import join_stamped
from lab.stamp import decode_stamp
from lab.rtc import SessionTimeline, open_session
from lab.sources import StampedSource

__all__ = ["StampedRun", "stream_stamped"]


@dataclass(frozen=True)
class StampedRun:
    """Frames of one stamped session (with ``stamp_id``, ``sent_ns``, ``latency_ms``) and its ids."""

    frames: pd.DataFrame
    session_id: str | None
    timeline: SessionTimeline


async def stream_stamped(client: ScopeClient, pipeline_ids: Sequence[str], *, width: int = 512, height: int = 512,
                      fps: float = 15.0, seconds: float = 5.0) -> StampedRun:
    """Stream ``seconds`` of stamped input through loaded ``pipeline_ids`` and join by stamp id."""
    source = StampedSource(width, height, fps)
    ids: dict[int, int | None] = {}
    try:
        async with open_session(client, pipeline_ids, source=source) as session:
            session.on_frame(lambda f: ids.__setitem__(f.seq, decode_stamp(f.frame).frame_id))
            await asyncio.sleep(seconds)
            frames = session.log.to_dataframe()
    finally:
        source.stop()
    frames["stamp_id"] = pd.array([ids.get(s) for s in frames["seq"]], dtype="Int64")
    return StampedRun(join_stamped(frames, source.records), session.session_id, session.timeline)
