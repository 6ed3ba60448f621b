"""What a sweep keeps of each session as it runs, whatever measured it: rows, frames, samples, timing.

:func:`record_session` runs one planned session through a measuring call (a Scope session,
:func:`lab.measure.run.run_session`, or a hosted stream, :func:`lab.measure.hosted.run_hosted_session`)
and stores each segment's result the moment it is handed out: its row (fsync'ed), frames,
output samples and the server's recording; quality samples are scored once the session
has ended. :class:`SweepOutcome` and :class:`TargetTiming` are what the sweep reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lab.measure.result import TrialResult
from lab.measure.spec import TrialSpec
from lab.quality.samples import QualitySamples
from lab.quality.stored import RunScorer
from lab.sweep.planner import Plan, PlannedTrial, ServerFacts
from lab.sweep.rows import trial_row

__all__ = ["SweepOutcome", "TargetTiming", "record_session"]

Measure = Callable[[Callable[[TrialResult], None]], Awaitable[Any]]  # called with on_result


@dataclass
class TargetTiming:
    """Where one target's wall time went: loading, measuring, and the rest (connect, settle, warm-up)."""

    wall_s: float = 0.0
    load_s: float = 0.0
    measure_s: float = 0.0
    loads: int = 0

    @property
    def other_s(self) -> float:
        return max(self.wall_s - self.load_s - self.measure_s, 0.0)


@dataclass
class SweepOutcome:
    """What a sweep did: its run folder, the plan, rows written now, and timing per target."""

    run_id: str
    root: Path | None
    plan: Plan
    rows_written: int = 0
    already_done: int = 0
    interrupted: bool = False
    timing: dict[str, TargetTiming] = field(default_factory=dict)


async def record_session(spec: TrialSpec, session: list[PlannedTrial], measure: Measure, scorer: RunScorer,
                         outcome: SweepOutcome, bar: tqdm, facts: ServerFacts) -> None:
    """Run ``measure(on_result)`` for one planned session; each result is stored as its segment ends."""
    planned = iter(session)
    timing = outcome.timing[session[0].target]
    store = scorer.store
    kept: list[tuple[str, QualitySamples]] = []

    def record(result: TrialResult) -> None:
        trial = next(planned)
        store.append_trial(trial_row(trial, store.run_id, facts, result=result))
        if not result.frames.empty:
            store.write_frames(trial.trial_id, result.frames)
        if result.samples:
            store.write_samples(trial.trial_id, result.samples)
        if result.server_recording is not None and result.server_recording.path is not None:
            store.keep_recording(trial.trial_id, result.server_recording.path)
        if result.error is None:
            timing.measure_s += spec.duration_s
            if result.quality is not None:
                kept.append((trial.trial_id, result.quality))
        outcome.rows_written += 1
        bar.update()

    bar.set_postfix_str(f"{session[0].pipeline_id}: {len(session)} segment(s)")
    await measure(record)
    for trial_id, samples in kept:  # the session is over: scoring cannot slow its receive path
        await asyncio.to_thread(scorer.keep_and_score, trial_id, samples)
