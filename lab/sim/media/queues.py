"""The frames between the tracks and the frame processor, and the queues that hold them.

:class:`InputQueue` holds received input frames until a chunk takes them (sampled uniformly
from what is queued, like Scope); :class:`OutputBuffer` holds processed frames until the
output track sends them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np

from lab.sim.media.quality import NOTHING_INJECTED, Injected

__all__ = ["INPUT_QUEUE_MIN_FRAMES", "InputFrame", "InputQueue", "OutputBuffer", "OutputFrame"]

INPUT_QUEUE_MIN_FRAMES = 30
"""Input frames kept at least (twice a chunk if more); older frames are dropped beyond it."""


@dataclass(frozen=True, slots=True)
class InputFrame:
    """A received input frame: its receive order, time, and the stamp it carries (if any)."""

    seq: int
    frame: av.VideoFrame
    received_ns: int
    stamp_id: int | None


@dataclass(frozen=True, slots=True)
class OutputFrame:
    """A processed frame waiting to be sent.

    ``pts`` is the input timestamp to keep (pipelines that forward timestamps) or ``None``
    (paced by throughput); ``source`` is the input frame it was made from, if any;
    ``injected`` is the reference share and flicker painted into it (ground truth).
    """

    frame: av.VideoFrame
    ready_ns: int
    chunk_index: int
    pts: int | None
    source: InputFrame | None
    injected: Injected = NOTHING_INJECTED


class InputQueue:
    """Input frames waiting for the next chunk.

    Parameters
    ----------
    chunk_frames
        Frames per chunk; the queue keeps ``max(INPUT_QUEUE_MIN_FRAMES, 2 * chunk_frames)``.
    """

    def __init__(self, chunk_frames: int) -> None:
        capacity = max(INPUT_QUEUE_MIN_FRAMES, 2 * chunk_frames)
        self._frames: deque[InputFrame] = deque(maxlen=capacity)
        self._arrived = asyncio.Event()
        self.received = 0

    def put(self, frame: InputFrame) -> None:
        """Add a received frame (dropping the oldest when full)."""
        self._frames.append(frame)
        self.received += 1
        self._arrived.set()

    async def take(self, count: int) -> list[InputFrame]:
        """Wait for ``count`` frames, then take ``count`` sampled uniformly from all queued.

        The frames not sampled are dropped, as Scope drops them.
        """
        while len(self._frames) < count:
            self._arrived.clear()
            await self._arrived.wait()
        picks = np.linspace(0, len(self._frames) - 1, count).round().astype(int)
        chosen = [self._frames[i] for i in picks]
        self._frames.clear()
        return chosen


class OutputBuffer:
    """Processed frames waiting for the output track, with a wake-up signal.

    Anything the output track must react to (new frames, pause, resume, stop) calls
    :meth:`notify`.
    """

    def __init__(self) -> None:
        self._frames: deque[OutputFrame] = deque()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    def extend(self, frames: Iterable[OutputFrame]) -> None:
        """Queue frames for sending."""
        self._frames.extend(frames)
        self.notify()

    def pop(self) -> OutputFrame | None:
        """The oldest frame, or ``None`` when empty."""
        return self._frames.popleft() if self._frames else None

    def clear(self) -> int:
        """Drop every queued frame; return how many."""
        count = len(self._frames)
        self._frames.clear()
        return count

    def drop_ready(self, by_ns: int) -> int:
        """Drop the frames that were ready by ``by_ns`` (stale ones); return how many."""
        kept = deque(frame for frame in self._frames if frame.ready_ns > by_ns)
        dropped = len(self._frames) - len(kept)
        self._frames = kept
        return dropped

    def notify(self) -> None:
        """Wake a waiting :meth:`wait`."""
        self._changed.set()

    async def wait(self) -> None:
        """Wait for the next :meth:`notify` (or return at once if one is unseen)."""
        await self._changed.wait()
        self._changed.clear()
