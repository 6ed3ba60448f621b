"""Model-free picture figures: luma, fidelity to the input (SSIM), sharpness, repeats and freezes.

Frames are ``uint8`` arrays, RGB ``(H, W, 3)`` or grayscale ``(H, W)`` / ``(H, W, 1)``, already
downscaled by the caller to a fixed sample size (at most 256 px on the long side). Every
figure is computed on luma (:func:`luma`), so colour and grayscale frames compare alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray
from skimage.metrics import structural_similarity as _skimage_ssim

__all__ = [
    "DUPLICATE_TOLERANCE",
    "FREEZE_MIN_DURATION_S",
    "MIN_SIDE",
    "duplicate_share",
    "freeze_share",
    "freeze_share_of_repeats",
    "luma",
    "repeat_flags",
    "sharpness",
    "structural_similarity",
]

MIN_SIDE = 16
"""Smallest frame side (px) the figures accept: below it neither flow nor SSIM's 7 px window fit."""

DUPLICATE_TOLERANCE = 2.5
"""Mean absolute luma difference (levels) up to which a frame repeats the frame before it.

Chosen from the codec's noise on repeated pictures (``bench/bench_quality.py --codec-noise``):
textured pictures through aiortc's VP8 encoder and decoder at its bitrate floor, default and
ceiling (250, 500, 1500 kbit/s), sampled at 256 px. A held picture differed from the frame
before by at most 1.77 levels (the finest texture at the floor bitrate, while the encoder
refines it after the key frame); a step of 1 sample pixel of a textured pan differed by at
least 2.92.
Sub-pixel motion of very smooth content (median 1.9) falls below any usable tolerance:
the encoder itself barely passes it on.
"""

FREEZE_MIN_DURATION_S = 0.5
"""A run of repeats counts as a freeze from this long on: half a second is plainly visible."""

_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(frame: ArrayLike) -> NDArray[np.float32]:
    """The luma plane of a frame, in levels 0-255 (BT.601 weights, full range).

    ``Y = 0.299 R + 0.587 G + 0.114 B``, not rescaled to video range (16-235), so a grey
    level ``v`` has luma ``v``. Grayscale frames are their own luma. Every figure here
    uses this one definition.
    """
    array = np.asarray(frame)
    if array.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (0-255), got {array.dtype}: convert with "
                         "np.clip(frame, 0, 255).astype(np.uint8) (scale 0-1 floats by 255 first)")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        plane = array.astype(np.float32)
    elif array.ndim == 3 and array.shape[2] == 3:
        plane = array.astype(np.float32) @ _BT601
    else:
        raise ValueError(f"a frame must be (H, W, 3) RGB or (H, W) grayscale, got shape {array.shape}")
    if min(plane.shape) < MIN_SIDE:
        raise ValueError(f"frame of {plane.shape[1]}x{plane.shape[0]} px is too small: the quality "
                         f"figures need at least {MIN_SIDE} px per side; sample frames larger")
    return plane


def require_same_size(a: NDArray[np.float32], b: NDArray[np.float32]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size ({a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}): "
                         "sample every frame of a trial at the same size")


def structural_similarity(a: ArrayLike, b: ArrayLike) -> float:
    """SSIM of the luma of two frames (1 = same picture, about 0 = unrelated), unitless.

    Meant for an input frame and the output frame that answers it. The larger frame (by
    area) is first resized to the smaller's size with area averaging, so the score does
    not depend on the two streams' resolutions. SSIM is scikit-image's (Wang et al. 2004:
    7x7 uniform window, K1 = 0.01, K2 = 0.03) with ``data_range`` 255. Frames of different
    aspect ratio (more than 2 %) are refused: a stretched picture would score its distortion.
    """
    la, lb = luma(a), luma(b)
    if la.size < lb.size:
        la, lb = lb, la
    (ha, wa), (hb, wb) = la.shape, lb.shape
    if abs((wa / ha) / (wb / hb) - 1) > 0.02:
        raise ValueError(f"frames of {wa}x{ha} and {wb}x{hb} px differ in aspect ratio: crop the "
                         "input to the output's framing before comparing them")
    if la.shape != lb.shape:
        la = cv2.resize(la, (wb, hb), interpolation=cv2.INTER_AREA)
    return float(_skimage_ssim(la, lb, data_range=255.0))


