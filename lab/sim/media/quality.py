"""What the simulator injects into generative frames for quality metrics to find, and its knobs.

Quality metrics (similarity to VACE reference images, identity drift, flicker) need a ground
truth. This module decides it frame by frame; the painter (:mod:`lab.sim.media.render`)
paints it and the session's truth records it (``ref_share``, ``flicker_offset``).

* **Reference share.** With VACE loaded and reference images sent (``vace_ref_images``), a
  frame is ``(1 - s) x`` what it would otherwise be ``+ s x`` the reference picture, with

  ``s = s0 * max(0, 1 - identity_drift_per_s * t)`` and
  ``s0 = min(vace_ref_share * vace_context_scale, 0.9)``,

  where ``t`` is the wall-clock seconds from the start of the chunk that applied the
  references to the frame (a chunk's frames are spread evenly over its compute time). The
  decay is linear so that identity drift, the slope of reference similarity over a trial, is
  one constant: ``-s0 * identity_drift_per_s`` per second until the share reaches 0. Sending
  references again (even the same ones) restarts ``t``; an empty list removes them.
* **The reference picture** is the pixel mean of the reference images, each stretched to
  the frame (aspect not kept) and composited over white where transparent. A mean rather
  than a tiling, so every part of the frame resembles every reference and a whole-frame
  similarity to any one of them rises with the share. Like the rest of the frame it is
  painted on the painter's small canvas and upscaled, so it arrives softened. It is decoded
  once per reference set (cached), off the event loop.
* **Flicker.** Every generative frame gets a brightness offset drawn uniformly from
  ``[-flicker_amplitude, flicker_amplitude]`` (levels of 0-255), added to all three channels,
  so to luma, before clipping (a clipped pixel moves less). Consecutive offsets differ by
  ``2/3 x flicker_amplitude`` on average. Passthrough and gray paint nothing, so they get
  neither.

The profile's emulation gives the defaults (``vace_ref_share``, ``identity_drift_per_s``,
``flicker_amplitude``); :class:`QualityKnobs` overrides them at run time (``PUT /sim/media``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lab.sim.media.render import Canvas
from lab.sim.profiles import MAX_REF_SHARE, Emulation

__all__ = [
    "NOTHING_INJECTED",
    "Injected",
    "Injector",
    "QualityKnobs",
    "ReferenceImageError",
    "References",
    "reference_picture",
]


class ReferenceImageError(ValueError):
    """A reference image cannot be painted: not an absolute path, missing, or not an image."""


@dataclass
class QualityKnobs:
    """Run-time overrides of the profile's quality emulation; ``None`` keeps the profile's value.

    Sessions read them at every chunk, so a change applies from the next chunk on.
    """

    vace_ref_share: float | None = None
    identity_drift_per_s: float | None = None
    flicker_amplitude: float | None = None

    def to_json(self) -> dict[str, float | None]:
        """The overrides, ``None`` where the profile decides."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Injected:
    """What was put into one frame: the reference picture's share and the brightness offset."""

    ref_share: float = 0.0
    flicker_offset: float = 0.0


NOTHING_INJECTED = Injected()


@dataclass(frozen=True)
class References:
    """The reference set being painted: its paths, picture, and the drift clock's zero."""

    paths: tuple[str, ...]
    picture: Canvas
    since_ns: int  # start of the chunk that applied them


class Injector:
    """Decides the reference share and flicker offset of each generative frame of a session.

    Parameters
    ----------
    emulation
        The main pipeline's emulation profile (the defaults).
    knobs
        Run-time overrides, read at every chunk.
    rng
        Source of the flicker offsets.
    """

    def __init__(
        self, emulation: Emulation, knobs: QualityKnobs, rng: np.random.Generator
    ) -> None:
        self._emulation = emulation
        self._knobs = knobs
        self._rng = rng

    def plan(
        self,
        count: int,
        *,
        started_ns: int,
        compute_s: float,
        context_scale: float,
        references: References | None,
    ) -> list[Injected]:
        """The ``count`` frames of a chunk that started at ``started_ns`` and computes ``compute_s``.

        Examples
        --------
        >>> from lab.sim.profiles import Emulation
        >>> still = Emulation(load_s=0, chunk_frames=2, media="generative", chunk_compute_s=1)
        >>> knobs = QualityKnobs(vace_ref_share=0.5, identity_drift_per_s=0.25)
        >>> refs = References(("/r.png",), np.zeros((2, 2, 3), np.float32), since_ns=0)
        >>> injector = Injector(still, knobs, np.random.default_rng(0))
        >>> [f.ref_share for f in injector.plan(2, started_ns=2_000_000_000, compute_s=1.0,
        ...                                     context_scale=1.0, references=refs)]
        [0.25, 0.1875]
        """
        knobs, emulation = self._knobs, self._emulation
        drift = _either(knobs.identity_drift_per_s, emulation.identity_drift_per_s)
        amplitude = _either(knobs.flicker_amplitude, emulation.flicker_amplitude)
        offsets = np.zeros(count)
        if amplitude > 0:
            offsets = self._rng.uniform(-amplitude, amplitude, count)
        if references is None:
            return [Injected(0.0, float(offset)) for offset in offsets]
        base = _either(knobs.vace_ref_share, emulation.vace_ref_share)
        initial = float(np.clip(base * context_scale, 0.0, MAX_REF_SHARE))
        age_s = (started_ns - references.since_ns) / 1e9 + compute_s * np.arange(count) / count
        shares = initial * np.maximum(0.0, 1.0 - drift * age_s)
        return [Injected(float(share), float(offset)) for share, offset in zip(shares, offsets)]


def _either(override: float | None, default: float) -> float:
    return default if override is None else override


def reference_picture(paths: Sequence[str], height: int, width: int) -> Canvas:
    """The mean of the reference images, each stretched to ``height`` x ``width`` (RGB, 0-255).

    Decoded once per reference set and size; a file changed since is decoded again.

    Raises
    ------
    ReferenceImageError
        If there are no paths, or one is not absolute, missing, or not a readable image.
    """
    if not paths:
        raise ReferenceImageError("No reference images to paint.")
    return _mean_picture(tuple(_stamp(path) for path in paths), height, width)


def _stamp(path: str) -> tuple[str, int, int]:
    """The path with its modification time and size: the cache key of its pixels."""
    if not Path(path).is_absolute():
        raise ReferenceImageError(
            f"Reference image {path!r} is not an absolute path: send the path that "
            "POST /api/v1/assets returned."
        )
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise ReferenceImageError(
            f"Reference image {path!r} cannot be read: {exc.strerror}."
        ) from None
    return path, stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=32)
def _mean_picture(stamps: tuple[tuple[str, int, int], ...], height: int, width: int) -> Canvas:
    pictures = [_decode(path, height, width) for path, _, _ in stamps]
    mean = np.mean(pictures, axis=0, dtype=np.float32)
    mean.flags.writeable = False  # shared by every session that paints this set
    return mean


def _decode(path: str, height: int, width: int) -> Canvas:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (width, height))  # JPEG: decode at a reduced scale, much faster
            rgba = image.convert("RGBA")
    except OSError as exc:
        raise ReferenceImageError(
            f"Reference image {path!r} is not a readable image: {exc}."
        ) from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    return np.asarray(rgb.resize((width, height), Image.Resampling.BILINEAR), np.float32)
