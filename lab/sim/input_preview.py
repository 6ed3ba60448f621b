"""MJPEG previews of a ``video_file`` input source, as Scope's input-source ``.../stream`` serves them.

``GET /api/v1/input-sources/{source_type}/sources/{identifier}/stream?fps=2&flip_vertical=false``
answers ``multipart/x-mixed-replace; boundary=frame``: one JPEG per part, ``fps`` parts a
second (1..30, default 2), at most 320 px wide, upside down with ``flip_vertical``. Refusals
come before the stream starts: 404 for an unknown source type, 400 for an unavailable one
(as the source list), 404 for a name that is no file and 400 for a file that holds no video
(the simulator's choice, as for ``/resolution``), 422 for ``fps`` out of range.

The simulator plays the file in real time from its start, looping it, and at each tick sends
the frame showing at that moment of the clip, scaled down to 320 px wide if wider (the
aspect ratio kept; narrower clips are not enlarged). Each part is
``--frame\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n<JPEG>\\r\\n``; the JPEG quality (80) and the
part headers are the simulator's choice. A stream runs until its client disconnects; then
the file is closed, and :class:`PreviewStreams` (shown as ``input_previews`` in
``/sim/state``) counts it no longer.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
from PIL import ImageOps

__all__ = ["BOUNDARY", "MAX_PREVIEW_WIDTH", "PreviewStreams", "preview_size"]

BOUNDARY = "frame"
MAX_PREVIEW_WIDTH = 320
_JPEG_QUALITY = 80
_PART_HEAD = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The preview's size: at most ``MAX_PREVIEW_WIDTH`` wide, the aspect ratio kept.

    Examples
    --------
    >>> preview_size(512, 512), preview_size(1280, 720), preview_size(200, 100)
    ((320, 320), (320, 180), (200, 100))
    """
    if width <= MAX_PREVIEW_WIDTH:
        return width, height
    return MAX_PREVIEW_WIDTH, max(1, round(height * MAX_PREVIEW_WIDTH / width))


class PreviewStreams:
    """The previews being streamed; each ends when its client disconnects.

    Attributes
    ----------
    open
        How many are streaming now.
    """

    def __init__(self) -> None:
        self.open = 0

    async def stream(self, path: Path, fps: int, *, flip_vertical: bool) -> AsyncIterator[bytes]:
        """The multipart body: a JPEG part every ``1 / fps`` seconds, until cancelled."""
        self.open += 1
        clip = _LoopedClip(path)
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            tick = 0
            while True:
                await asyncio.sleep(max(0.0, start + tick / fps - loop.time()))
                picture = await asyncio.to_thread(clip.jpeg_at, tick / fps, flip_vertical)
                yield _PART_HEAD + picture + b"\r\n"
                tick += 1
        finally:
            self.open -= 1
            clip.close()


class _LoopedClip:
    """A video file decoded forward as preview time goes on, from its start again after its end.

    A frame's time is its index over the stream's average rate. Calls may come from worker
    threads, one at a time; :meth:`close` waits for a call in progress.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] = iter(())
        self._rate = 30.0
        self._index = 0  # position in the clip of the next frame to decode
        self._lap_start_s = 0.0  # preview time at which the current pass over the clip began
        self._shown: av.VideoFrame | None = None
        self._next: av.VideoFrame | None = None

    def jpeg_at(self, at_s: float, flip_vertical: bool) -> bytes:
        """The frame showing ``at_s`` seconds after the preview started, as a preview JPEG."""
        with self._lock:
            frame = self._frame_at(at_s)
            width, height = preview_size(frame.width, frame.height)
            image = frame.to_image(width=width, height=height)
        if flip_vertical:
            image = ImageOps.flip(image)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        return buffer.getvalue()

    def close(self) -> None:
        """Close the file (after a call in progress)."""
        with self._lock:
            self._close()

    def _frame_at(self, at_s: float) -> av.VideoFrame:
        if self._container is None:
            self._open()
        while True:
            if self._next is None:
                self._next = next(self._frames, None)
            if self._next is None:  # past the clip's end: play it again from there
                if self._index == 0:
                    raise ValueError(f"{self._path} has no video frames")
                self._lap_start_s += self._index / self._rate
                self._open()
                continue
            if self._shown is not None and self._lap_start_s + self._index / self._rate > at_s:
                return self._shown
            self._shown, self._next = self._next, None
            self._index += 1

    def _open(self) -> None:
        self._close()
        self._container = av.open(str(self._path))
        stream = self._container.streams.video[0]
        self._rate = float(stream.average_rate or 30)
        self._frames = self._container.decode(stream)
        self._index = 0

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
