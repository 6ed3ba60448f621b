"""Pixels of emulated generative output: prompt looks, the input, the VACE reference, noise.

A prompt's *look* is a colour and a moving periodic texture, both derived from a hash of its
text, so different prompts look clearly different and the same prompt always looks the
same. A frame is the weighted mix of the looks of the prompts in force; in video mode it is
half a colour-shifted copy of the input frame. The VACE reference picture then takes its
share of the whole frame, generative noise makes every frame unique, and a flicker offset
shifts its brightness (share and offset are decided by :mod:`lab.sim.media.quality`).

The work happens on a canvas ``SCALE_DIVISOR`` times smaller than the output in each
direction and is upscaled bilinearly by swscale straight into a ``yuv420p`` frame (what
the encoder wants), which keeps it at about 2 ms per frame and gives a soft, blurred look.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from numpy.typing import NDArray

__all__ = ["INPUT_WEIGHT", "NOISE_SIGMA", "SCALE_DIVISOR", "Canvas", "Look", "Painter", "look_of"]

SCALE_DIVISOR = 8
INPUT_WEIGHT = 0.5  # share of the input in a video-to-video frame
NOISE_SIGMA = 6.0  # generative noise per pixel of the small canvas, on the 0-255 scale
TEXTURE_AMPLITUDE = 45.0
_CHANNEL_SHIFT = [1, 2, 0]  # input R, G, B shown as B, R, G: visibly "re-coloured"

Canvas = NDArray[np.float32]


@dataclass(frozen=True)
class Look:
    """What one prompt looks like on a small canvas."""

    colour: Canvas  # (3,) RGB, 0-255
    pattern: Canvas  # (height, width), periodic in both directions, -1..1
    drift: tuple[int, int]  # canvas pixels per frame (rows, columns)

    def at(self, t: int) -> Canvas:
        """The look at frame ``t``: its texture moved ``t`` steps along its drift."""
        moved = np.roll(self.pattern, (t * self.drift[0], t * self.drift[1]), axis=(0, 1))
        return self.colour + TEXTURE_AMPLITUDE * moved[:, :, np.newaxis]


@functools.lru_cache(maxsize=128)
def look_of(text: str, height: int, width: int) -> Look:
    """The look of a prompt on a ``height`` x ``width`` canvas (cached).

    Examples
    --------
    >>> look_of("a red fox", 40, 72).pattern.shape
    (40, 72)
    """
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    hue = digest[0] / 256
    saturation = 0.55 + 0.4 * digest[1] / 255
    value = 0.4 + 0.5 * digest[2] / 255
    colour = 255 * np.array(colorsys.hsv_to_rgb(hue, saturation, value), np.float32)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = rows / height, columns / width
    # Whole numbers of periods across the canvas keep the texture seamless when rolled.
    kx, ky = 1 + digest[3] % 4, digest[4] % 4
    phase = 2 * np.pi * digest[5] / 256
    pattern = 0.6 * np.sin(2 * np.pi * (kx * x + ky * y) + phase)
    pattern += 0.4 * np.sin(2 * np.pi * ((1 + digest[6] % 3) * y - (digest[7] % 3) * x))
    drift = (digest[8] % 3 - 1, 1 if digest[9] % 2 else -1)
    return Look(colour, pattern.astype(np.float32), drift)


class Painter:
    """Paints a session's generative frames at its output size.

    Parameters
    ----------
    width, height
        Output frame size.
    seed
        Seed of the generative noise.
    """

    def __init__(self, width: int, height: int, seed: int) -> None:
        self.width = width
        self.height = height
        self._small = (max(height // SCALE_DIVISOR, 2), max(width // SCALE_DIVISOR, 2))
        self._rng = np.random.default_rng(seed)
        self._t = 0

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The small canvas (height, width) a reference picture must have."""
        return self._small

    def paint(
        self,
        prompts: Sequence[tuple[str, float]],
        source: av.VideoFrame | None,
        *,
        reference: Canvas | None = None,
        ref_share: float = 0.0,
        flicker_offset: float = 0.0,
    ) -> av.VideoFrame:
        """One frame of ``prompts`` (text, weight pairs), over ``source`` in video mode.

        ``reference`` (at :attr:`canvas_size`) takes ``ref_share`` of the frame;
        ``flicker_offset`` levels are added to every pixel before clipping.
        """
        height, width = self._small
        canvas = np.zeros((height, width, 3), np.float32)
        for text, weight in prompts or [("", 1.0)]:
            canvas += weight * look_of(text, height, width).at(self._t)
        if source is not None:
            pixels = source.to_ndarray(format="rgb24", width=width, height=height)
            canvas = INPUT_WEIGHT * pixels[:, :, _CHANNEL_SHIFT] + (1 - INPUT_WEIGHT) * canvas
        if reference is not None and ref_share > 0:
            canvas = (1 - ref_share) * canvas + ref_share * reference
        canvas += NOISE_SIGMA * self._rng.standard_normal(canvas.shape, np.float32)
        canvas += flicker_offset
        self._t += 1
        pixels = np.clip(canvas, 0, 255).astype(np.uint8)
        return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
            width=self.width, height=self.height, format="yuv420p", interpolation="BILINEAR"
        )
