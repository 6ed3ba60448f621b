"""The research log, filled from measurements: its tables, its answers, updated in place.

:class:`~lab.logbook.server_runs.ServerRuns` loads the runs of one server (and
:class:`~lab.logbook.hosted_runs.HostedRuns` those of Daydream's hosted API); :mod:`.tables`
renders the log's own tables; :mod:`.questions` answers what the data answers;
:mod:`.markdown` rewrites only those parts of a markdown file. :func:`update_log` does all
of it::

    from lab.logbook import ServerRuns, update_log
    result = update_log("results/research-log.md", ServerRuns.load(["20261125T175942Z-775d15"]))
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.logbook.hosted_runs import HostedRuns, latest_hosted_runs, split_hosted
from lab.logbook.markdown import UpdateResult, update_file
from lab.logbook.questions import answer_questions
from lab.logbook.realtime import DEFAULT_REALTIME_FPS
from lab.logbook.server_runs import LogbookError, ServerRuns
from lab.logbook.tables import log_tables
from lab.resources import LOG_TEMPLATE as TEMPLATE  # the shipped log, copied by ensure_log

__all__ = ["ServerRuns", "HostedRuns", "LogbookError", "UpdateResult", "update_log", "ensure_log",
           "split_hosted", "latest_hosted_runs", "DEFAULT_REALTIME_FPS", "TEMPLATE"]


def update_log(path: Path | str, server_runs: ServerRuns, *,
               realtime_fps: float = DEFAULT_REALTIME_FPS, hosted: HostedRuns | None = None) -> UpdateResult:
    """Rewrite the managed tables and answers of the research log at ``path`` from ``server_runs``.

    Everything else in the file is kept byte for byte; with the same runs a second call
    changes nothing. ``realtime_fps`` is the threshold of "Real-time viability"; ``hosted``:
    runs on Daydream's hosted API, for the Nexus column and the API comparison.

    Raises
    ------
    LogbookError
        If the file does not exist (the message points at the shipped template).
    """
    path = Path(path)
    if not path.is_file():
        raise LogbookError(f"No research log at {path}. Copy the template first: cp {TEMPLATE} {path}")
    return update_file(path, log_tables(server_runs, hosted),
                       answer_questions(server_runs, realtime_fps, log_dir=path.parent, hosted=hosted))


def ensure_log(path: Path | str) -> Path:
    """``path``, created as a copy of the template research log if it does not exist yet."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE, path)
    return path
