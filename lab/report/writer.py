"""``lab report``: from run ids to an updated research log and HTML reports, in one call.

This is what ``make demo`` ends with, and what notebook 06 calls::

    outcome = write_report(["20261125T175942Z-775d15", "20261125T180041Z-8db48f"],
                           log="results/research-log.md", html="results/report.html")

- every run gets ``results/<run-id>/report.html`` (that run alone) and its plots in
  ``results/<run-id>/plots/`` (PNG and SVG);
- ``html`` writes one more report of all the runs together (plots beside it);
- ``log`` updates the managed tables and answers of a research-log markdown file in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lab.logbook import HostedRuns, ServerRuns, UpdateResult, latest_hosted_runs, split_hosted, update_log
from lab.logbook.realtime import DEFAULT_REALTIME_FPS
from lab.logbook.server_runs import latest_runs
from lab.report.html import write_html_report
from lab.store import RESULTS_DIR

__all__ = ["ReportOutcome", "write_report", "sweep_if_empty", "RUN_REPORT"]

RUN_REPORT = "report.html"


@dataclass
class ReportOutcome:
    """What was written: reports, plot files, and what the log update did."""

    run_ids: list[str]
    simulated: bool
    reports: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    log: Path | None = None
    log_update: UpdateResult | None = None

    def describe(self) -> str:
        """Where everything is, in a few lines (the CLI prints this)."""
        label = " [SIMULATED]" if self.simulated else ""
        lines = [f"runs {', '.join(self.run_ids)}{label}"]
        if self.log is not None and self.log_update is not None:
            update = self.log_update
            state = "updated" if update.changed else "already up to date"
            lines.append(f"research log {self.log}: {state}; tables {', '.join(update.tables) or 'none'}"
                         + (f" (not found: {', '.join(update.missing_tables)})" if update.missing_tables else "")
                         + f"; {len(set(update.answered))} questions answered")
        elif self.log is not None:
            lines.append(f"research log {self.log}: not updated (these runs measured Daydream's hosted API only; "
                         "the log's Scope column takes Scope runs)")
        lines += [f"report {path}" for path in self.reports]
        folders = sorted({str(p.parent) for p in self.plots})
        lines += [f"plots  {folder}/ (PNG and SVG)" for folder in folders]
        return "\n".join(lines)


def write_report(run_ids: Iterable[str] | None = None, out_dir: Path | str = RESULTS_DIR, *,
                 log: Path | str | None = None, html: Path | str | None = None, per_run: bool = True,
                 realtime_fps: float = DEFAULT_REALTIME_FPS) -> ReportOutcome:
    """Update the log (if ``log``), and write the per-run and combined HTML reports.

    ``run_ids`` None means the newest run of each sweep (:func:`lab.logbook.server_runs.latest_runs`)
    and the newest run on Daydream's hosted API (:func:`lab.logbook.latest_hosted_runs`); runs
    named on a ``daydream:`` target fill the log's Nexus column instead of Scope's. Hosted runs
    alone are reported (their sweep tables) but leave the log as it is: its rows are Scope's,
    with the Nexus figures beside them.
    Raises :class:`lab.logbook.LogbookError` when the runs measured different servers.
    """
    if run_ids is None:  # the results folder is read once for each kind
        hosted_ids = latest_hosted_runs(out_dir)
        scope_ids = [root.name for root in latest_runs(out_dir)] or hosted_ids
    else:
        scope_ids, hosted_ids = split_hosted(run_ids, out_dir)
        scope_ids = scope_ids or hosted_ids
    server_runs = ServerRuns.load(scope_ids, out_dir)
    hosted = HostedRuns.load(hosted_ids, out_dir)
    outcome = ReportOutcome(list(dict.fromkeys(server_runs.run_ids + hosted_ids)), server_runs.simulated)
    if log is not None:
        outcome.log = Path(log)
        if server_runs.measured_scope:
            outcome.log_update = update_log(log, server_runs, realtime_fps=realtime_fps, hosted=hosted)
    if per_run:
        for root in server_runs.runs.roots.values():
            one = server_runs if len(server_runs.run_ids) == 1 else ServerRuns.load([str(root)], out_dir)
            path, plots = write_html_report(one, root / RUN_REPORT, plots_dir=root / "plots",
                                            realtime_fps=realtime_fps, hosted=hosted)
            outcome.reports.append(path)
            outcome.plots += plots
    if html is not None:
        path, plots = write_html_report(server_runs, html, realtime_fps=realtime_fps, hosted=hosted)
        outcome.reports.append(path)
        outcome.plots += plots
    return outcome


async def sweep_if_empty(out_dir: Path | str = RESULTS_DIR, target: str = "sim") -> list[str]:
    """The runs in ``out_dir``; if there are none, first a short sweep of the CPU pipelines.

    Notebook 06 calls this so that it works on a fresh checkout: passthrough and gray, two
    repeats of 3 s on ``target`` (about half a minute on the simulator, results SIMULATED).
    """
    from lab.sweep import load_spec, run_sweep

    if not latest_runs(out_dir):
        spec = load_spec("pipelines", {"pipelines": ["passthrough", "gray"], "duration_s": 3.0, "repeats": 2})
        await run_sweep(spec, targets=[target], out_dir=out_dir, progress=False)
    return [p.name for p in latest_runs(out_dir)]
