"""The stored runs of Daydream's hosted API (``daydream:`` targets): the log's Nexus column.

The research log's *Nexus (Reference)* column quotes what the team saw on the hosted API
("15-25s" warm-up). A run measured on a ``daydream:`` target puts numbers beside those
quotes. Such runs are kept apart from Scope's (:class:`~lab.logbook.server_runs.ServerRuns`
combines one Scope server's runs only): :func:`split_hosted` sorts run ids, and
:func:`latest_hosted_runs` finds the newest one when none are named.

Figures are computed as for Scope (median over trials, bootstrap CI, n = trials) from the
same figure names (``ttff_s``, ``fps_out``, ...), per model (the row's ``pipeline_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from lab.logbook.server_runs import HOSTED_KIND, figure_unit, hosted_rows, hosted_target, measured_scope, trials_figure
from lab.overview import SIMULATED_LABEL
from lab.stats import Figure
from lab.store import RESULTS_DIR, Runs, list_runs, load_runs, read_manifest
from lab.store.layout import is_run

__all__ = ["HostedRuns", "HOSTED_LABEL", "split_hosted", "latest_hosted_runs"]

HOSTED_LABEL = "Daydream hosted API"


@dataclass(frozen=True)
class HostedRuns:
    """Runs on Daydream's hosted API: their trials, manifests, and figures per model."""

    runs: Runs
    manifests: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, run_ids: Iterable[str], out_dir: Path | str = RESULTS_DIR) -> HostedRuns | None:
        """The hosted runs ``run_ids`` from ``out_dir``; None when there are none."""
        ids = list(run_ids)
        if not ids:
            return None
        runs = load_runs(out_dir, ids)
        return cls(runs, {run_id: read_manifest(root) for run_id, root in runs.roots.items()})

    @property
    def run_ids(self) -> list[str]:
        return list(self.manifests)

    @property
    def simulated(self) -> bool:
        """True when any run was on the simulator's emulation (or says it was)."""
        trials = self.runs.trials
        rows = "simulated" in trials and bool(trials["simulated"].fillna(False).astype(bool).any())
        return rows or any(bool(m.get("simulated")) or hosted_target(m) == "daydream:sim"
                           for m in self.manifests.values())

    @property
    def label(self) -> str:
        return SIMULATED_LABEL if self.simulated else HOSTED_LABEL

    @cached_property
    def ok(self) -> pd.DataFrame:
        """Trials that ran and measured (status ok) on a ``daydream:`` target (a row's own ``target``)."""
        trials = self.runs.trials
        if "status" not in trials:
            return trials.iloc[0:0]
        ok = trials[trials["status"].eq("ok")]
        if "target" in ok:  # rows that name no target are the run's own (a hosted-only run)
            ok = ok[hosted_rows(ok) | ~ok["target"].map(lambda t: isinstance(t, str)).astype(bool)]
        return ok

    def models(self) -> list[str]:
        """The models measured (the rows' ``pipeline_id``), in the order they were run."""
        return list(dict.fromkeys(self.ok["pipeline_id"].dropna())) if "pipeline_id" in self.ok else []

    def figure(self, model: str, names: Sequence[str]) -> Figure | None:
        """The first of ``names`` measured on ``model``: median over trials with its CI."""
        trials = self.ok[self.ok["pipeline_id"].eq(model)]
        for name in names:
            figure = trials_figure(name, trials, figure_unit(self.runs, name))
            if figure is not None:
                return figure
        return None

    def summed(self, model: str, names: Sequence[str], name: str) -> Figure | None:
        """Per trial, the sum of ``names`` that were measured (e.g. first frame + to steady), over trials."""
        trials = self.ok[self.ok["pipeline_id"].eq(model)]
        present = [n for n in names if n in trials]
        if not present:
            return None
        values = trials[present].apply(pd.to_numeric, errors="coerce")
        total = values.sum(axis=1, min_count=1).rename(name)
        return trials_figure(name, total.to_frame(), figure_unit(self.runs, present[0]))

    @property
    def simulator_speed(self) -> float | None:
        """How much faster than real time the emulating simulator ran its streams' start-up
        (None for the real API, or when no run recorded it)."""
        speeds = [(server.get("api") or {}).get("simulator_speed") for manifest in self.manifests.values()
                  for server in (manifest.get("servers") or {}).values() if server.get("kind") == HOSTED_KIND]
        return next((float(s) for s in speeds if isinstance(s, int | float)), None)

    def cite(self) -> str:
        """``SIMULATED, run `X```: the label first, as the Nexus cells show it."""
        runs = ", ".join(f"`{r}`" for r in self.run_ids)
        return f"{self.label}, {'run' if len(self.run_ids) == 1 else 'runs'} {runs}"


def split_hosted(run_ids: Iterable[str], out_dir: Path | str = RESULTS_DIR) -> tuple[list[str], list[str]]:
    """``run_ids`` as (Scope runs, hosted runs), in their order, by what each manifest measured.

    A sweep that measured a Scope server beside the hosted API is in both: its Scope trials
    fill Scope's column, its hosted trials the Nexus column.
    """
    scope, hosted = [], []
    for run_id in run_ids:
        root = Path(run_id) if is_run(Path(run_id)) else Path(out_dir) / run_id
        manifest = read_manifest(root) if is_run(root) else {}
        is_hosted = hosted_target(manifest) is not None
        if is_hosted:
            hosted.append(run_id)
        if not is_hosted or measured_scope(manifest):
            scope.append(run_id)
    return scope, hosted


def latest_hosted_runs(out_dir: Path | str = RESULTS_DIR) -> list[str]:
    """The newest complete run on a ``daydream:`` target, as a list (empty when there is none)."""
    for root in reversed(list_runs(out_dir)):
        manifest = read_manifest(root)
        if hosted_target(manifest) is not None and manifest.get("status") in ("complete", None):
            return [root.name]
    return []
