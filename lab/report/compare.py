"""Compare two runs: per pipeline, condition and figure, both values, the difference with a
CI, whether it is significant, and whether it is a regression.

Use it to see what a new Scope version, another GPU or another pod costs: run the same
sweep on both, then ``lab compare RUN_A RUN_B`` (B is judged against A).

Judging follows asv and pyperf: trials are the unit; with at least 5 trials a side the
verdict is Mann-Whitney U, with 3-4 whether the bootstrap CI of the difference excludes 0
(:func:`lab.stats.compare`); fewer than 3 trials a side are not judged. A
significant change counts only when it is at least ``min_effect`` (10 %) of A's value and
above the instrument's resolution for that figure (:data:`RESOLUTION`); a regression is
such a change in the worse direction (slower, later, fewer fps). A pipeline that measured
in A but only failed in B is a regression too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lab.logbook.server_runs import ServerRuns
from lab.stats import compare
from lab.store import RESULTS_DIR
from lab.units import format_value

__all__ = ["RunComparison", "compare_runs", "COMPARED", "RESOLUTION", "MIN_TRIALS", "DEFAULT_MIN_EFFECT"]

DEFAULT_MIN_EFFECT = 0.10
MIN_TRIALS = 3
# figure -> True when higher is better
COMPARED: dict[str, bool] = {
    "load_s": False, "ttff_s": False, "warmup_s": False, "fps_out": True, "interval_p95": False,
    "latency_p50": False, "step_latency_p50": False, "control_latency_p50": False, "settle_s": False,
    # quality (lab.quality.score); sharpness and flicker_trend have no better direction to judge
    "flicker": False, "duplicate_share": False, "freeze_share": False, "fidelity_ssim": True,
    "ref_similarity": True, "identity_drift": True, "prompt_alignment": True,
}
# Differences below these are within what the instrument resolves (load: the 0.1 s status
# poll; connection phases: event-loop and ICE jitter; fps: one frame over a short trial).
RESOLUTION: dict[str, float] = {
    "load_s": 0.1, "ttff_s": 0.05, "warmup_s": 0.1, "fps_out": 0.5, "interval_p95": 5.0,
    "latency_p50": 10.0, "step_latency_p50": 50.0, "control_latency_p50": 50.0, "settle_s": 0.1,
    # flicker: the codec and content leave ~2 levels on a still stream, varying by ~0.3; drift:
    # 6 s trials without decay measure within about 0.01 cosine/s of 0 (tests/test_quality_sim.py)
    "flicker": 0.5, "duplicate_share": 1.0, "freeze_share": 1.0, "fidelity_ssim": 0.01,
    "ref_similarity": 0.01, "identity_drift": 0.01, "prompt_alignment": 0.01,
}


@dataclass
class RunComparison:
    """B against A: one row per (pipeline, condition, figure), and how the servers differed."""

    run_a: str
    run_b: str
    label_a: str
    label_b: str
    server_changes: list[str]
    table: pd.DataFrame
    min_effect: float = DEFAULT_MIN_EFFECT
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> pd.DataFrame:
        """Rows flagged as regressions (B worse than A, significant and large enough)."""
        return self.table[self.table["regression"]] if not self.table.empty else self.table

    def describe(self) -> str:
        """A text report: servers, then each row with its verdict, then the regressions in words."""
        lines = [f"A = run {self.run_a} ({self.label_a})", f"B = run {self.run_b} ({self.label_b})"]
        lines += [f"  servers differ: {change}" for change in self.server_changes] or ["  same kind of server"]
        lines += [f"  note: {note}" for note in self.notes]
        if self.table.empty:
            return "\n".join([*lines, "", "No pipeline and condition measured in both runs."])
        lines.append("")
        shown = self.shown()
        lines.append(shown.to_string(index=False))
        regressions = self.regressions
        lines.append("")
        if regressions.empty:
            lines.append(f"No regressions (threshold: significant and at least {self.min_effect:.0%} worse).")
        for _, row in regressions.iterrows():
            lines.append(f"REGRESSION {row['pipeline_id']} [{row['condition']}] {row['figure']}: {row['verdict']}")
        return "\n".join(lines)

    def shown(self) -> pd.DataFrame:
        """The table as people read it: medians and differences rounded to their resolution, with units."""
        rows = [row for _, row in self.table.iterrows()]
        return self.table.assign(
            A=[_value(r["a"], r["unit"], r["n_a"], r["figure"]) for r in rows],
            B=[_value(r["b"], r["unit"], r["n_b"], r["figure"]) for r in rows],
            diff=[_difference(r) for r in rows],
        )[["target", "pipeline_id", "condition", "figure", "A", "B", "diff", "verdict"]]

    def styled(self) -> Any:
        """:meth:`shown` for notebooks, regressions in red and improvements in green."""
        caption = f"B = {self.run_b} ({self.label_b}) against A = {self.run_a} ({self.label_a})"
        if self.table.empty:
            return self.table.style.hide(axis="index").set_caption(caption)
        tints = pd.Series(["#f8d0d0" if regression else "#d9f2d9" if improvement else ""
                           for regression, improvement in zip(self.table["regression"], self.table["improvement"],
                                                              strict=True)], index=self.table.index)

        def colour(row: pd.Series) -> list[str]:
            tint = tints[row.name]
            return [f"background-color: {tint}" if tint else ""] * len(row)
        return self.shown().style.apply(colour, axis=1).hide(axis="index").set_caption(caption)


def _value(value: float | None, unit: str, n: int, figure: str) -> str:
    return "-" if value is None or pd.isna(value) else f"{format_value(value, unit, figure)} n={n}"


def _difference(row: pd.Series) -> str:
    if row["difference"] is None or pd.isna(row["difference"]):
        return "-"
    unit, figure = row["unit"], row["figure"]
    ci = ""
    if not pd.isna(row["ci_low"]) and row["ci_low"] != row["ci_high"]:
        ci = f" [{format_value(row['ci_low'], unit, figure)}, {format_value(row['ci_high'], unit, figure)}]"
    sign = "+" if row["difference"] >= 0 else ""
    return f"{sign}{format_value(row['difference'], unit, figure)}{ci}"


def _server_changes(a: ServerRuns, b: ServerRuns) -> list[str]:
    changes = []
    for name, get in (("simulated", lambda e: e.server.simulated), ("Scope version", lambda e: e.server.version),
                      ("GPU VRAM (GB)", lambda e: e.server.vram_gb), ("URL", lambda e: e.server.url),
                      ("lab version", lambda e: next(iter(e.manifests.values())).get("lab_version")),
                      ("sweep", lambda e: (next(iter(e.manifests.values())).get("spec") or {}).get("name"))):
        if get(a) != get(b):
            changes.append(f"{name}: {get(a)} -> {get(b)}")
    return changes


def _judge(name: str, xa: pd.Series, xb: pd.Series, unit: str, min_effect: float) -> dict[str, Any]:
    higher_better = COMPARED[name]
    row: dict[str, Any] = {"a": float(xa.median()), "b": float(xb.median()), "n_a": len(xa), "n_b": len(xb)}
    threshold = max(min_effect * abs(row["a"]), RESOLUTION.get(name, 0.0))
    result = compare(name, xa.to_numpy(dtype=float), xb.to_numpy(dtype=float), unit, min_effect=threshold)
    judged = min(len(xa), len(xb)) >= MIN_TRIALS
    worse = result.difference < 0 if higher_better else result.difference > 0
    significant = judged and result.significant
    row |= {"difference": result.difference, "ci_low": result.ci_low, "ci_high": result.ci_high,
            "ratio": result.ratio, "p_value": result.p_value, "significant": significant,
            "regression": significant and worse, "improvement": significant and not worse}
    if not judged:
        row["verdict"] = f"~ not judged (fewer than {MIN_TRIALS} trials a side)"
    elif significant:
        word = ("slower" if not higher_better else "lower") if worse else ("faster" if not higher_better else "higher")
        row["verdict"] = f"{'-' if worse else '+'} {result.ratio:.2f}x ({word})"
    elif abs(result.difference) < threshold:
        row["verdict"] = f"~ within {format_value(threshold, unit, name)}"
    else:
        row["verdict"] = "~ not significant"
    return row


def _same_targets(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Rows are matched by target too when both runs measured the same several targets (a Scope
    server beside a hosted API, twice); otherwise by pipeline and condition (pod A against pod B)."""
    targets = set(a["target"]) if "target" in a else set()
    return len(targets) > 1 and "target" in b and targets == set(b["target"])


