"""Synthetic sources: a moving test pattern, and frames stamped with their frame id."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError
from numpy.typing import NDArray

from lab.sources.base import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH, Picture, VideoSource, read_only
from lab.sources.media import StillImageSource

__all__ = ["TestPatternSource", "StampedSource", "PATTERN_PERIOD_X_S", "PATTERN_PERIOD_Y_S"]

# The moving checkerboard box crosses in 4 s horizontally, 3 s vertically.
PATTERN_PERIOD_X_S = 4.0
PATTERN_PERIOD_Y_S = 3.0


class TestPatternSource(VideoSource):
    """Colour bars over a gray ramp, with a checkerboard box gliding across them.

    The bars, the ramp and the box are drawn once; each frame is a copy of the bars with
    the box pasted at its place on a Lissajous path (so there is always motion).

    Examples
    --------
    >>> source = TestPatternSource(576, 320, fps=30)
    >>> source.render(0).shape
    (320, 576, 3)
    """

    __test__ = False  # not a pytest test class, despite the name

    # 75% colour bars: white, yellow, cyan, green, magenta, red, blue.
    BARS = ((191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0),
            (191, 0, 191), (191, 0, 0), (0, 0, 191))

    def __init__(
        self,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        fps: float = DEFAULT_FPS,
        *,
        stamp: bool = False,
        start_id: int = 0,
    ) -> None:
        super().__init__(width, height, fps, stamp=stamp, start_id=start_id)
        bar = np.arange(width) * len(self.BARS) // width
        background = np.empty((height, width, 3), np.uint8)
        background[:] = np.array(self.BARS, np.uint8)[bar]
        ramp = np.linspace(0, 255, width).astype(np.uint8)
        background[height * 2 // 3:] = ramp[:, np.newaxis]
        self._background = read_only(background)
        side = max(2, min(width, height) // 4)
        checks = (np.arange(side)[:, np.newaxis] // 8 + np.arange(side) // 8) % 2
        self._box = read_only(np.repeat((checks * 255).astype(np.uint8)[..., np.newaxis], 3, axis=2))
        self._box_range = (width - side, height - side)

    def render(self, index: int) -> Picture:
        t = index / self.fps
        x = round(self._box_range[0] * (0.5 + 0.5 * math.sin(2 * math.pi * t / PATTERN_PERIOD_X_S)))
        y = round(self._box_range[1] * (0.5 + 0.5 * math.sin(2 * math.pi * t / PATTERN_PERIOD_Y_S)))
        picture = self._background.copy()
        side = self._box.shape[0]
        picture[y:y + side, x:x + side] = self._box
        return picture


class StampedSource(VideoSource):
    """Frames that carry their frame id, over a background picture or another source.

    Parameters
    ----------
    width, height, fps:
        As for :class:`VideoSource`; the frames must be at least 256 x 48 px.
    background:
        ``None`` for the test pattern, an image array (rescaled), or another source of the
        same size whose :meth:`~VideoSource.render` supplies the pictures. That source is
        only rendered, never paced or recorded, and stopping this source stops it.
    start_id:
        Id of the first frame.

    Examples
    --------
    >>> from lab.stamp import decode_stamp
    >>> source = StampedSource(512, 512, 30, start_id=100)
    >>> frame = await source.recv()                                  # doctest: +SKIP
    >>> decode_stamp(frame).frame_id                                 # doctest: +SKIP
    100
    """

    def __init__(
        self,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        fps: float = DEFAULT_FPS,
        background: VideoSource | NDArray[Any] | None = None,
        *,
        start_id: int = 0,
    ) -> None:
        super().__init__(width, height, fps, stamp=True, start_id=start_id)
        if background is None:
            background = TestPatternSource(width, height, fps)
        elif not isinstance(background, VideoSource):
            background = StillImageSource(background, width, height, fps)
        elif (background.width, background.height) != (width, height):
            raise ValueError(
                f"Cannot stamp a {background.width}x{background.height} background into "
                f"{width}x{height} frames: make the background source {width}x{height}."
            )
        self.background = background

    def render(self, index: int) -> Picture:
        try:
            return self.background.render(index)
        except MediaStreamError:
            self.stop()  # the background ended (a file played without loop): so does this
            raise

    def stop(self) -> None:
        try:
            self.background.stop()
        finally:
            super().stop()
