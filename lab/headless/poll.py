"""Poll a session's latest frame: ``GET /api/v1/session/frame`` (a JPEG) at a fixed rate.

The simplest integration: any web page can show an ``<img>`` it refreshes. It sees only
what exists when each poll lands, so the frame rate it can see is capped by the poll rate,
and a frame shows up to one poll interval after it was made. Polls go one after another
(the next is due ``1 / poll_hz`` after the previous was due, or at once if that has passed);
a frame counts as new when its JPEG differs from the previous one (the server encodes the
same frame to the same bytes), so repeated frames (a paused stream) are not counted. A
new frame's arrival (``complete_ns``) is when its answer arrived; ``first_packet_ns``
holds when that poll was sent, and ``pts`` the poll's number.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from lab.client import ScopeClient
from lab.errors import ServerError
from lab.feed import ReceivedFrame

__all__ = ["DEFAULT_POLL_HZ", "FRAME_PATH", "PollCounts", "poll_frames"]

FRAME_PATH = "/api/v1/session/frame"
DEFAULT_POLL_HZ = 30.0


@dataclass
class PollCounts:
    """What the polling did: requests, answers without a frame (404), new frames seen."""

    polls: int = 0
    empty: int = 0
    new_frames: int = 0


def _decode_jpeg(data: bytes) -> av.VideoFrame:
    with Image.open(io.BytesIO(data)) as image:
        return av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")


async def poll_frames(client: ScopeClient, deliver: Callable[[ReceivedFrame], None], opened: Callable[[], None],
                      counts: PollCounts, *, poll_hz: float = DEFAULT_POLL_HZ) -> None:
    """Poll until cancelled; ``opened`` is called at the first answer, ``deliver`` with each new frame.

    Raises
    ------
    ServerError
        For any refusal but 404 "no frame available" (which only means: not yet).
    """
    interval_ns = round(1e9 / poll_hz)
    exchange = await client.exchange()
    due_ns = time.perf_counter_ns()
    last_digest: bytes | None = None
    while True:
        sent_ns = time.perf_counter_ns()
        try:
            response = await exchange.send("GET", FRAME_PATH, expect_json=False, retry=False)
            data: bytes | None = response.content
        except ServerError as exc:
            if exc.status_code != 404:
                raise
            data = None
        arrived_ns = time.perf_counter_ns()
        if counts.polls == 0:
            opened()
        counts.polls += 1
        counts.empty += data is None
        digest = None if data is None else hashlib.blake2b(data, digest_size=16).digest()
        if data is not None and digest != last_digest:
            last_digest = digest
            frame = await asyncio.to_thread(_decode_jpeg, data)
            deliver(ReceivedFrame(counts.new_frames, arrived_ns, sent_ns, time.perf_counter_ns(), counts.polls,
                                  frame.width, frame.height, frame))
            counts.new_frames += 1
        due_ns = max(due_ns + interval_ns, time.perf_counter_ns())
        await asyncio.sleep((due_ns - time.perf_counter_ns()) / 1e9)
