"""The log's open questions, in the log's order, and their answers where the runs hold the
data that answers them.

Each answer names its runs and date, and SIMULATED when the server was the simulator
(:func:`lab.logbook.answering.cited`). The answerers live by subject: what the server says
about itself (:mod:`.server_answers`), how it compares with Daydream's hosted API
(:mod:`.api_answers`), VACE (:mod:`.vace_answers`) and performance
(:mod:`.performance_answers`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lab.logbook.answering import Asked, Question
from lab.logbook.api_answers import REUSE_QUESTIONS
from lab.logbook.hosted_runs import HostedRuns
from lab.logbook.markdown import AnswerLine
from lab.logbook.performance_answers import PERFORMANCE_QUESTIONS
from lab.logbook.realtime import DEFAULT_REALTIME_FPS
from lab.logbook.server_answers import API_QUESTIONS, INTEGRATION_QUESTIONS, MASKING_QUESTIONS
from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace_answers import VACE_QUESTIONS

__all__ = ["QUESTIONS", "answer_questions", "answers_table"]

QUESTIONS: tuple[Question, ...] = (*API_QUESTIONS, *VACE_QUESTIONS, *PERFORMANCE_QUESTIONS, *INTEGRATION_QUESTIONS,
                                   *REUSE_QUESTIONS, *MASKING_QUESTIONS)


def answer_questions(server_runs: ServerRuns, realtime_fps: float = DEFAULT_REALTIME_FPS, *,
                     log_dir: Path | str | None = None, hosted: HostedRuns | None = None) -> list[AnswerLine]:
    """The questions the runs answer, as lines for :func:`lab.logbook.markdown.update_file`.

    ``log_dir``: the folder of the file the answers go into (links are relative to it);
    ``hosted``: runs on Daydream's hosted API (the API comparison cites what they measured).
    """
    asked = Asked(realtime_fps, Path(log_dir) if log_dir is not None else None, hosted)
    answers = []
    for question in QUESTIONS:
        text = question.answer(server_runs, asked)
        if text is not None:
            answers.append(AnswerLine(question.key, question.text, text, question.section))
    return answers


def answers_table(server_runs: ServerRuns, realtime_fps: float = DEFAULT_REALTIME_FPS, *,
                  log_dir: Path | str | None = None, hosted: HostedRuns | None = None) -> pd.DataFrame:
    """Every question of the log with its answer from the data, or "open" (notebook 06)."""
    answers = {a.key: a.answer for a in answer_questions(server_runs, realtime_fps, log_dir=log_dir, hosted=hosted)}
    return pd.DataFrame([{"section": q.section, "question": q.text, "answer": answers.get(q.key, "open")}
                         for q in QUESTIONS])
