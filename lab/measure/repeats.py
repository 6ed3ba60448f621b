"""Figures across repeated trials: trials, not frames, are the honest unit of a comparison.

Frames of one stream are autocorrelated, so the CI of a per-frame percentile within one
trial is optimistic. Across repeats, each trial contributes one value per figure; the
table gives n (trials), the median with a bootstrap CI, min, max and warnings in words.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lab.measure.stats import percentile_figure, summarize
from lab.measure.trial import TrialResult

__all__ = ["repeats_table"]


def repeats_table(results: Sequence[TrialResult]) -> pd.DataFrame:
    """One row per figure: median over trials with CI, spread, and the source label."""
    rows = []
    names = list(dict.fromkeys(f.name for r in results for f in r.figures))
    simulated = any(r.simulated for r in results)
    for name in names:
        figures = [f for r in results for f in r.figures if f.name == name]
        values = [f.value for f in figures if f.value is not None]
        unit = figures[0].unit
        median = percentile_figure(name, values, 50, unit)
        spread = summarize(values, unit) if values else None
        rows.append({
            "figure": name, "median": median.value, "ci_low": median.ci_low, "ci_high": median.ci_high,
            "min": spread.min if spread else None, "max": spread.max if spread else None, "unit": unit,
            "trials": len(values), "frames_per_trial": round(sum(f.n for f in figures) / len(figures)),
            "warnings": "; ".join(dict.fromkeys([*(spread.warnings if spread else ()),
                                                 *(w for f in figures for w in f.warnings)])),
        })
    table = pd.DataFrame(rows)
    table["source"] = "SIMULATED" if simulated else "real server"
    return table
