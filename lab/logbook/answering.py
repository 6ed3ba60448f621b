"""What a question of the log is and what answering it takes: the question, what answers
depend on besides the runs (the real-time threshold, where the log is, the hosted API's
runs), and how an answer
cites the runs behind it.

An answerer returns an answer or None; None leaves the question unticked and untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.logbook.hosted_runs import HostedRuns
from lab.logbook.realtime import DEFAULT_REALTIME_FPS
from lab.logbook.server_runs import ServerRuns

__all__ = ["Asked", "Question", "cited", "api_block"]


@dataclass(frozen=True)
class Asked:
    """What answers depend on besides the runs: the real-time threshold, and where the log is.

    Links in answers (the contact sheet) are written relative to ``log_dir``, so they work
    from the log (or report) that holds them; None: relative to the working directory.
    """

    realtime_fps: float = DEFAULT_REALTIME_FPS
    log_dir: Path | None = None
    hosted: HostedRuns | None = None  # runs on Daydream's hosted API, for the comparison answers

    def link(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.log_dir)).as_posix() if self.log_dir is not None else path.as_posix()


@dataclass(frozen=True)
class Question:
    """A checkbox question of the log, where it is, and how data answers it."""

    key: str
    text: str
    section: str
    answer: Callable[[ServerRuns, Asked], str | None]


def cited(server_runs: ServerRuns, text: str, run_ids: list[str] | None = None) -> str:
    """``text (run `X`, 2026-11-25, SIMULATED)``: an answer with the runs behind it."""
    return f"{text} ({server_runs.cite(run_ids)})"


def api_block(server_runs: ServerRuns) -> dict | None:
    """The runs' ``api`` block (what the server's OpenAPI said, :mod:`lab.apifacts`); None in runs from before it."""
    api = server_runs.server.api
    return dict(api) if api and "scope_local" in api else None
