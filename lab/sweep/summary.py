"""The sweep's result table: one row per pipeline and condition, medians over trials."""

from __future__ import annotations

import pandas as pd

__all__ = ["sweep_table", "SUMMARY_FIGURES"]

# Figures shown (when present), in this order; latency is exact (stamped) or from the step test.
SUMMARY_FIGURES = ("load_s", "ttff_s", "warmup_s", "fps_out", "interval_p95", "latency_p50", "step_latency_p50",
                   "settle_s", "stalls")


def sweep_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (pipeline, condition): trials ok / failed / skipped, and the median of each figure.

    Trials are the unit (not frames): the median is over trials' values. ``source`` says
    SIMULATED when the numbers come from the simulator.
    """
    if trials.empty:
        return pd.DataFrame(columns=["pipeline_id", "condition", "ok", "failed", "skipped"])
    keys = ["pipeline_id", "condition"]
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


def _note(group: pd.DataFrame) -> str:
    """The first skip reason or error of a group, in words."""
    for _, row in group.iterrows():
        if row.get("skip_reason"):
            return str(row["skip_reason"])
        error = row.get("error")
        if isinstance(error, dict):
            return f"{error.get('class')} in {error.get('phase')}"
    return ""
