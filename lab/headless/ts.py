"""Read a headless session's ``output.ts``: MPEG-TS over HTTP, demuxed and decoded with PyAV.

The HTTP body is read on the event loop, chunk by chunk, each chunk stamped with its arrival
time; a worker thread demuxes and decodes it (PyAV blocks while it waits for bytes). A
frame's arrival (``complete_ns``) is when the chunk holding its last byte arrived: the
frame could be decoded from then on, as WebRTC's ``complete_ns`` is the frame's last RTP
packet. It is found from the packet's byte position in the stream. PyAV's H.264 parser
hands a frame on only when the next one begins, so ``decoded_ns`` lags it by about one
frame interval; like WebRTC's jitter-buffer lag, that is recorded, never used as arrival.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import queue
import threading
import time
from collections.abc import Callable

import av
import httpx

from lab.client import ScopeClient
from lab.feed import ReceivedFrame

__all__ = ["OUTPUT_TS", "read_output_ts"]

log = logging.getLogger(__name__)

OUTPUT_TS = "/api/v1/session/output.ts"
READ_TIMEOUT_S = 30.0  # a live stream may pause (a generative first chunk takes seconds)
# Open the stream as soon as its first frame is in: no probing ahead, no analysis window.
_DEMUX_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


class _Pipe:
    """The HTTP body as a blocking file for PyAV, remembering when each byte arrived."""

    def __init__(self) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._pending = b""
        self._lock = threading.Lock()
        self._ends: list[int] = []  # end offset (exclusive) of each chunk
        self._arrivals: list[int] = []
        self._size = 0

    def put(self, chunk: bytes, arrival_ns: int) -> None:
        with self._lock:
            self._size += len(chunk)
            self._ends.append(self._size)
            self._arrivals.append(arrival_ns)
        self._chunks.put(chunk)

    def close(self) -> None:
        self._chunks.put(None)

    def read(self, size: int) -> bytes:
        while not self._pending:
            chunk = self._chunks.get()
            if chunk is None:
                self._chunks.put(None)  # every later read sees the end too
                return b""
            self._pending = chunk
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def arrival_of(self, offset: int) -> int | None:
        """When the byte at ``offset`` arrived (None if it has not)."""
        with self._lock:
            index = bisect.bisect_right(self._ends, offset)
            return self._arrivals[index] if index < len(self._arrivals) else None


def _decode(pipe: _Pipe, deliver: Callable[[ReceivedFrame], None]) -> None:
    """Demux and decode until the stream ends (in a worker thread)."""
    try:
        container = av.open(pipe, format="mpegts", options=_DEMUX_OPTIONS)
    except (av.FFmpegError, StopIteration) as exc:
        log.info("output.ts ended before a frame could be read (%s)", exc)
        return
    with container:
        if not container.streams.video:
            log.warning("output.ts carries no video stream")
            return
        stream = container.streams.video[0]
        seq = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                position = packet.pos if packet.pos is not None and packet.pos >= 0 else None
                # The payload is smaller than the TS packets carrying it: start + size lies
                # inside the frame's own bytes, so its arrival is the frame's (a lower bound).
                last = None if position is None else pipe.arrival_of(position + packet.size - 1)
                first = None if position is None else pipe.arrival_of(position)
                for frame in packet.decode():
                    decoded_ns = time.perf_counter_ns()
                    deliver(ReceivedFrame(seq, last or decoded_ns, first, decoded_ns, frame.pts or 0,
                                          frame.width, frame.height, frame))
                    seq += 1
        except av.FFmpegError as exc:
            log.warning("output.ts could not be decoded further: %s", exc)


async def read_output_ts(client: ScopeClient, deliver: Callable[[ReceivedFrame], None],
                         opened: Callable[[], None]) -> None:
    """Read ``output.ts`` until it ends or the task is cancelled.

    ``opened`` is called when the response headers are in; ``deliver`` gets each decoded
    frame on the event loop, in order.

    Raises
    ------
    ServerError
        404 when no headless session is running (and other refusals, as for any request).
    """
    loop = asyncio.get_running_loop()
    pipe = _Pipe()
    decoder: asyncio.Future[None] | None = None
    timeout = httpx.Timeout(connect=5.0, read=READ_TIMEOUT_S, write=5.0, pool=5.0)
    try:
        async with (await client.exchange()).stream(OUTPUT_TS, timeout=timeout) as response:
            opened()
            decoder = loop.run_in_executor(
                None, _decode, pipe, lambda frame: loop.call_soon_threadsafe(deliver, frame))
            async for chunk in response.aiter_raw():
                pipe.put(chunk, time.perf_counter_ns())
    finally:
        pipe.close()
        if decoder is not None:
            await asyncio.shield(decoder)
