"""Flicker: the change between consecutive output frames once motion is taken out.

A generated stream that "boils" or pulses in brightness changes even where nothing moves;
a stream with a moving camera changes everywhere without flickering. Warping the earlier
frame along the dense optical flow onto the later one removes the motion, and what is
left is flicker (plus what the flow cannot explain: occlusions, new content).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lab.quality.metrics import luma, require_same_size

__all__ = ["FlickerSeries", "flicker_series", "warp_error"]

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
"""MEDIUM: flow at half resolution with variational refinement. FAST and ULTRAFAST stop at
quarter resolution, a 32-64 px grid on 128-256 px samples: on a pure pan of 1-6 px they
leave 0.19-0.45 levels of warp error where MEDIUM leaves 0.03-0.07 (``bench/bench_quality.py
--presets``). Scoring runs after streaming, so MEDIUM's extra cost (about 4x) is affordable."""


def warp_error(a: ArrayLike, b: ArrayLike) -> float:
    """Mean absolute luma difference (levels, 0-255) between ``b`` and ``a`` warped onto it.

    Definition: the dense optical flow from ``b`` to ``a`` is estimated on their luma
    (:func:`~lab.quality.metrics.luma`) with OpenCV's DIS (:data:`DIS_PRESET`); ``a``'s luma
    is sampled along it (``cv2.remap``, bilinear), so each pixel of ``b`` is compared with
    the point of ``a`` it came from. The mean is over pixels whose source lies inside ``a``:
    the border the flow pulls in from outside the frame has no source and is left out.
    Identical frames score 0; a uniform brightness change of ``A`` levels scores about ``A``;
    pure motion scores near 0.
    """
    la, lb = luma(a), luma(b)
    require_same_size(la, lb)
    if np.array_equal(la, lb):
        return 0.0
    flow = _dis().calc(_u8(lb), _u8(la), None)
    height, width = lb.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    source_x, source_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    warped = cv2.remap(la, source_x, source_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
    return float(np.abs(warped - lb)[inside].mean())


def _dis() -> cv2.DISOpticalFlow:
    # A fresh instance per call: cheap, and calc() is not safe to share across threads.
    return cv2.DISOpticalFlow_create(DIS_PRESET)


def _u8(plane: NDArray[np.float32]) -> NDArray[np.uint8]:
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FlickerSeries:
    """Warp error over a trial: one value (levels) per sampled pair, at its time (s)."""

    times_s: NDArray[np.float64]
    values: NDArray[np.float64]
    unit: str = "levels"


def flicker_series(samples: Iterable[tuple[float, ArrayLike, ArrayLike]]) -> FlickerSeries:
    """The warp error of each ``(t_s, frame, next_frame)`` sample, in time order.

    ``frame`` and ``next_frame`` are consecutive output frames received at about ``t_s``
    (seconds into the trial); sampling such pairs through a trial (e.g. 2 per second)
    gives the time series whose :func:`~lab.quality.trend.trend` shows a pipeline that
    degrades as it runs.
    """
    rows = sorted(((float(t), warp_error(a, b)) for t, a, b in samples), key=lambda row: row[0])
    if not rows:
        raise ValueError("flicker_series needs at least one (t_s, frame, next_frame) sample")
    times, values = (np.array(column, dtype=float) for column in zip(*rows))
    return FlickerSeries(times, values)
