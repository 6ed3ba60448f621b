"""The live output view and the rolling chart, drawn without holding up the kernel.

:class:`FrameView` shows the newest output frame in an ``ipywidgets.Image``. The receive
loop hands it every frame (:meth:`FrameView.offer` only keeps a reference); one task
encodes the newest frame to JPEG in a worker thread, sets the widget's value, and waits
out the rest of ``1 / max_fps``. So the view runs at the stream's own rate up to
``max_fps``, never queues (frames that arrive during an encode are skipped, the view does
not fall behind), and the event loop, which also receives the stream, never waits for an
encode. The widget's value travels to the browser as a binary comm message.

:func:`chart_svg` draws the rolling figures as a small SVG line chart: a few hundred
bytes, built in well under a millisecond, where a matplotlib figure would cost tens of
milliseconds per redraw.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Sequence

import av
import ipywidgets as widgets
from PIL import Image

from lab.live.stats import LiveFigures
from lab.tasks import cancel_and_wait

__all__ = ["FrameView", "encode_jpeg", "placeholder_jpeg", "chart_svg", "DEFAULT_MAX_FPS", "JPEG_QUALITY"]

log = logging.getLogger(__name__)

DEFAULT_MAX_FPS = 30.0
JPEG_QUALITY = 80


def encode_jpeg(frame: av.VideoFrame, quality: int = JPEG_QUALITY) -> bytes:
    """The frame as JPEG bytes, at its own size."""
    buffer = io.BytesIO()
    frame.to_image().save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def placeholder_jpeg(width: int = 576, height: int = 320) -> bytes:
    """A plain gray picture for the view before the first frame (not a broken-image icon)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (64, 64, 64)).save(buffer, format="JPEG")
    return buffer.getvalue()


class FrameView:
    """Shows the newest frame offered to it in ``image``, at most ``max_fps`` times a second.

    Parameters
    ----------
    image:
        The widget to show frames in (its ``format`` is set to ``"jpeg"``).
    max_fps:
        Upper bound of the view's rate; below it, the view follows the stream.
    quality:
        JPEG quality (1-95).

    Attributes
    ----------
    shown, skipped:
        Frames put on screen, and frames replaced by a newer one before they could be.
    enabled:
        False stops updating the widget (frames are then ignored).
    """

    def __init__(self, image: widgets.Image, *, max_fps: float = DEFAULT_MAX_FPS,
                 quality: int = JPEG_QUALITY) -> None:
        self.image = image
        self.image.format = "jpeg"
        self.min_interval_s = 1.0 / max_fps
        self.quality = quality
        self.enabled = True
        self.shown = 0
        self.skipped = 0
        self._newest: av.VideoFrame | None = None
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def offer(self, frame: av.VideoFrame) -> None:
        """Take a frame to show (called from the receive loop, on the event loop; cheap)."""
        if not self.enabled:
            return
        if self._newest is not None:
            self.skipped += 1
        self._newest = frame
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._show_frames())

    async def _show_frames(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            frame, self._newest = self._newest, None
            if frame is None or not self.enabled:
                continue
            started = time.perf_counter()
            try:
                self.image.value = await asyncio.to_thread(encode_jpeg, frame, self.quality)
            except (ValueError, OSError) as exc:  # a frame PIL cannot encode: say so, keep going
                log.warning("live view: could not encode a %dx%d frame: %s", frame.width, frame.height, exc)
                continue
            self.shown += 1
            await asyncio.sleep(max(0.0, self.min_interval_s - (time.perf_counter() - started)))

    async def close(self) -> None:
        """Stop updating the widget and end the task."""
        self.enabled = False
        await cancel_and_wait(self._task)
        self._newest = None


def chart_svg(history: Sequence[LiveFigures], *, width: int = 360, height: int = 90, label: str = "") -> str:
    """A small SVG chart of fps (blue) and the median frame interval (orange) over ``history``.

    Each line has its own scale from zero to its largest value, written at the top; the
    time axis spans the samples. ``label`` (e.g. "SIMULATED") is written in the corner.

    Examples
    --------
    >>> from lab.live.stats import LiveFigures
    >>> svg = chart_svg([LiveFigures(t, 10 * t, 20.0, 50.0, 60.0, None, 0) for t in range(5)])
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    """
    top, bottom = 14, height - 4
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'style="background:#fafafa;border:1px solid #ddd;font:10px sans-serif">')]
    series = [
        ("fps", [f.fps for f in history], "#1f77b4", 4),
        ("interval p50 ms", [f.interval_p50_ms for f in history], "#ff7f0e", width // 2),
    ]
    span = max(len(history) - 1, 1)
    for name, values, colour, text_x in series:
        known = [v for v in values if v is not None]
        peak = max(known, default=0.0) or 1.0
        points = " ".join(
            f"{k * (width - 8) / span + 4:.1f},{bottom - (bottom - top) * v / peak:.1f}"
            for k, v in enumerate(values) if v is not None
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{text_x}" y="10" fill="{colour}">{name} (max {peak:.0f})</text>')
    if label:
        parts.append(f'<text x="{width - 4}" y="{height - 6}" text-anchor="end" fill="#c00">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
