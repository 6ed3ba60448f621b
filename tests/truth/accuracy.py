"""Compare client measurements with the simulator's ground truth (accuracy tests, benchmarks).

The simulator records, per output frame, the stamp id of the input it came from and its
internal delay (input received to output handed to its sender). Client latency minus that
internal delay is the loopback transport both ways: the baseline that a perfect
instrument would add to the simulator's own delay.

The truth also records when each frame went on the wire (``wire_ns``: encoded and its
packets sent), and which output frame first showed a stimulus; :func:`sent_frame_arrivals`
finds when each sent frame reached the client (matched by RTP timestamp, which the
simulator records as ``pts``). The frame that answers a stimulus:

- a parameter change (e.g. ``prompts``): the first frame of the first chunk that applied
  it (the chunk whose ``update_received_ns`` is the message's receive time);
- ``paused``: the last new frame (``kind == "frame"``) before the first repeated one;
- an input scene switch (step test): the first frame made from an input at or after the
  switch frame (by ``input_stamp_id``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "SKIP_START_FRAMES",
    "control_truth_index",
    "latency_minus_internal_ms",
    "sent_frame_arrivals",
    "step_truth_index",
]

SKIP_START_FRAMES = 5  # the first frames include connection start-up
PTS_SLACK = 2  # ticks of the 90 kHz clock: the decoder may round a timestamp by one


def latency_minus_internal_ms(joined: pd.DataFrame, truth_frames: pd.DataFrame) -> pd.Series:
    """Per stamped frame (first arrival of each id): client latency minus internal delay, in ms.

    ``joined`` comes from :func:`lab.measure.latency.join_stamped`; ``truth_frames`` is the
    ``frames`` table of ``GET /sim/sessions/{id}/truth``.
    """
    internal = truth_frames.dropna(subset=["input_stamp_id"]).drop_duplicates("input_stamp_id")
    internal_ms = internal.set_index(internal["input_stamp_id"].astype(int))["internal_delay_ns"] / 1e6
    first = joined.dropna(subset=["latency_ms"]).drop_duplicates("stamp_id").iloc[SKIP_START_FRAMES:]
    return (first["latency_ms"].astype(float) - first["stamp_id"].astype(int).map(internal_ms)).dropna()


def sent_frame_arrivals(client_frames: pd.DataFrame, truth_frames: pd.DataFrame) -> pd.Series:
    """When each frame the simulator sent arrived at the client (``complete_ns``; NA if never).

    aiortc's receiver counts RTP timestamps from the first frame it got, so the client's
    ``pts`` is the simulator's minus that frame's (give or take ``PTS_SLACK`` ticks of
    rounding in the decoder). The origin is taken as the truth frame, among the first
    few, that makes the most timestamps match.

    Raises
    ------
    ValueError
        If fewer than half of the client's frames match a sent frame.
    """
    sent_pts = truth_frames["pts"].to_numpy(dtype=np.int64)
    order = np.argsort(client_frames["pts"].to_numpy(dtype=np.int64), kind="stable")
    client_pts = client_frames["pts"].to_numpy(dtype=np.int64)[order]
    client_ns = client_frames["complete_ns"].to_numpy(dtype=np.int64)[order]
    first_client_pts = int(client_frames["pts"].iloc[0])
    best = np.full(sent_pts.size, -1)
    for origin in sent_pts[:10]:
        keys = sent_pts - origin + first_client_pts
        nearest = np.clip(np.searchsorted(client_pts, keys), 0, max(client_pts.size - 1, 0))
        before = np.clip(nearest - 1, 0, None)
        nearest = np.where(np.abs(client_pts[before] - keys) < np.abs(client_pts[nearest] - keys), before, nearest)
        found = np.where(np.abs(client_pts[nearest] - keys) <= PTS_SLACK, nearest, -1)
        if (found >= 0).sum() > (best >= 0).sum():
            best = found
    matched = int((best >= 0).sum())
    if matched < client_pts.size / 2:
        raise ValueError(f"Only {matched} of {client_pts.size} client frames match a frame the simulator sent "
                         "(by RTP timestamp): were these frames from this session?")
    arrivals = pd.array([int(client_ns[i]) if i >= 0 else None for i in best], dtype="Int64")
    return pd.Series(arrivals, index=truth_frames.index, name="arrival_ns")


def control_truth_index(truth: dict[str, Any], stimulus_ns: int,
                        expect: Literal["change", "freeze"] = "change", source: str = "channel") -> int | None:
    """Row of ``truth["frames"]`` that answers an update sent at ``stimulus_ns``.

    ``truth`` is the JSON of ``GET /sim/sessions/{id}/truth``; the update is the first
    message from ``source`` (``"channel"``: the data channel; ``"rest"``:
    ``POST /api/v1/session/parameters``) received after ``stimulus_ns``. ``"change"``: the first frame of the
    chunk that applied it; ``"freeze"``: the last new frame before the first repeat after
    it. None when the output never answered.
    """
    messages = pd.DataFrame(truth["messages"])
    frames = pd.DataFrame(truth["frames"])
    later = messages[(messages["source"] == source) & (messages["received_ns"] >= stimulus_ns)]
    if later.empty or frames.empty:
        return None
    received_ns = int(later["received_ns"].iloc[0])
    if expect == "freeze":
        repeats = frames.index[(frames["kind"] == "repeat") & (frames["sent_ns"] >= received_ns)]
        if repeats.empty:
            return None
        new = frames.index[(frames["kind"] == "frame") & (frames.index < repeats[0])]
        return int(new[-1]) if not new.empty else None
    chunks = pd.DataFrame(truth["chunks"])
    applied = chunks.loc[chunks["update_received_ns"] == received_ns, "chunk_index"]
    if applied.empty:
        return None
    made = frames.index[(frames["kind"] == "frame") & (frames["chunk_index"] >= int(applied.iloc[0]))]
    return int(made[0]) if not made.empty else None


def step_truth_index(truth_frames: pd.DataFrame, switch_stamp_id: int) -> int | None:
    """Row of the first frame made from an input at or after the switch frame (stamp id)."""
    made = truth_frames.index[(truth_frames["kind"] == "frame")
                              & (truth_frames["input_stamp_id"].astype("Float64") >= switch_stamp_id)]
    return int(made[0]) if not made.empty else None