def _targets(trials: pd.DataFrame, by_target: bool) -> pd.Series:
    """Each trial's target when rows are matched by it; else every target of the run, joined (shown only)."""
    if by_target:
        return trials["target"]
    joined = " + ".join(dict.fromkeys(trials["target"])) if "target" in trials else ""
    return pd.Series(joined, index=trials.index)


def _matching(trials: pd.DataFrame, target: str | None, pipeline_id: str, condition: str) -> pd.DataFrame:
    """The trials of one row: its pipeline and condition (and target, when rows are matched by it)."""
    mask = trials["pipeline_id"].eq(pipeline_id) & trials["condition"].eq(condition)
    return trials[mask & trials["target"].eq(target)] if target is not None else trials[mask]


def compare_runs(run_a: str, run_b: str, out_dir: Path | str = RESULTS_DIR, *,
                 min_effect: float = DEFAULT_MIN_EFFECT) -> RunComparison:
    """B against A, per target, pipeline, condition and figure (trials as the unit).

    The target is a column: rows are matched by it when both runs measured the same
    several targets (a Scope server beside a hosted API); otherwise it shows run A's.

    Examples
    --------
    >>> result = compare_runs("20261125T175942Z-775d15", "20261126T091500Z-a1b2c3")   # doctest: +SKIP
    >>> result.regressions[["pipeline_id", "figure", "verdict"]]                        # doctest: +SKIP
    """
    a, b = ServerRuns.load([run_a], out_dir), ServerRuns.load([run_b], out_dir)
    rows = []
    notes = []
    by_target = _same_targets(a.trials, b.trials)
    keys = list(dict.fromkeys(zip(_targets(a.trials, by_target), a.trials["pipeline_id"], a.trials["condition"],
                                  strict=True)))
    ok_a = a.trials[a.trials["status"].eq("ok")]  # hosted trials too: ServerRuns.ok is the log's Scope-only view
    for target, pipeline_id, condition in keys:
        ta = _matching(ok_a, target if by_target else None, pipeline_id, condition)
        tb_all = _matching(b.trials, target if by_target else None, pipeline_id, condition)
        tb = tb_all[tb_all["status"].eq("ok")]
        if ta.empty:
            continue
        if tb_all.empty:
            notes.append(f"{pipeline_id} [{condition}] is not in run B")
            continue
        if tb.empty:
            status = ", ".join(sorted(set(tb_all["status"])))
            rows.append({"target": target, "pipeline_id": pipeline_id, "condition": condition, "figure": "status",
                         "unit": "",
                         "a": None, "b": None, "n_a": len(ta), "n_b": 0, "difference": None, "ci_low": None,
                         "ci_high": None, "ratio": None, "p_value": None, "significant": True, "regression": True,
                         "improvement": False, "verdict": f"x measured in A, {status} in B"})
            continue
        for name in COMPARED:
            if name not in ta or name not in tb:
                continue
            xa = pd.to_numeric(ta[name], errors="coerce").dropna()
            xb = pd.to_numeric(tb[name], errors="coerce").dropna()
            if xa.empty or xb.empty:
                continue
            rows.append({"target": target, "pipeline_id": pipeline_id, "condition": condition, "figure": name,
                         "unit": a.unit(name),
                         **_judge(name, xa, xb, a.unit(name), min_effect)})
    table = pd.DataFrame(rows)
    return RunComparison(a.run_ids[0], b.run_ids[0], a.label, b.label, _server_changes(a, b), table,
                         min_effect, notes)
