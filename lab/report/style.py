"""What every plot of the workbench shares: the SIMULATED watermark, rolling fps, saving.

Every figure made from simulated data carries a SIMULATED watermark, so it cannot pass for
a real measurement when it is copied out of its notebook or report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as MplFigure

__all__ = ["watermark", "rolling_fps", "save_figure", "short_condition", "ROLLING_WINDOW_S", "SIMULATED_COLOR"]

ROLLING_WINDOW_S = 1.0
SIMULATED_COLOR = "crimson"


def watermark(figure: MplFigure, simulated: bool) -> None:
    """Stamp SIMULATED across a figure made from simulator data."""
    if simulated:
        width, height = figure.get_size_inches()
        size = max(48.0, 9.0 * min(width, height))  # a big figure gets a big mark, so it is seen at a glance
        figure.text(0.5, 0.5, "SIMULATED", fontsize=size, color=SIMULATED_COLOR, alpha=0.18,
                    ha="center", va="center", rotation=25, transform=figure.transFigure, zorder=100)


def rolling_fps(t_s: np.ndarray, window_s: float = ROLLING_WINDOW_S) -> tuple[np.ndarray, np.ndarray]:
    """Output fps over a trailing window at each frame, from the first full window on."""
    t = np.asarray(t_s, dtype=float)
    counts = np.searchsorted(t, t, side="right") - np.searchsorted(t, t - window_s, side="left")
    valid = t >= t[0] + window_s if t.size else np.zeros(0, dtype=bool)
    return t[valid], counts[valid] / window_s


def save_figure(figure: MplFigure, folder: Path | str, name: str) -> list[Path]:
    """``folder/name.png`` and ``folder/name.svg``; SVG metadata without a date, so reruns match."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    figure.savefig(png, dpi=110, metadata={"Software": None})
    figure.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]


def short_condition(condition: str) -> str:
    """``vace_enabled=true vace_ref_images=2`` -> ``VACE=true refs=2``: legend-sized."""
    for long, short in (("vace_enabled", "VACE"), ("vace_ref_images", "refs"), ("vace_context_scale", "scale")):
        condition = condition.replace(long, short)
    return condition
