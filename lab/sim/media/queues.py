"""The frames between the tracks and the frame processor, and Scope's bounded queues that hold them.

Scope 0.2.4 keeps no unbounded backlog on the video path, and neither does the simulator:

* :class:`InputQueue` holds at most ``INPUT_QUEUE_FRAMES`` received frames and drops a *new*
  frame when full. A chunk waits until ``chunk_frames`` are queued, then takes that many
  sampled uniformly across everything queued and consumes the frames in between too; only
  the frames after the last sampled one stay (fewer than one sampling step). A pipeline
  slower than its input therefore skips input frames instead of falling behind them.
* :class:`OutputBuffer` holds processed frames until the output track sends them. It starts
  at ``OUTPUT_QUEUE_FRAMES``; a batch larger than half of it grows it to twice the batch, and
  frames that arrive when it is full are dropped (the new ones, not the queued ones).

Every input frame's fate (sampled into a chunk, skipped by the sampling, or dropped because
the queue was full) is recorded in the queue's ``ledger``, part of the session's ground
truth; output frames dropped are counted per batch by :meth:`OutputBuffer.extend`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import av

from lab.sim.media.columns import Columns
from lab.sim.media.quality import NOTHING_INJECTED, Injected
from lab.sim.profiles import INPUT_QUEUE_FRAMES

__all__ = [
    "INPUT_QUEUE_FRAMES",
    "OUTPUT_QUEUE_FRAMES",
    "InputFate",
    "InputFrame",
    "InputQueue",
    "OutputBuffer",
    "OutputFrame",
    "sample_indices",
]

OUTPUT_QUEUE_FRAMES = 8  # the output queue's starting size; large batches grow it

InputFate = Literal["sampled", "skipped", "dropped"]


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


def sample_indices(queued: int, count: int) -> list[int]:
    """Indices of ``count`` frames sampled uniformly from ``queued`` (``queued >= count``).

    The step is ``queued / count`` and each index is rounded down, so the first frame is
    always taken and fewer than one step's frames follow the last one.

    >>> sample_indices(30, 12)
    [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]
    >>> sample_indices(4, 4)
    [0, 1, 2, 3]
    """
    if not 0 < count <= queued:
        raise ValueError(f"cannot sample {count} of {queued} frames")
    return [i * queued // count for i in range(count)]


class InputQueue:
    """Input frames waiting for the next chunk (see the module docstring for the rules).

    Attributes
    ----------
    received
        Frames offered to the queue (kept or dropped): the server's ``frames_in``.
    ledger
        One row per input frame whose fate is decided: ``input_seq``, ``received_ns``,
        ``stamp_id``, ``fate`` (``"sampled"``, ``"skipped"`` or ``"dropped"``) and
        ``chunk_index`` (the chunk that consumed it; ``None`` when dropped).
    """

    def __init__(self, capacity: int = INPUT_QUEUE_FRAMES) -> None:
        self._capacity = capacity
        self._frames: deque[InputFrame] = deque()
        self._arrived = asyncio.Event()
        self.received = 0
        self.ledger = Columns("input_seq", "received_ns", "stamp_id", "fate", "chunk_index")

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: InputFrame) -> bool:
        """Queue a received frame; drop it (and return False) when the queue is full."""
        self.received += 1
        if len(self._frames) >= self._capacity:
            self._record(frame, "dropped", None)
            return False
        self._frames.append(frame)
        self._arrived.set()
        return True

    async def take(self, count: int, chunk_index: int) -> list[InputFrame]:
        """Wait for ``count`` frames, then take ``count`` sampled uniformly from all queued.

        The frames between the sampled ones are consumed too (skipped); the frames after the
        last sampled one stay for the next chunk.
        """
        while len(self._frames) < count:
            self._arrived.clear()
            await self._arrived.wait()
        picks = sample_indices(len(self._frames), count)
        picked = set(picks)
        chosen: list[InputFrame] = []
        for index in range(picks[-1] + 1):
            frame = self._frames.popleft()
            sampled = index in picked
            self._record(frame, "sampled" if sampled else "skipped", chunk_index)
            if sampled:
                chosen.append(frame)
        return chosen

    def _record(self, frame: InputFrame, fate: InputFate, chunk_index: int | None) -> None:
        self.ledger.append(
            input_seq=frame.seq,
            received_ns=frame.received_ns,
            stamp_id=frame.stamp_id,
            fate=fate,
            chunk_index=chunk_index,
        )


class OutputBuffer:
    """Processed frames waiting for the output track, bounded as Scope bounds them.

    Anything the output track must react to (new frames, pause, resume, stop) calls
    :meth:`notify`.
    """

    def __init__(self, capacity: int = OUTPUT_QUEUE_FRAMES) -> None:
        self._frames: deque[OutputFrame] = deque()
        self._changed = asyncio.Event()
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self._frames)

    def extend(self, frames: Iterable[OutputFrame], now_ns: int) -> int:
        """Queue a batch for sending; return how many of its frames were dropped (queue full).

        A batch larger than half the queue first grows the queue to twice the batch. Only
        frames ready by ``now_ns`` take room: a frame still inside its pipeline's fixed delay
        (``pipeline_delay_s``) stands for work in flight, not yet in Scope's output queue.
        """
        batch = list(frames)
        if len(batch) > self.capacity / 2:
            self.capacity = 2 * len(batch)
        queued = sum(1 for frame in self._frames if frame.ready_ns <= now_ns)
        room = max(self.capacity - queued, 0)
        self._frames.extend(batch[:room])
        self.notify()
        return len(batch) - min(room, len(batch))

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
