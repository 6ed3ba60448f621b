"""What a trial keeps while it streams: per-frame extras, each segment's window, the frame table.

:class:`FrameRecorder` runs in the receive loop (stamp id, thumbnail, luma change per
frame); :class:`Window` is the part of a session that belongs to one segment, with the
stimuli fired in it; :func:`frame_table` joins the session's frame log with the recorder's
lists for the analysis (:mod:`lab.measure.analysis`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.headless import HeadlessSession
from lab.hosted import HostedSession
from lab.measure.change import ChangeDetection, thumbnail
from lab.measure.spec import ControlChange
from lab.quality.samples import InputKeeper, LumaChange, PairSampler
from lab.rtc import ReceivedFrame, RtcSession
from lab.stamp import decode_stamp

__all__ = ["FrameRecorder", "Session", "Window", "frame_table"]

Session = RtcSession | HeadlessSession | HostedSession


class FrameRecorder:
    """Per-frame extras computed in the receive loop: stamp id, thumbnail, luma change.

    ``inputs`` keeps a stamped source's pictures for fidelity (:class:`InputKeeper`).
    """

    def __init__(self, read_stamps: bool, inputs: InputKeeper | None = None) -> None:
        self.read_stamps = read_stamps
        self.inputs = inputs
        self.stamp_ids: list[int | None] = []
        self.thumbs: list[np.ndarray] = []
        self.luma_changes: list[float] = []
        self._luma_change = LumaChange()

    def __call__(self, frame: ReceivedFrame) -> None:
        if self.read_stamps:
            self.stamp_ids.append(decode_stamp(frame.frame).frame_id)
        self.thumbs.append(thumbnail(frame.frame))
        self.luma_changes.append(self._luma_change(frame.frame))

    def stamp_id(self, frame: ReceivedFrame) -> int | None:
        """The stamp id read from ``frame`` (its ``seq`` indexes this recorder's lists)."""
        return self.stamp_ids[frame.seq] if self.read_stamps and frame.seq < len(self.stamp_ids) else None


@dataclass
class Window:
    """The part of a session that belongs to one segment: [start_ns, end_ns)."""

    start_ns: int
    end_ns: int | None = None
    settle: ChangeDetection | None = None
    sent_ns: int | None = None
    controls: list[tuple[int, ControlChange]] = field(default_factory=list)
    switches: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    pairs: PairSampler | None = None  # the quality samples taken in the measured window
    quiet_ns: int | None = None  # when the last step response had passed


def frame_table(session: Session, recorder: FrameRecorder) -> tuple[pd.DataFrame, np.ndarray]:
    """The whole session's frames (times relative to the offer, stamp ids) and thumbnails."""
    frames = session.log.to_dataframe()
    if frames.empty:
        return frames, np.empty((0,))
    origin = session.timeline.offer_sent_ns or int(frames["complete_ns"].iloc[0])
    frames["t_s"] = (frames["complete_ns"] - origin) / 1e9
    if recorder.read_stamps:
        frames["stamp_id"] = pd.array(recorder.stamp_ids[: len(frames)], dtype="Int64")
    frames["luma_change"] = np.array(recorder.luma_changes[: len(frames)], dtype=float)
    return frames, np.array(recorder.thumbs[: len(frames)])
