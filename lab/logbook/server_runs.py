"""The stored runs of one server, as the log's tables and answers need them.

Everything the research log says comes from here: per-pipeline figures with n and CI
(trials are the unit, never frames), what the server's schemas and model status said at
run start, which run and date back each statement, and whether it is SIMULATED.

Runs are combined only when they measured the same kind of server (simulated or real,
Scope version, GPU VRAM): the log's "Scope (Measured)" column holds one server's numbers.
Runs of different servers are compared (``lab compare``), never merged.

A run may also have measured Daydream's hosted API (a ``daydream:`` target, ``kind:
daydream`` in the manifest, its rows on path ``whip``): those trials are in ``trials``
(the report's sweep tables show them beside Scope's, by target) but never in ``ok`` nor
in the server checks, so the Scope column holds Scope's numbers only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from lab.errors import LabError
from lab.overview import SIMULATED_LABEL
from lab.stats import Figure, percentile_figure
from lab.store import RESULTS_DIR, Runs, list_runs, load_runs, read_manifest
from lab.target import is_hosted_target

__all__ = ["ServerRuns", "LogbookError", "ServerView", "latest_runs", "hosted_target", "hosted_rows", "trials_figure",
           "figure_unit", "BASELINE_CONDITION", "HOSTED_KIND", "LATENCY_FIGURES"]

BASELINE_CONDITION = "default"
# Frame latency: exact (stamped input) where the pipeline keeps the picture, else the step test.
LATENCY_FIGURES = ("latency_p50", "step_latency_p50")
MIN_TRIALS_FOR_CI = 3
HOSTED_KIND = "daydream"  # a manifest server's kind when it is Daydream's hosted API
HOSTED_PATH = "whip"  # the via of a hosted trial's row (lab.measure.paths.WHIP)


class LogbookError(LabError):
    """Runs that cannot be put into one research log (none given, or different servers)."""


@dataclass(frozen=True)
class ServerView:
    """What the server said about itself at run start (the first target of the first run)."""

    target: str
    url: str | None
    version: str | None
    simulated: bool
    vram_gb: float | None
    schemas: Mapping[str, Mapping[str, Any]]
    models_present: Mapping[str, bool]
    api: Mapping[str, Any] | None
    hardware: Mapping[str, Any] | None = None  # /hardware/info: VRAM and Spout/NDI/Syphon availability
    inputs: Mapping[str, Any] | None = None  # lab.inputs.PodInputs.as_dict(), in runs made since it exists
    kind: str = "scope"  # or "daydream": the hosted API

    @property
    def label(self) -> str:
        """SIMULATED, or the real server's version: how every number from it is tagged."""
        if self.simulated:
            return SIMULATED_LABEL
        return "Daydream hosted API" if self.kind == HOSTED_KIND else f"Scope {self.version}"

    @property
    def simulator_speed(self) -> float | None:
        speed = (self.api or {}).get("simulator_speed")
        return float(speed) if isinstance(speed, int | float) else None

    def identity(self) -> tuple[bool, str | None, float | None]:
        """The checked metadata: runs differing in it are compared, never merged."""
        return (self.simulated, self.version, self.vram_gb)


def figure_unit(runs: Runs, figure: str) -> str:
    """The unit the runs stored figure ``figure`` in ("" when they have none)."""
    figures = runs.figures
    if figures.empty or figure not in set(figures["figure"]):
        return ""
    return str(figures.loc[figures["figure"].eq(figure), "unit"].iloc[0])


def trials_figure(name: str, trials: pd.DataFrame, unit: str) -> Figure | None:
    """Median over trials of figure ``name`` with a bootstrap CI; n = trials (None: no data)."""
    if name not in trials:
        return None
    values = pd.to_numeric(trials[name], errors="coerce").dropna().to_numpy(dtype=float)
    if values.size == 0:
        return None
    figure = percentile_figure(name, values, 50, unit)
    if values.size < MIN_TRIALS_FOR_CI:  # a bootstrap over one or two values is no interval
        figure = Figure(figure.name, figure.value, figure.unit, int(values.size),
                        warnings=(f"{values.size} trial(s): add repeats for a confidence interval",))
    return figure


def hosted_target(manifest: Mapping[str, Any]) -> str | None:
    """The ``daydream:`` target a run measured (Daydream's hosted API), or None for a Scope run.

    Read from the manifest's ``targets``, ``target`` (a string, or a block with ``kind``
    and ``raw``) and ``servers`` keys, so a ``lab measure`` run and a sweep are told apart alike.
    """
    target = manifest.get("target")
    if isinstance(target, Mapping):
        if target.get("kind") == "daydream":
            return str(target.get("raw") or "daydream:")
        target = target.get("raw")
    for text in [*(manifest.get("targets") or []), target, *(manifest.get("servers") or {})]:
        if isinstance(text, str) and is_hosted_target(text):
            return text
    return None


