"""Make ``test-loop-512.mp4``: a small, procedural, copyright-free test clip.

A ball bounces over a slowly shifting colour gradient, with a progress bar along the
bottom edge that fills once per loop. Every motion has a whole number of periods per
clip, so the picture (apart from the bar) joins up seamlessly when the clip loops.
The output is deterministic: the frames are pure functions of their index, and x264
runs single-threaded.

Usage::

    .venv/bin/python tools/make_clip.py            # rewrites lab/data/clips/test-loop-512.mp4
    .venv/bin/python tools/make_clip.py out.mp4
"""

from __future__ import annotations

import argparse
import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from lab.resources import CLIP

log = logging.getLogger(__name__)

SIZE_PX = 512
FPS = 30
DURATION_S = 5
FRAMES = FPS * DURATION_S
# Constant quality; 30 keeps the clip near 300 KB while edges stay clean.
CRF = 30
BALL_RADIUS_PX = 44
BAR_HEIGHT_PX = 8
DEFAULT_OUTPUT = CLIP

_Y, _X = np.mgrid[0:SIZE_PX, 0:SIZE_PX].astype(np.float32) / SIZE_PX


def render(index: int) -> NDArray[np.uint8]:
    """Frame ``index`` (0 <= index < FRAMES) as a SIZE_PX x SIZE_PX RGB picture."""
    phase = 2 * np.pi * index / FRAMES
    # Diagonal gradient whose three channels drift at different rates (1, 2, 3 periods per loop).
    channels = [
        0.5 + 0.4 * np.sin(np.pi * (_X + _Y) + k * phase + 2 * k) for k in (1, 2, 3)
    ]
    picture = np.stack(channels, axis=-1)

    # The ball crosses once per loop and bounces three times on an invisible floor.
    floor = SIZE_PX - BAR_HEIGHT_PX - 24 - BALL_RADIUS_PX
    cx = SIZE_PX / 2 + 170 * np.sin(phase)
    cy = floor - 280 * abs(np.sin(3 * phase / 2))
    distance = np.hypot(_X * SIZE_PX - cx, _Y * SIZE_PX - cy)
    # One pixel of anti-aliasing keeps the edge from shimmering as the ball moves.
    inside = np.clip(BALL_RADIUS_PX + 0.5 - distance, 0.0, 1.0)[..., np.newaxis]
    shade = 0.55 + 0.45 * np.clip(1 - distance / BALL_RADIUS_PX, 0, 1)[..., np.newaxis]
    ball = np.array([0.95, 0.92, 0.85], np.float32) * shade
    picture = picture * (1 - inside) + ball * inside

    picture[-BAR_HEIGHT_PX:] = 0.1
    picture[-BAR_HEIGHT_PX:, : round(SIZE_PX * (index + 1) / FRAMES)] = 0.9
    return (picture * 255 + 0.5).astype(np.uint8)


def write_clip(path: Path) -> None:
    """Encode all FRAMES frames to ``path`` (H.264 in MP4, yuv420p)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIZE_PX
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(CRF), "preset": "slow", "tune": "animation"}
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(render(index), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_clip(args.output)
    log.info("wrote %s (%d bytes, %d frames)", args.output, args.output.stat().st_size, FRAMES)


if __name__ == "__main__":
    main()
