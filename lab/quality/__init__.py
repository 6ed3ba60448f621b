"""Output quality without models: flicker, its trend, repeats and freezes, fidelity, sharpness.

Pure functions on ``uint8`` frames already sampled at a fixed size (at most 256 px on the
long side); every figure works on the BT.601 luma of :func:`luma`. Definitions are in each
function's docstring and in the README's definition table.
"""

from __future__ import annotations

from lab.quality.flow import FlickerSeries, flicker_series, warp_error
from lab.quality.metrics import (
    DUPLICATE_TOLERANCE,
    FREEZE_MIN_DURATION_S,
    MIN_SIDE,
    duplicate_share,
    freeze_share,
    freeze_share_of_repeats,
    luma,
    repeat_flags,
    sharpness,
    structural_similarity,
)
from lab.quality.trend import Trend, trend

__all__ = [
    "DUPLICATE_TOLERANCE",
    "FREEZE_MIN_DURATION_S",
    "MIN_SIDE",
    "FlickerSeries",
    "Trend",
    "duplicate_share",
    "flicker_series",
    "freeze_share",
    "freeze_share_of_repeats",
    "luma",
    "repeat_flags",
    "sharpness",
    "structural_similarity",
    "trend",
    "warp_error",
]