def hosted_rows(trials: pd.DataFrame) -> pd.Series:
    """Which trial rows measured the hosted API: path ``whip`` or a ``daydream:`` target."""
    hosted = pd.Series(False, index=trials.index)
    if "via" in trials:
        hosted |= trials["via"].eq(HOSTED_PATH)
    if "target" in trials:
        hosted |= trials["target"].map(lambda t: isinstance(t, str) and is_hosted_target(t)).astype(bool)
    return hosted


def measured_scope(manifest: Mapping[str, Any]) -> bool:
    """Whether a run measured a Scope server (a mixed sweep measured the hosted API beside it)."""
    return bool(_server_views(manifest))


def _server_views(manifest: Mapping[str, Any], kind: str = "scope") -> list[ServerView]:
    """The manifest's servers of one kind: Scope's (the log's), or the hosted API's."""
    views = []
    for target, server in (manifest.get("servers") or {}).items():
        if server.get("kind", "scope") != kind:
            continue
        views.append(ServerView(
            target=target, url=server.get("url"), version=server.get("version"),
            simulated=bool(server.get("simulated", manifest.get("simulated", False))),
            vram_gb=server.get("vram_gb"), schemas=server.get("schemas") or {},
            models_present=server.get("models_present") or {}, api=server.get("api"),
            hardware=server.get("hardware"), inputs=server.get("inputs"), kind=kind))
    return views


