"""The sweep's result table: one row per target, pipeline and condition, medians over trials.

:func:`sweep_medians` gives the numbers; :func:`sweep_table` the same for a person to read,
each figure rounded to its resolution with its unit (:mod:`lab.units`).
"""

from __future__ import annotations

import pandas as pd

from lab.units import format_columns

__all__ = ["sweep_table", "sweep_medians", "SUMMARY_FIGURES"]

# Figures shown (when present), in this order, with their units; latency is exact (stamped)
# or from the step test.
SUMMARY_FIGURES = {"load_s": "s", "ttff_s": "s", "warmup_s": "s", "fps_out": "fps", "interval_p95": "ms",
                   "latency_p50": "ms", "step_latency_p50": "ms", "settle_s": "s", "stalls": "count"}


def sweep_medians(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (target, pipeline, condition): trials ok / failed / skipped, and the median of each figure.

    The target is a column of its own, so that a run of several (a Scope server beside a
    hosted API, two pods) shows them side by side.

    Trials are the unit (not frames): the median is over trials' values. ``note`` is the
    first skip reason or error, empty when there is none; ``source`` says SIMULATED when
    the numbers come from the simulator.
    """
    if trials.empty:
        return pd.DataFrame(columns=["target", "pipeline_id", "condition", "ok", "failed", "skipped"])
    keys = ["target", "pipeline_id", "condition"] if "target" in trials else ["pipeline_id", "condition"]
    counts = (trials.assign(ok=trials["status"].eq("ok"), failed=trials["status"].eq("error"),
                            skipped=trials["status"].eq("skipped"))
              .groupby(keys, sort=False)[["ok", "failed", "skipped"]].sum())
    figures = [f for f in SUMMARY_FIGURES if f in trials]
    ok = trials[trials["status"].eq("ok")]
    medians = ok.groupby(keys, sort=False)[figures].median() if figures else pd.DataFrame(index=counts.index)
    notes = (trials.groupby(keys, sort=False)
             .apply(_note, include_groups=False).rename("note"))
    table = counts.join(medians).join(notes).reset_index()
    simulated = trials["simulated"].fillna(False).astype(bool) if "simulated" in trials else pd.Series(False)
    table["source"] = "SIMULATED" if simulated.any() else "measured"
    return table


def sweep_table(trials: pd.DataFrame) -> pd.DataFrame:
    """:func:`sweep_medians` as text: ``3.1 s``, ``15.0 fps``, and nothing where nothing was measured."""
    return format_columns(sweep_medians(trials), SUMMARY_FIGURES)


def _note(group: pd.DataFrame) -> str:
    """The first skip reason or error of a group, in words; empty when there is none."""
    for _, row in group.iterrows():
        reason = row.get("skip_reason")
        if isinstance(reason, str) and reason:  # a missing reason is None or NaN (truthy), never text
            return reason
        error = row.get("error")
        if isinstance(error, dict):
            return f"{error.get('class')} in {error.get('phase')}"
    return ""
