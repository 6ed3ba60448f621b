"""Input video for the live panel: the stamped test pattern, the shipped clip, an upload, the webcam.

The webcam lives in the browser, the WebRTC session in the kernel. Frames captured in the
browser reach the kernel as widget messages (:class:`lab.live.browser.Webcam`), which the
kernel handles only between cells; :class:`PushedSource` bridges the two: whoever receives
a frame pushes it, and the source, an ordinary paced :class:`~lab.sources.VideoSource`,
sends the newest pushed picture at its own rate (repeating it when the browser is slower,
skipping when it is faster). Until the first frame arrives it sends mid-gray.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from lab import resources
from lab.sources import StampedSource, VideoFileSource, VideoSource
from lab.sources.base import Picture, as_picture, read_only

__all__ = ["InputChoice", "INPUT_LABELS", "PushedSource", "make_input"]

InputChoice = Literal["pattern", "clip", "upload", "webcam"]
INPUT_LABELS: dict[InputChoice, str] = {
    "pattern": "test pattern (stamped: exact latency)",
    "clip": "shipped clip (test-loop-512.mp4)",
    "upload": "uploaded clip",
    "webcam": "webcam (this browser)",
}
_WAITING_GRAY = 128


class PushedSource(VideoSource):
    """A paced source showing the newest picture pushed into it (from the browser's webcam).

    Pushed JPEGs are decoded lazily, in :meth:`render`, and only the newest one: a burst of
    frames that queued up while a cell ran costs one decode, not one per frame.

    Attributes
    ----------
    received:
        How many pictures were pushed.

    Examples
    --------
    >>> source = PushedSource(64, 48, fps=15)
    >>> int(source.render(0)[0, 0, 0])          # nothing pushed yet: mid-gray
    128
    >>> source.push(np.zeros((48, 64, 3), np.uint8))
    >>> int(source.render(1)[0, 0, 0]), source.received
    (0, 1)
    """

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        self.received = 0
        self._picture = read_only(np.full((height, width, 3), _WAITING_GRAY, np.uint8))
        self._pending: bytes | NDArray[Any] | None = None

    def push_jpeg(self, data: bytes) -> None:
        """Take an encoded picture (JPEG or PNG) as the newest frame."""
        self._pending = data
        self.received += 1

    def push(self, picture: NDArray[Any]) -> None:
        """Take an RGB (or gray) uint8 array as the newest frame."""
        self._pending = picture
        self.received += 1

    def render(self, index: int) -> Picture:
        pending, self._pending = self._pending, None
        if isinstance(pending, bytes):
            with Image.open(io.BytesIO(pending)) as image:
                pending = np.asarray(image.convert("RGB"))
        if pending is not None:
            self._picture = as_picture(pending, self.width, self.height)
        return self._picture


def make_input(choice: InputChoice, width: int, height: int, fps: float, *,
               upload: str | Path | None = None) -> VideoSource:
    """The source for an input choice, at the pipeline's resolution.

    ``"pattern"`` is stamped, so frame-preserving pipelines (passthrough, gray) give exact
    per-frame latency; ``"upload"`` needs ``upload`` (a video file path); ``"webcam"`` gives
    a :class:`PushedSource` for the browser's frames to be pushed into.

    Raises
    ------
    ValueError
        For an unknown choice, or ``"upload"`` without a file.
    """
    if choice == "pattern":
        return StampedSource(width, height, fps)
    if choice == "clip":
        return VideoFileSource(resources.CLIP, width=width, height=height, fps=fps)
    if choice == "upload":
        if upload is None:
            raise ValueError("No clip was uploaded yet: upload one with the panel's clip button first.")
        return VideoFileSource(upload, width=width, height=height, fps=fps)
    if choice == "webcam":
        return PushedSource(width, height, fps)
    raise ValueError(f"Unknown input {choice!r}: choose one of {', '.join(INPUT_LABELS)}.")