class ServerRuns:
    """Runs loaded for the log: trials, manifests, and per-pipeline figures.

    Examples
    --------
    >>> server_runs = ServerRuns.load(["20261125T175942Z-775d15"], "results")   # doctest: +SKIP
    >>> str(server_runs.figure("longlive", "fps_out"))                           # doctest: +SKIP
    'fps_out: 10.27 fps [10.21, 10.34] n=2'
    """

    def __init__(self, runs: Runs, manifests: Mapping[str, Mapping[str, Any]]) -> None:
        if not manifests:
            raise LogbookError("No runs to report on. Run a sweep first (lab sweep pipelines), "
                               "then pass its run id.")
        self.runs = runs
        self.manifests = dict(manifests)
        self.trials = runs.trials if not runs.trials.empty else pd.DataFrame(
            columns=["trial_id", "run_id", "pipeline_id", "condition", "status"])
        self._baselines: dict[str, pd.DataFrame] = {}
        self._figures: dict[tuple[str, str], Figure | None] = {}
        self._check_one_server()

    @classmethod
    def load(cls, run_ids: Iterable[str] | None = None, out_dir: Path | str = RESULTS_DIR) -> ServerRuns:
        """Runs by id (or run folders) from ``out_dir``; None means :func:`latest_runs`."""
        ids = list(run_ids) if run_ids else [p.name for p in latest_runs(out_dir)]
        if not ids:
            raise LogbookError(f"No runs in {Path(out_dir).resolve()}. Run a sweep first "
                               "(lab sweep pipelines --target sim), or pass --out.")
        runs = load_runs(out_dir, ids)
        manifests = {run_id: read_manifest(root) for run_id, root in runs.roots.items()}
        return cls(runs, manifests)

    # -- the server and the runs ----------------------------------------------------------

    def _check_one_server(self) -> None:
        seen: dict[tuple[bool, str | None, float | None], str] = {}
        for run_id, manifest in self.manifests.items():
            for view in _server_views(manifest):
                seen.setdefault(view.identity(), f"{run_id} ({view.target})")
        if len(seen) > 1:
            described = "; ".join(f"{where}: {'simulated' if sim else 'real'} Scope {version}, "
                                  f"{vram if vram is not None else 'no'} GB GPU"
                                  for (sim, version, vram), where in seen.items())
            raise LogbookError(f"These runs measured different servers ({described}). The log's "
                               "'Scope (Measured)' column holds one server's numbers: report them "
                               "separately, or compare them with `lab compare RUN_A RUN_B`.")

    @cached_property
    def server(self) -> ServerView:
        """The server of the runs (schemas, models, API, hardware and inputs facts merged over all runs)."""
        views = [v for m in self.manifests.values() for v in _server_views(m)] or \
            [v for m in self.manifests.values() for v in _server_views(m, HOSTED_KIND)]  # hosted-only runs
        if not views:
            raise LogbookError(f"Run(s) {', '.join(self.manifests)} have no server block in their "
                               "manifest; they were not written by a sweep.")
        schemas: dict[str, Mapping[str, Any]] = {}
        present: dict[str, bool] = {}
        api = hardware = inputs = None
        for view in views:
            schemas |= view.schemas
            present |= view.models_present
            api = view.api or api
            hardware = view.hardware or hardware
            inputs = view.inputs or inputs
        first = views[0]
        return ServerView(first.target, first.url, first.version, first.simulated, first.vram_gb,
                          schemas, present, api, hardware, inputs, first.kind)

    @property
    def measured_scope(self) -> bool:
        """Whether any of the runs measured a Scope server (not only Daydream's hosted API)."""
        return any(measured_scope(manifest) for manifest in self.manifests.values())

    @property
    def simulated(self) -> bool:
        return self.server.simulated

    @property
    def label(self) -> str:
        return self.server.label

    @property
    def run_ids(self) -> list[str]:
        return list(self.manifests)

    def date(self, run_ids: Iterable[str] | None = None) -> str:
        """The UTC start date(s) of the runs, e.g. ``2026-11-25``."""
        dates = sorted({str(self.manifests[r].get("started_at", ""))[:10] for r in (run_ids or self.run_ids)})
        return ", ".join(d for d in dates if d) or "?"

    def cite(self, run_ids: Iterable[str] | None = None) -> str:
        """``run `X`, 2026-11-25, SIMULATED``: the evidence behind a statement."""
        ids = list(dict.fromkeys(run_ids or self.run_ids))
        runs = ", ".join(f"`{r}`" for r in ids)
        return f"{'run' if len(ids) == 1 else 'runs'} {runs}, {self.date(ids)}, {self.label}"

    # -- trials ---------------------------------------------------------------------------

    @cached_property
    def ok(self) -> pd.DataFrame:
        """Trials of Scope servers that ran and measured (status ok); hosted ones are not Scope's numbers."""
        return self.trials[self.trials["status"].eq("ok") & ~hosted_rows(self.trials)]

    def pipelines(self) -> list[str]:
        """Pipelines with at least one measured trial, in the order they were run."""
        return list(dict.fromkeys(self.ok["pipeline_id"]))

    def baseline(self, pipeline_id: str) -> pd.DataFrame:
        """The trials that stand for a pipeline at its default settings.

        Those of condition ``default`` (the pipelines sweep); failing that, the first
        condition the pipeline ran under (e.g. VACE off in a VACE-only run).
        """
        if pipeline_id not in self._baselines:
            trials = self.ok[self.ok["pipeline_id"].eq(pipeline_id)]
            default = trials[trials["condition"].eq(BASELINE_CONDITION)]
            if default.empty and not trials.empty:
                default = trials[trials["condition"].eq(trials["condition"].iloc[0])]
            self._baselines[pipeline_id] = default
        return self._baselines[pipeline_id]

    def unit(self, figure: str) -> str:
        return figure_unit(self.runs, figure)

    def figure(self, pipeline_id: str, name: str, trials: pd.DataFrame | None = None) -> Figure | None:
        """Median over trials of one figure, with a bootstrap CI; n = trials (None: no data)."""
        if trials is None:
            key = (pipeline_id, name)
            if key not in self._figures:
                self._figures[key] = self.figure(pipeline_id, name, self.baseline(pipeline_id))
            return self._figures[key]
        return trials_figure(name, trials, self.unit(name))

    def latency(self, pipeline_id: str, trials: pd.DataFrame | None = None) -> Figure | None:
        """Frame latency p50: stamped (exact) if measured, else the step test."""
        for name in LATENCY_FIGURES:
            figure = self.figure(pipeline_id, name, trials)
            if figure is not None:
                return figure
        return None

    def runs_of(self, trials: pd.DataFrame) -> list[str]:
        return list(dict.fromkeys(trials["run_id"])) if "run_id" in trials else []


def latest_runs(out_dir: Path | str = RESULTS_DIR) -> list[Path]:
    """The newest complete Scope run of each sweep name, on the same server as the newest run.

    ``lab report`` with no run ids uses these: after ``make demo`` that is the pipelines
    and the VACE sweep just run. A run of the hosted API alone is not one of them
    (:func:`lab.logbook.hosted_runs.latest_hosted_runs` finds it); a run that measured a Scope
    server beside the hosted API is, for its Scope trials (:attr:`ServerRuns.ok`).
    """
    newest: dict[str, Path] = {}
    identity = None
    for root in reversed(list_runs(out_dir)):
        manifest = read_manifest(root)
        views = _server_views(manifest)
        if manifest.get("kind") != "sweep" or not views or manifest.get("status") not in ("complete", None):
            continue
        identity = identity or views[0].identity()
        name = str((manifest.get("spec") or {}).get("name", root.name))
        if views[0].identity() == identity and name not in newest:
            newest[name] = root
    return sorted(newest.values())

