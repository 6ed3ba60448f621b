"""Received output frames, however they came: the per-frame log and the ways to wait for them.

Shared by every path a client reads Scope's output through: a WebRTC session
(:mod:`lab.rtc`) and the headless session's readers (:mod:`lab.headless`). Each path
decodes frames its own way and hands them to a :class:`FrameFeed`, which keeps the frame
log, calls the per-frame callbacks and serves :meth:`FrameFeed.frames` iterators, so that
measurements read every path alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import pandas as pd

from lab.errors import StreamError, StreamStalledError

__all__ = ["FrameFeed", "FrameLog", "ReceivedFrame", "SUBSCRIBER_QUEUE_FRAMES"]

SUBSCRIBER_QUEUE_FRAMES = 120


@dataclass(frozen=True)
class ReceivedFrame:
    """One decoded output frame and its timing; ``frame`` is the decoded image (not copied)."""

    seq: int
    complete_ns: int
    first_packet_ns: int | None
    decoded_ns: int
    pts: int
    width: int
    height: int
    frame: av.VideoFrame = field(repr=False, compare=False)

    def rgb(self) -> Any:
        """The pixels as an ``HxWx3`` uint8 numpy array (converted on demand)."""
        return self.frame.to_ndarray(format="rgb24")


class FrameLog:
    """Per-frame timings of a session in columns (no pixels), cheap to append."""

    COLUMNS = ("seq", "complete_ns", "first_packet_ns", "decoded_ns", "pts", "width", "height")

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in self.COLUMNS}

    def append(self, frame: ReceivedFrame) -> None:
        for name, column in self._columns.items():
            column.append(getattr(frame, name))

    def __len__(self) -> int:
        return len(self._columns["seq"])

    def arrivals_ns(self) -> np.ndarray:
        """Arrival times (``complete_ns``) so far, without building a DataFrame."""
        return np.asarray(self._columns["complete_ns"], dtype=np.int64)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per frame; ``receive_bias_ms`` is decoded minus complete time."""
        frame = pd.DataFrame(self._columns)
        frame["receive_bias_ms"] = (frame["decoded_ns"] - frame["complete_ns"]) / 1e6
        return frame


class FrameFeed:
    """A session's received frames: the log, callbacks, and iterators that stall or stop.

    Parameters
    ----------
    where:
        Returns the server URL and session id, for the errors the iterators raise.

    Attributes
    ----------
    log:
        Every frame delivered (:class:`FrameLog`).
    frames_dropped_by_consumer:
        Frames a slow :meth:`frames` iterator lost (never the log).
    """

    def __init__(self, where: Callable[[], tuple[str, str | None]]) -> None:
        self.log = FrameLog()
        self.frames_dropped_by_consumer = 0
        self.stopped: StreamError | None = None
        self._where = where
        self._callbacks: list[Callable[[ReceivedFrame], None]] = []
        self._subscribers: list[asyncio.Queue[ReceivedFrame | None]] = []
        self._ended = asyncio.Event()

    def deliver(self, frame: ReceivedFrame) -> None:
        """Record a frame, call the callbacks and hand it to every iterator."""
        self.log.append(frame)
        for callback in self._callbacks:
            callback(frame)
        for queue in self._subscribers:
            self._put(queue, frame)

    def end(self) -> None:
        """No more frames will come (the stream ended or the session closed)."""
        self._ended.set()
        self._wake()

    def stop(self, error: StreamError) -> None:
        """The server stopped the stream: iterators raise ``error``."""
        self.stopped = error
        self._wake()

    def on_frame(self, callback: Callable[[ReceivedFrame], None]) -> None:
        """Call ``callback`` with every frame, as it is delivered (keep it fast)."""
        self._callbacks.append(callback)

    async def frames(self, *, stall_timeout_s: float | None = None) -> AsyncIterator[ReceivedFrame]:
        """Frames from now on, as they arrive.

        Ends when the feed ends. Raises the stop error when the server stops the stream
        and :class:`StreamStalledError` when no frame arrives for ``stall_timeout_s``. A
        slow consumer loses the oldest frames (counted in ``frames_dropped_by_consumer``).
        """
        queue: asyncio.Queue[ReceivedFrame | None] = asyncio.Queue(SUBSCRIBER_QUEUE_FRAMES)
        self._subscribers.append(queue)
        try:
            while True:
                if self.stopped is not None:
                    raise self.stopped
                if self._ended.is_set() and queue.empty():
                    return
                try:
                    async with asyncio.timeout(stall_timeout_s):
                        item = await queue.get()
                except TimeoutError:
                    url, session_id = self._where()
                    raise StreamStalledError(url=url, session_id=session_id,
                                             stalled_s=float(stall_timeout_s or 0), frames=len(self.log)) from None
                if item is None:
                    if self.stopped is not None:
                        raise self.stopped
                    return
                yield item
        finally:
            self._subscribers.remove(queue)

    async def wait_frames(self, count: int, *, stall_timeout_s: float = 10.0) -> None:
        """Wait until the log holds at least ``count`` frames."""
        if len(self.log) >= count:
            return
        async for _ in self.frames(stall_timeout_s=stall_timeout_s):
            if len(self.log) >= count:
                return

    def _wake(self) -> None:
        """Tell every iterator to re-check the feed (ended or stopped)."""
        for queue in self._subscribers:
            self._put(queue, None)

    def _put(self, queue: asyncio.Queue[ReceivedFrame | None], item: ReceivedFrame | None) -> None:
        if queue.full():
            queue.get_nowait()
            self.frames_dropped_by_consumer += 1
        queue.put_nowait(item)
