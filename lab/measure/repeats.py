"""Figures across repeated trials: trials, not frames, are the honest unit of a comparison.

Frames of one stream are autocorrelated, so the CI of a per-frame percentile within one
trial is optimistic. Across repeats, each trial contributes one value per figure; the
table gives n (trials), the median with a bootstrap CI, min, max and warnings in words.

:func:`repeats_figures` gives the numbers; :func:`repeats_table` and :func:`trial_table`
are for people: each figure rounded to its resolution, with its unit (:mod:`lab.units`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lab.stats import percentile_figure, summarize
from lab.measure.result import TrialResult
from lab.units import format_by_row

__all__ = ["repeats_figures", "repeats_table", "trial_table"]


def repeats_figures(results: Sequence[TrialResult]) -> pd.DataFrame:
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


def repeats_table(results: Sequence[TrialResult]) -> pd.DataFrame:
    """:func:`repeats_figures` as text: ``median``, ``95% CI`` and ``range`` in each figure's unit."""
    return format_by_row(repeats_figures(results), ["median"],
                         ranges={"95% CI": ("ci_low", "ci_high"), "range": ("min", "max")})


def trial_table(result: TrialResult) -> pd.DataFrame:
    """One trial's figures as text: value and CI in each figure's unit, n, note and warnings
    (the numbers: ``result.summary()``)."""
    table = result.summary()[["name", "value", "unit", "n", "ci_low", "ci_high", "note", "warnings", "source"]]
    table = table.assign(note=table["note"].fillna(""))
    return format_by_row(table, ["value"], ranges={"95% CI": ("ci_low", "ci_high")}, figure="name")
