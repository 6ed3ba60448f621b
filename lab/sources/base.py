"""The shared core of every source: a paced, recording, optionally stamping video track.

:class:`VideoSource` is an aiortc ``MediaStreamTrack`` (kind ``"video"``). Subclasses only
say what each frame looks like (:meth:`VideoSource.render`); the base class paces the
frames, sets their pts, stamps them and records them:

* Frame ``n`` is due ``pts / 90000`` s after the first ``recv()``, with
  ``pts = round(n * 90000 / fps)`` on the 90 kHz RTP video clock. Due times come from
  that one anchor on ``time.perf_counter``, so the rate does not drift over long runs.
* A consumer that falls more than ``REANCHOR_LAG_S`` behind (a stalled event loop) gets
  the next frame at once and the schedule restarts from there, with the pts jumping by
  the time lost, rather than a burst of overdue frames.
* Each emitted frame appends a :class:`FrameRecord` (frame id, pts, ``sent_ns`` on
  ``time.perf_counter_ns``) to ``source.records``, and is handed with its picture to the
  callbacks in ``source.on_sent`` (e.g. to keep some inputs for fidelity figures).
* With ``stamp=True`` each frame carries its frame id (:mod:`lab.stamp`).
* ``stop()`` ends a source; ``recv()`` then raises aiortc's ``MediaStreamError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack
from numpy.typing import NDArray

from lab.stamp import STAMP_HEIGHT_PX, STAMP_WIDTH_PX, stamp_frame

__all__ = ["FrameRecord", "VideoSource", "Picture", "DEFAULT_WIDTH", "DEFAULT_HEIGHT", "DEFAULT_FPS",
           "REANCHOR_LAG_S", "read_only", "fit_picture", "as_picture"]

log = logging.getLogger(__name__)

DEFAULT_WIDTH = 512
DEFAULT_HEIGHT = 512
DEFAULT_FPS = 30.0
# How late a frame may be before the schedule restarts instead of catching up
# (the same discontinuity threshold as Scope's own output pacer).
REANCHOR_LAG_S = 0.25

Picture = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One frame a source emitted: its id, its pts (90 kHz) and when ``recv()`` returned it."""

    frame_id: int
    pts: int
    sent_ns: int


def read_only(picture: Picture) -> Picture:
    """``picture``, marked read-only (precomputed pictures are shared between frames)."""
    picture.flags.writeable = False
    return picture


def fit_picture(frame: av.VideoFrame, width: int, height: int) -> Picture:
    """``frame`` as an RGB array of exactly ``width`` x ``height`` (rescaled if needed)."""
    return frame.to_ndarray(width=width, height=height, format="rgb24")


def as_picture(array: NDArray[Any], width: int, height: int) -> Picture:
    """An RGB or gray uint8 array, rescaled to ``width`` x ``height``, read-only."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, np.newaxis], 3, axis=2)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"Cannot use a {array.dtype} array of shape {array.shape} as a picture: "
            "expected uint8, height x width x 3 (RGB) or height x width (gray)."
        )
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
    return read_only(fit_picture(frame, width, height))


class VideoSource(MediaStreamTrack):
    """Base of all sources: an aiortc video track that paces, stamps and records its frames.

    Subclasses implement :meth:`render`; everything else is shared.

    Parameters
    ----------
    width, height:
        Frame size in pixels; both even (VP8 and H.264 use 4:2:0 chroma). Scope expects
        multiples of 16, e.g. 512 x 512 or 576 x 320 (width x height).
    fps:
        Frame rate the source paces itself to.
    stamp:
        Write each frame's id into its top-left corner (:func:`lab.stamp.stamp_frame`).
    start_id:
        Id of the first frame; ids then increase by one per frame.

    Attributes
    ----------
    records:
        One :class:`FrameRecord` per emitted frame, in order.
    on_sent:
        Callbacks called with each emitted frame's record and picture (as sent, stamped;
        treat it as read-only), in the sending path: keep them fast.
    """

    kind = "video"

    def __init__(
        self, width: int, height: int, fps: float, *, stamp: bool = False, start_id: int = 0
    ) -> None:
        super().__init__()
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(
                f"Cannot make a {width}x{height} source: width and height must be positive "
                "and even (4:2:0 video); Scope expects multiples of 16."
            )
        if stamp and (width < STAMP_WIDTH_PX or height < STAMP_HEIGHT_PX):
            raise ValueError(
                f"Cannot stamp {width}x{height} frames: the stamp needs at least "
                f"{STAMP_WIDTH_PX}x{STAMP_HEIGHT_PX} px."
            )
        if not fps > 0:
            raise ValueError(f"Cannot pace a source at {fps} fps: the rate must be positive.")
        self.width = width
        self.height = height
        self.fps = float(fps)
        self.stamp = stamp
        self.start_id = start_id
        self.records: list[FrameRecord] = []
        self.on_sent: list[Callable[[FrameRecord, Picture], None]] = []
        self._index = 0
        self._start: float | None = None
        self._skipped_ticks = 0

    @abstractmethod
    def render(self, index: int) -> Picture:
        """The picture of the ``index``-th frame (0-based), height x width x 3 RGB uint8.

        Called once per emitted frame, in order. The result may be shared: treat it as
        read-only.
        """

    async def recv(self) -> av.VideoFrame:
        """Wait until the next frame is due, then return it (and record it).

        Raises
        ------
        MediaStreamError
            Once the source has been stopped.
        """
        index = self._index
        pts = await self._wait_for(index)
        picture = self.render(index)
        frame_id = self.start_id + index
        if self.stamp:
            picture = stamp_frame(picture, frame_id)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        self._index = index + 1
        record = FrameRecord(frame_id, pts, time.perf_counter_ns())
        self.records.append(record)
        for callback in self.on_sent:
            callback(record, picture)
        return frame

    async def _wait_for(self, index: int) -> int:
        """Sleep until frame ``index`` is due and return its pts; raise once stopped."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        pts = self._skipped_ticks + round(index * VIDEO_CLOCK_RATE / self.fps)
        lag_s = now - (self._start + pts / VIDEO_CLOCK_RATE)
        if lag_s > REANCHOR_LAG_S:
            log.debug("%s fell %.0f ms behind at frame %d; restarting its schedule",
                      type(self).__name__, lag_s * 1e3, index)
            skipped = round(lag_s * VIDEO_CLOCK_RATE)
            self._skipped_ticks += skipped
            pts += skipped
        elif lag_s < 0:
            await asyncio.sleep(-lag_s)
            if self.readyState != "live":
                raise MediaStreamError
        return pts
