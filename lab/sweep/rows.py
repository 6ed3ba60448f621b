"""A sweep's stored row of one planned trial: its keys, settings, status and figures.

:func:`trial_row` is what ``trials.jsonl`` holds per trial (see :mod:`lab.sweep.runner`):
the plan's keys (trial id, target, pipeline, condition, repeat, segment), how it ran (path,
set-up steps, the transition of its prompt changes), its status (ok, error, skipped, with
the reason) and, when it ran, every figure with value, unit, n, CI and warnings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lab.client import LoadResult
from lab.headless import setup_steps
from lab.measure.result import TrialResult
from lab.measure.transition import Transition
from lab.sweep.planner import PlannedTrial, ServerFacts
from lab.sweep.spec import REF_KEY, TRANSITION_KEY

__all__ = ["trial_row", "transition_of", "utc_now"]


def trial_row(trial: PlannedTrial, run_id: str, facts: ServerFacts, *, result: TrialResult | None = None,
              error: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stored row of one planned trial: its keys, settings, status and figures."""
    status = "skipped" if trial.skip else "error" if (error or (result and result.error)) else "ok"
    row: dict[str, Any] = {
        "trial_id": trial.trial_id, "run_id": run_id, "target": trial.target, "pipeline_id": trial.pipeline_id,
        "mode": trial.mode, "condition": trial.condition, "load_params": trial.load, "runtime": trial.runtime,
        "vace_enabled": _vace_loaded(trial, facts), "vace_ref_count": int(trial.runtime.get(REF_KEY) or 0),
        "vace_context_scale": trial.runtime.get("vace_context_scale"),
        "transition": _transition_settings(trial.runtime),
        "repeat": trial.repeat, "segment": trial.segment, "status": status, "skip_reason": trial.skip,
        "via": trial.via, "setup_steps": result.setup_steps if result else setup_steps(trial.via, trial.mode),
        "error": dict(error) if error else (result.error if result else None), "ended_at": utc_now(),
        "simulated": facts.simulated, "server_version": facts.version,
    }
    if result is not None:
        row |= {
            "url": result.url,
            "started_at": datetime.fromtimestamp(result.started_at, UTC).isoformat(),
            "frames": len(result.frames), "vram_gb": result.server_state.get("vram_gb"),
            "gpu_memory": result.server_gpu,  # {} = unknown: Scope 0.2.4 fills no GPU block (lab.models.gpu_memory_text)
            "load": _load_summary(result.load),
            "figures": {f.name: {k: v for k, v in f.as_dict().items() if k != "name"} for f in result.figures},
        }
    return row


def _transition_settings(runtime: Mapping[str, Any]) -> dict[str, Any] | None:
    """How this trial's prompt changes were sent (None: it changed no prompt), beside its control latency."""
    if TRANSITION_KEY in runtime:
        return transition_of(int(runtime[TRANSITION_KEY])).settings()
    if "prompts" in runtime:  # the segment itself sends new prompts, at once
        return transition_of(0).settings()
    return None


def _vace_loaded(trial: PlannedTrial, facts: ServerFacts) -> bool | None:
    schema = facts.schemas.get(trial.pipeline_id)
    if schema is None:
        return None
    return bool(schema.supports_vace and trial.load.get("vace_enabled", True))


def _load_summary(load: LoadResult | None) -> dict[str, Any] | None:
    if load is None:
        return None
    return {"load_s": load.load_s, "poll_interval_s": load.poll_interval_s,
            "stages": [dataclasses.asdict(stage) for stage in load.stages],
            "download_s": load.download.download_s if load.download else None}


def utc_now() -> str:
    """Now, as the store writes times (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def transition_of(steps: int) -> Transition:
    """How a prompt change of ``steps`` chunks is sent (0: replaced at once)."""
    return Transition(enabled=steps > 0, num_steps=steps)
