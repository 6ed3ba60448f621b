"""The headless session's ``output.ts``: its frames as live H.264 in MPEG-TS, to every client.

One encoder and muxer per session (PyAV: libx264 with zero-latency tuning, so no frame is
held back, and a key frame every ``GOP_FRAMES`` frames), fed with every frame the session's
output pacer lets go. The muxer flushes after each frame and repeats PAT and PMT before
each one, so a frame's bytes form one self-contained piece: a client starts at the next
key frame after it connects (with the tables and the in-band SPS/PPS it needs) and then
gets every piece in order. The PES length is written (FFmpeg leaves it out for video by
default), so a demuxer can hand a frame on as soon as its last byte is in.

As in Scope, the stream is declared at 30 fps, yuv420p, odd sizes padded to even (the
last row or column repeated). Timestamps are the output track's (90 kHz), so they
follow the real pacing, not the declared rate. The simulator's pipelines make no audio.

A client that falls ``MAX_BEHIND_PIECES`` pieces behind is cut off (its stream ends), so
one stalled reader cannot make the simulator hold an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from fractions import Fraction

import av
from av.video.stream import VideoStream

from lab.sim.media.h264 import add_h264_stream, pad_to_even

__all__ = ["DECLARED_FPS", "GOP_FRAMES", "TsOutput"]

logger = logging.getLogger(__name__)

DECLARED_FPS = 30
GOP_FRAMES = 15  # a late client waits at most this many frames for a key frame
MAX_BEHIND_PIECES = 300  # about 10 s at 30 fps
_TIME_BASE = Fraction(1, 90_000)
_MUXER_OPTIONS = {
    "flush_packets": "1",  # write each frame out at once, not when a 32 kB buffer is full
    "mpegts_flags": "pat_pmt_at_frames",  # every frame can start a client's stream
    "omit_video_pes_length": "0",  # a reader knows a frame is complete without the next one
}
_ENCODER_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "g": str(GOP_FRAMES),
                    "keyint_min": str(GOP_FRAMES), "sc_threshold": "0"}


class _Pieces:
    """The muxer's output file: collects what one frame writes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class _Client:
    """One ``output.ts`` reader: its queue of pieces, and whether it has seen a key frame."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_BEHIND_PIECES)
        self.started = False


class TsOutput:
    """Encodes a session's output frames once and streams the pieces to every client.

    :meth:`encode` is blocking (run it off the event loop); :meth:`publish` and
    :meth:`stream` belong to the event loop.
    """

    def __init__(self) -> None:
        self._file = _Pieces()
        self._container: av.container.OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._clients: set[_Client] = set()
        self._last_pts: int | None = None
        self._lock = threading.Lock()  # encode runs in a worker thread; close must not race it
        self.closed = False

    @property
    def clients(self) -> int:
        """Readers connected now."""
        return len(self._clients)

    def encode(self, frame: av.VideoFrame) -> tuple[bytes, bool]:
        """Encode and mux one frame (its ``pts`` on the 90 kHz clock); return its bytes and
        whether it is a key frame (nothing once closed)."""
        with self._lock:
            return (b"", False) if self.closed else self._encode(frame)

    def _encode(self, frame: av.VideoFrame) -> tuple[bytes, bool]:
        stream = self._stream or self._open(frame.width, frame.height)
        pts = frame.pts or 0
        if self._last_pts is not None:
            pts = max(pts, self._last_pts + 1)  # the muxer refuses timestamps that go back
        self._last_pts = pts
        picture = pad_to_even(frame).reformat(width=stream.width, height=stream.height, format="yuv420p")
        picture.pts, picture.time_base = pts, _TIME_BASE
        key = False
        assert self._container is not None
        for packet in stream.encode(picture):
            key = key or packet.is_keyframe
            self._container.mux(packet)
        return self._file.take(), key

    def prepare(self, width: int, height: int) -> None:
        """Open the encoder and write the stream header before the first frame (blocking), so
        that starting x264 does not delay the first frame; a frame of another size is scaled."""
        with self._lock:
            if not self.closed and self._stream is None:
                self._open(width, height)
                assert self._container is not None
                self._container.start_encoding()
                self._file.take()  # the header goes out with the first frame's tables anyway

    def publish(self, data: bytes, key: bool) -> None:
        """Queue one frame's bytes to every client (from its first key frame on)."""
        for client in list(self._clients):
            client.started = client.started or key
            if not client.started or not data:
                continue
            try:
                client.queue.put_nowait(data)
            except asyncio.QueueFull:
                logger.warning("output.ts: a client fell %d frames behind; ending its stream",
                               MAX_BEHIND_PIECES)
                self._drop(client)

    async def stream(self) -> AsyncIterator[bytes]:
        """A new client's bytes, from the next key frame on, until the session closes."""
        client = _Client()
        self._clients.add(client)
        try:
            while not self.closed:
                data = await client.queue.get()
                if data is None:
                    return
                yield data
        finally:
            self._clients.discard(client)

    def close(self) -> None:
        """End every client's stream and release the encoder."""
        self.closed = True
        for client in list(self._clients):
            self._drop(client)
        with self._lock:
            if self._container is not None:
                self._container.close()
                self._container = None

    def _drop(self, client: _Client) -> None:
        self._clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)

    def _open(self, width: int, height: int) -> VideoStream:
        self._container = av.open(self._file, "w", format="mpegts", options=_MUXER_OPTIONS)
        self._stream = add_h264_stream(self._container, width, height, time_base=_TIME_BASE,  # 90 kHz kept exact
                                       options=_ENCODER_OPTIONS, rate=DECLARED_FPS)
        return self._stream