def sharpness(frame: ArrayLike) -> float:
    """Variance of the Laplacian of luma, in levels² (higher = more fine detail).

    The Laplacian is OpenCV's 3x3 aperture (``cv2.Laplacian``, ``CV_64F``): it responds to
    edges and texture, so its variance is a proxy for detail and focus. It depends on the
    sample size (downscaling packs more detail into each pixel and raises it), so frames
    are always sampled at one fixed size and only figures from the same size are compared.
    """
    return float(cv2.Laplacian(luma(frame).astype(np.float64), cv2.CV_64F).var())


def repeat_flags(frames: Sequence[ArrayLike], tolerance: float = DUPLICATE_TOLERANCE) -> NDArray[np.bool_]:
    """For each frame, whether it repeats the frame before it (the first frame never does).

    A repeat is within ``tolerance`` levels of mean absolute luma difference of the frame
    before. The comparison is with the previous frame, not with the first frame of a run:
    the codec keeps refining a held picture for seconds (up to 7.3 levels away from the
    first decoded frame at 250 kbit/s), which would split one freeze into pieces. The
    price: a fade slower than ``tolerance`` per frame counts as repeats.
    """
    planes = [luma(frame) for frame in frames]
    flags = np.zeros(len(planes), dtype=bool)
    for i in range(1, len(planes)):
        require_same_size(planes[i - 1], planes[i])
        flags[i] = float(np.abs(planes[i] - planes[i - 1]).mean()) <= tolerance
    return flags


def duplicate_share(frames: Sequence[ArrayLike], tolerance: float = DUPLICATE_TOLERANCE) -> float:
    """Share (0-1) of frames after the first that repeat the frame before them.

    "Repeat" is :func:`repeat_flags`: within ``tolerance`` levels of mean absolute luma
    difference, which absorbs the codec's noise on an unchanged picture (see
    :data:`DUPLICATE_TOLERANCE`). Needs consecutive output frames, at least 2.
    """
    if len(frames) < 2:
        raise ValueError(f"duplicate_share needs at least 2 frames, got {len(frames)}")
    return float(repeat_flags(frames, tolerance)[1:].mean())


def freeze_share(times: ArrayLike, frames: Sequence[ArrayLike], min_duration_s: float = FREEZE_MIN_DURATION_S,
                 tolerance: float = DUPLICATE_TOLERANCE) -> float:
    """Share (0-1) of the time from the first to the last frame spent in freezes.

    A freeze is a run of repeated pictures (:func:`repeat_flags`) shown for at least
    ``min_duration_s``: from the arrival of its first frame to the arrival of the next
    new picture (or of the last frame, for a run still going at the end). Times are
    arrival times in seconds, one per frame, increasing. The time resolution is the
    spacing of the frames given: pass consecutive output frames to see short freezes.
    """
    if np.asarray(times).size != len(frames):
        raise ValueError(f"freeze_share needs one time per frame, got {np.asarray(times).size} times "
                         f"for {len(frames)} frames")
    return freeze_share_of_repeats(times, repeat_flags(frames, tolerance), min_duration_s)


def freeze_share_of_repeats(times: ArrayLike, repeats: ArrayLike,
                            min_duration_s: float = FREEZE_MIN_DURATION_S) -> float:
    """:func:`freeze_share` from repeat flags already known, one per frame (the first is ignored).

    For flags decided elsewhere with the same tolerance, e.g. from the luma change of every
    frame recorded while a trial streamed (:class:`lab.quality.samples.LumaChange`).
    """
    t = np.asarray(times, dtype=float)
    flags = np.array(repeats, dtype=bool)  # a copy: the first flag is cleared below
    if t.ndim != 1 or t.size != flags.size or t.size < 2:
        raise ValueError(f"freeze_share needs one time per frame and at least 2 frames, "
                         f"got {t.size} times for {flags.size} frames")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("times must be finite and strictly increasing (arrival times in seconds)")
    flags[0] = False
    starts = np.flatnonzero(~flags)
    ends = np.append(t[starts[1:]], t[-1])
    durations = ends - t[starts]
    frozen = durations[(durations >= min_duration_s) & (np.diff(np.append(starts, t.size)) > 1)]
    return float(frozen.sum() / (t[-1] - t[0]))
