"""Sources from media: a video file (looped, rescaled) and a still image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError
from numpy.typing import NDArray

from lab.sources.base import (
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    Picture,
    VideoSource,
    as_picture,
    fit_picture,
    read_only,
)

__all__ = ["VideoFileSource", "StillImageSource"]


class VideoFileSource(VideoSource):
    """Frames decoded from a video file with PyAV, looped and rescaled.

    One file frame is shown per emitted frame, so with an ``fps`` other than the file's
    own the clip plays faster or slower. Decoding happens in ``recv()`` (about a
    millisecond per 512 x 512 frame).

    Parameters
    ----------
    path:
        Any file PyAV (FFmpeg) can read; its first video stream is used.
    loop:
        Start again at the end; otherwise the source stops there and ``recv()`` raises
        ``MediaStreamError``.
    width, height, fps:
        Output size and rate; ``None`` keeps the file's own.
    stamp, start_id:
        As for :class:`VideoSource`.

    Attributes
    ----------
    loops:
        How many times the file has been restarted.

    Examples
    --------
    >>> from lab.resources import CLIP
    >>> source = VideoFileSource(CLIP, width=576, height=320)
    >>> source.width, source.height, source.fps
    (576, 320, 30.0)
    >>> source.stop()
    """

    def __init__(
        self,
        path: str | Path,
        loop: bool = True,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        *,
        stamp: bool = False,
        start_id: int = 0,
    ) -> None:
        self.path = Path(path)
        self.loop = loop
        self.loops = 0
        self._container = av.open(str(self.path))
        try:
            stream = self._container.streams.video[0]
            file_fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
            super().__init__(width or stream.codec_context.width, height or stream.codec_context.height,
                             fps or file_fps, stamp=stamp, start_id=start_id)
        except BaseException:
            self._container.close()
            raise
        self._frames = self._container.decode(video=0)

    def render(self, index: int) -> Picture:
        frame = next(self._frames, None)
        if frame is None:
            if not self.loop:
                self.stop()
                raise MediaStreamError
            # Reopening is simpler and more reliable than seeking back in every format.
            self._container.close()
            self._container = av.open(str(self.path))
            self._frames = self._container.decode(video=0)
            self.loops += 1
            frame = next(self._frames, None)
            if frame is None:
                self.stop()
                raise MediaStreamError(f"{self.path} has no video frames to loop over")
        return fit_picture(frame, self.width, self.height)

    def stop(self) -> None:
        try:
            self._container.close()
        finally:
            super().stop()


class StillImageSource(VideoSource):
    """One image, repeated at the frame rate (rescaled to the frame size once).

    Parameters
    ----------
    path_or_array:
        An image file PyAV can read (PNG, JPEG, ...) or an RGB/gray uint8 array.
    width, height, fps, stamp, start_id:
        As for :class:`VideoSource`.

    Examples
    --------
    >>> import numpy as np
    >>> source = StillImageSource(np.zeros((100, 100, 3), np.uint8), 576, 320, 30)
    >>> source.render(0).shape
    (320, 576, 3)
    """

    def __init__(
        self,
        path_or_array: str | Path | NDArray[Any],
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        fps: float = DEFAULT_FPS,
        *,
        stamp: bool = False,
        start_id: int = 0,
    ) -> None:
        super().__init__(width, height, fps, stamp=stamp, start_id=start_id)
        if isinstance(path_or_array, (str, Path)):
            with av.open(str(path_or_array)) as container:
                image = next(container.decode(video=0))
                self.picture = read_only(fit_picture(image, width, height))
        else:
            self.picture = as_picture(path_or_array, width, height)

    def render(self, index: int) -> Picture:
        return self.picture
