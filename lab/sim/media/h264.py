"""What both of the simulator's encoders share: an H.264 stream in yuv420p, and Scope's
padding of odd sizes to even (for ``output.ts`` and for session recordings alike)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.video.stream import VideoStream

__all__ = ["add_h264_stream", "pad_to_even"]


def add_h264_stream(container: av.container.OutputContainer, width: int, height: int, *,
                    time_base: Fraction, options: dict[str, str], rate: int | None = None) -> VideoStream:
    """A libx264 stream of ``container`` for frames of this size (padded to even), whose
    timestamps stay exact in ``time_base`` (the encoder's own time base is set to it too)."""
    stream = container.add_stream("libx264", rate=rate, options=options)
    stream.width, stream.height = width + width % 2, height + height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = stream.codec_context.time_base = time_base
    return stream


def pad_to_even(frame: av.VideoFrame) -> av.VideoFrame:
    """``frame`` with an odd width or height padded to even by repeating its last column or row."""
    if not (frame.width % 2 or frame.height % 2):
        return frame
    rgb = frame.to_ndarray(format="rgb24")
    padded = np.pad(rgb, ((0, frame.height % 2), (0, frame.width % 2), (0, 0)), mode="edge")
    return av.VideoFrame.from_ndarray(padded, format="rgb24")
