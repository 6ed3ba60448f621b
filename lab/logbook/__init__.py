"""The research log, filled from measurements: its tables, its answers, updated in place.

:class:`~lab.logbook.evidence.Evidence` loads runs; :mod:`.tables` renders the log's own
tables; :mod:`.questions` answers what the data answers; :mod:`.markdown` rewrites only
those parts of a markdown file. :func:`update_log` does all of it::

    from lab.logbook import Evidence, update_log
    result = update_log("results/research-log.md", Evidence.load(["20261125T175942Z-775d15"]))

This package must not import :mod:`lab.sweep` (the sweep runner imports :mod:`.api`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.logbook.evidence import Evidence, LogbookError
from lab.logbook.markdown import UpdateResult, update_file
from lab.logbook.questions import DEFAULT_REALTIME_FPS, answer_questions
from lab.logbook.tables import log_tables
from lab.resources import LOG_TEMPLATE as TEMPLATE  # the shipped log, copied by ensure_log

__all__ = ["Evidence", "LogbookError", "UpdateResult", "update_log", "ensure_log", "DEFAULT_REALTIME_FPS", "TEMPLATE"]


def update_log(path: Path | str, evidence: Evidence, *, realtime_fps: float = DEFAULT_REALTIME_FPS) -> UpdateResult:
    """Rewrite the managed tables and answers of the research log at ``path`` from ``evidence``.

    Everything else in the file is kept byte for byte; with the same runs a second call
    changes nothing. ``realtime_fps`` is the threshold of "Real-time viability".

    Raises
    ------
    LogbookError
        If the file does not exist (the message points at the shipped template).
    """
    path = Path(path)
    if not path.is_file():
        raise LogbookError(f"No research log at {path}. Copy the template first: cp {TEMPLATE} {path}")
    return update_file(path, log_tables(evidence), answer_questions(evidence, realtime_fps, log_dir=path.parent))


def ensure_log(path: Path | str) -> Path:
    """``path``, created as a copy of the template research log if it does not exist yet."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE, path)
    return path
