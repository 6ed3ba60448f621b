"""Runs read back as tables: trials with their figures (quality scores joined), figures
with unit, n and CI, and manifests, from all runs of a results folder or the chosen ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lab.store.durable import read_rows
from lab.store.layout import QUALITY, RESULTS_DIR, TRIALS, is_run, list_runs, no_such_run
from lab.store.manifest import read_manifest, scalar_fields
from lab.store.run import RunStore


@dataclass
class Runs:
    """Runs as tables: ``trials`` (one row per trial, figures as columns), ``figures``
    (one row per trial and figure, with unit, n and CI) and ``manifests`` (one per run)."""

    trials: pd.DataFrame
    figures: pd.DataFrame
    manifests: pd.DataFrame
    roots: dict[str, Path]

    def frames(self, run_id: str, trial_id: str) -> pd.DataFrame:
        """The per-frame table of one trial."""
        return RunStore(self.roots[run_id]).read_frames(trial_id)

    def quality_series(self, run_id: str, trial_id: str) -> pd.DataFrame:
        """The scored quality series of one trial (t_s, warp_error, ref_similarity, ...)."""
        return RunStore(self.roots[run_id]).read_quality_series(trial_id)


def load_runs(out_dir: Path | str = RESULTS_DIR, run_ids: Iterable[str] | None = None) -> Runs:
    """All runs under ``out_dir`` (or the chosen ones; a path to a run folder works too).

    Quality figures (``quality.jsonl``) join their trials as any other figure, with the
    embedding model they were scored with in the trial's ``quality_model``.
    """
    roots = _resolve_runs(out_dir, run_ids)
    trial_rows, figure_rows, manifests = [], [], []
    for root in roots:
        manifests.append(scalar_fields(read_manifest(root)))
        quality = {row["trial_id"]: row for row in read_rows(root / QUALITY)}
        for row in read_rows(root / TRIALS):
            scored = quality.get(row["trial_id"], {})
            figures = {**(row.get("figures") or {}), **(scored.get("figures") or {})}
            flat = {k: v for k, v in row.items() if k != "figures"}
            flat["run_id"] = root.name
            flat["quality_model"] = scored.get("model")
            for name, figure in figures.items():
                flat[name] = figure.get("value")
                figure_rows.append({"run_id": root.name, "trial_id": row["trial_id"],
                                    "pipeline_id": row.get("pipeline_id"), "condition": row.get("condition"),
                                    "simulated": row.get("simulated"), "figure": name, **figure})
            trial_rows.append(flat)
    return Runs(pd.DataFrame(trial_rows), pd.DataFrame(figure_rows), pd.DataFrame(manifests),
                {root.name: root for root in roots})


def _resolve_runs(out_dir: Path | str, run_ids: Iterable[str] | None) -> list[Path]:
    out = Path(out_dir)
    if is_run(out):
        return [out]
    if run_ids is None:
        return list_runs(out)
    roots = []
    for run_id in run_ids:
        root = Path(run_id) if is_run(Path(run_id)) else out / run_id
        if not is_run(root):
            raise no_such_run(out, run_id)
        roots.append(root)
    return roots
