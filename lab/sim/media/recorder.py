"""A server-side recording of a session's output: the frames its track sends, as an MP4 file.

Scope's ``/api/v1/recordings/{session_id}`` records what a session sends and serves it as an
MP4 download. Here each sent frame is copied on the event loop (about a millisecond at
512x512) and encoded by one worker thread, so encoding never holds up the output track.
Frames keep their send times: a frame's timestamp is its send time from the first frame's,
in milliseconds, so the file's timing is the stream's timing (how Scope times its file is
not known). Odd sizes are padded to even, as Scope pads them for recordings.
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lab.sim.media.h264 import add_h264_stream, pad_to_even

__all__ = ["Recorder"]

logger = logging.getLogger(__name__)

_TIME_BASE = Fraction(1, 1000)
_BACKLOG_FRAMES = 120  # frames waiting for the encoder; more are dropped and counted
_STOP = None
_ENCODER_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency"}


class Recorder:
    """Encodes frames handed to :meth:`write` into ``path`` until :meth:`close`.

    Attributes
    ----------
    frames
        Frames encoded so far (after :meth:`close`: all of them).
    dropped
        Frames not recorded because the encoder had fallen ``_BACKLOG_FRAMES`` behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self.dropped = 0
        self._pending: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(_BACKLOG_FRAMES)
        self._first_ns: int | None = None
        self._last_ms = -1
        self._worker = threading.Thread(target=self._encode_all, name=f"recorder-{path.stem}", daemon=True)
        self._worker.start()

    def write(self, frame: av.VideoFrame, sent_ns: int) -> None:
        """Record a frame sent at ``sent_ns`` (a copy is queued; the frame is not kept)."""
        picture = pad_to_even(frame).reformat(format="yuv420p").to_ndarray()
        if self._first_ns is None:
            self._first_ns = sent_ns
        try:
            self._pending.put_nowait((picture, sent_ns - self._first_ns))
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Encode what is queued, finish the file and wait for the worker (blocking)."""
        self._pending.put(_STOP)
        self._worker.join()

    def _encode_all(self) -> None:
        container = av.open(str(self.path), mode="w", format="mp4")
        stream: av.VideoStream | None = None
        try:
            while (item := self._pending.get()) is not _STOP:
                picture, offset_ns = item
                if stream is None:  # a yuv420p array has height * 3/2 rows
                    stream = add_h264_stream(container, picture.shape[1], picture.shape[0] * 2 // 3,
                                             time_base=_TIME_BASE, options=_ENCODER_OPTIONS)
                self._encode(container, stream, picture, offset_ns)
            if stream is not None:
                container.mux(stream.encode(None))
        except (av.FFmpegError, OSError) as exc:
            logger.error("Recording %s failed: %s", self.path.name, exc)
        finally:
            container.close()

    def _encode(self, container: av.container.OutputContainer, stream: av.VideoStream,
                picture: np.ndarray, offset_ns: int) -> None:
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        # Timestamps must grow: two frames sent in the same millisecond go 1 ms apart.
        self._last_ms = max(offset_ns // 1_000_000, self._last_ms + 1)
        frame.pts, frame.time_base = self._last_ms, _TIME_BASE
        container.mux(stream.encode(frame))
        self.frames += 1

