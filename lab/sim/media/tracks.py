"""The session's media tracks: the output track aiortc sends, and the input reader.

:class:`OutputTrack` hands aiortc the processed frames at the times its pacer says, records
each one in the ground truth, and imitates what Scope's output track does when paused
(re-send the last frame at the current rate) and the ``stall`` and ``dead_after_unpause``
faults. Pacing runs on a clock shifted by the runtime ``extra_delay_s`` knob, so that knob
delays every frame by exactly that much without changing the cadence.

:func:`read_input` receives the client's video into the input queue, noting when each frame
arrived and the frame id stamped in it, if any.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc.mediastreams import (
    VIDEO_CLOCK_RATE,
    VIDEO_TIME_BASE,
    MediaStreamError,
    MediaStreamTrack,
)

from lab.stamp import decode_stamp
from lab.sim.faults import Fault
from lab.sim.media.pacing import Pacer
from lab.sim.media.quality import Injected
from lab.sim.media.queues import InputFrame, InputQueue, OutputBuffer, OutputFrame
from lab.sim.media.truth import SessionTruth

__all__ = ["OutputTrack", "read_input"]

logger = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class _Sent:
    """The last frame sent: what a pause repeats, and where pacing goes on from."""

    frame: av.VideoFrame
    chunk_index: int
    pts: int
    due_ns: int
    injected: Injected


async def _sleep_until(deadline_ns: int) -> None:
    delay_ns = deadline_ns - time.perf_counter_ns()
    if delay_ns > 0:
        await asyncio.sleep(delay_ns / _NS_PER_S)


class OutputTrack(MediaStreamTrack):
    """The video a session sends.

    Parameters
    ----------
    buffer
        Processed frames to send.
    pacer
        Decides when each frame goes and its timestamp.
    truth
        Where every sent frame is recorded.
    extra_delay_ns
        Returns the current extra delay added to every frame.
    on_start
        Called at the first ``recv()``: the stream starts when aiortc first asks for a frame.
    stall
        A ``stall`` fault to act out, if any.
    unpaced
        Send each frame as soon as it is ready (the pacer still gives its timestamp).

    Attributes
    ----------
    paused
        Re-send the last frame instead of new ones.
    dead
        Send nothing more, ever (``dead_after_unpause``).
    first_frame
        Set when the first frame has been sent.
    taps
        Called with every frame sent and its send time (server-side recordings).
    """

    kind = "video"

    def __init__(
        self,
        buffer: OutputBuffer,
        pacer: Pacer,
        truth: SessionTruth,
        *,
        extra_delay_ns: Callable[[], int],
        on_start: Callable[[], None],
        stall: Fault | None = None,
        unpaced: bool = False,
    ) -> None:
        super().__init__()
        self._buffer = buffer
        self._pacer = pacer
        self._truth = truth
        self._extra_delay_ns = extra_delay_ns
        self._on_start: Callable[[], None] | None = on_start
        self._stall = stall
        self._unpaced = unpaced
        self.paused = False
        self.dead = False
        self.first_frame = asyncio.Event()
        self.taps: list[Callable[[av.VideoFrame, int], None]] = []
        self._first_sent_ns = 0
        self._last: _Sent | None = None

    async def recv(self) -> av.VideoFrame:
        """The next frame, when it is due; raises ``MediaStreamError`` once stopped."""
        self._truth.frame_asked(time.perf_counter_ns())
        if self._on_start is not None:
            self._on_start()
            self._on_start = None
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._stall_if_due()
            if self.paused and not self.dead and self._last is not None:
                return await self._repeat(self._last)
            item = None if self.dead or self.paused else self._buffer.pop()
            if item is not None:
                return await self._send(item)
            await self._buffer.wait()

    @property
    def last_frame(self) -> av.VideoFrame | None:
        """The frame sent last (what ``/session/frame`` captures), if any."""
        return None if self._last is None else self._last.frame

    def stop(self) -> None:
        """End the track (and wake a waiting ``recv()`` so that it raises)."""
        super().stop()
        self._buffer.notify()

    async def _send(self, item: OutputFrame) -> av.VideoFrame:
        extra_ns = self._extra_delay_ns()
        earliest_ns = max(time.perf_counter_ns() - extra_ns, item.ready_ns)
        previous_ns = None if self._last is None else self._last.due_ns
        due_ns, pts = self._pacer.schedule(item, earliest_ns, previous_ns)
        if self._unpaced:
            due_ns = earliest_ns
        await _sleep_until(due_ns + extra_ns)
        return self._emit(
            item.frame, due_ns, pts, "frame", item.chunk_index, item.source, item.injected
        )

    async def _repeat(self, last: _Sent) -> av.VideoFrame:
        fps = self._pacer.fps
        extra_ns = self._extra_delay_ns()
        due_ns = max(time.perf_counter_ns() - extra_ns, last.due_ns + round(_NS_PER_S / fps))
        await _sleep_until(due_ns + extra_ns)
        pts = last.pts + int(VIDEO_CLOCK_RATE / fps)
        return self._emit(last.frame, due_ns, pts, "repeat", last.chunk_index, None, last.injected)

    def _emit(
        self,
        frame: av.VideoFrame,
        due_ns: int,
        pts: int,
        kind: str,
        chunk_index: int,
        source: InputFrame | None,
        injected: Injected,
    ) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        # RTP timestamps must not go back, e.g. for kept input timestamps after repeats.
        if self._last is not None:
            pts = max(pts, self._last.pts + 1)
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        sent_ns = time.perf_counter_ns()
        self._truth.add_frame(
            sent_ns=sent_ns, pts=pts, kind=kind, chunk_index=chunk_index, source=source,
            injected=injected,
        )
        for tap in self.taps:
            tap(frame, sent_ns)
        if not self.first_frame.is_set():
            self._first_sent_ns = sent_ns
            self.first_frame.set()
        self._last = _Sent(frame, chunk_index, pts, due_ns, injected)
        return frame

    async def _stall_if_due(self) -> None:
        fault = self._stall
        if fault is None or not self.first_frame.is_set():
            return
        if time.perf_counter_ns() < self._first_sent_ns + round(fault.after_s * _NS_PER_S):
            return
        self._stall = None
        logger.warning("Stall fault: the output track sends nothing for %.2f s", fault.duration_s)
        started_ns = time.perf_counter_ns()
        await asyncio.sleep(fault.duration_s)
        ended_ns = time.perf_counter_ns()
        dropped = self._buffer.drop_ready(ended_ns - self._extra_delay_ns())
        self._truth.stalls.append(started_ns=started_ns, ended_ns=ended_ns, frames_dropped=dropped)
        logger.info("Stall over; dropped %d frames that were ready meanwhile", dropped)


async def read_input(track: MediaStreamTrack, queue: InputQueue) -> None:
    """Receive ``track``'s frames into ``queue`` until the track ends.

    Each frame is stamped with its receive time and the frame id its pixels carry, if
    :func:`lab.stamp.decode_stamp` reads one (it samples a few cell centres only).
    """
    try:
        while True:
            frame = await track.recv()
            received_ns = time.perf_counter_ns()
            if not isinstance(frame, av.VideoFrame):  # a video track yields video frames
                continue
            stamp_id = decode_stamp(frame).frame_id
            queue.put(InputFrame(queue.received, frame, received_ns, stamp_id))
    except MediaStreamError:
        logger.debug("Input track ended after %d frames", queue.received)
