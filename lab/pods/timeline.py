"""A pod's cold start as stages (:class:`ColdStart`), shown as a table and kept as a run.

Every stage is timed from the start request on one monotonic clock (``perf_counter``):
``at_s`` is when it was first seen, ``took_s`` the time since the stage before it, and
``resolution_s`` how late it may have been seen: the gap between the poll that saw it and
the poll before (None for what is timed by an event, such as the first frame's arrival).

The run folder (``kind: pod-warmup``) holds the stages in its manifest, rewritten as each
stage is seen, so a start that fails halfway keeps what it measured, and one row in
``trials.jsonl`` with each stage's time as a figure once it ends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lab.pods.facts import PodFacts
from lab.store import RunStore, git_commit
from lab.versions import LAB_VERSION

__all__ = ["ColdStart", "DEFAULT_POLL_S", "DEFAULT_TRIAL_S", "STAGES", "Stage", "WARMUP_KIND"]

WARMUP_KIND = "pod-warmup"
DEFAULT_POLL_S = 0.5  # each polled stage's resolution
DEFAULT_TRIAL_S = 10.0  # long enough for the warm-up detector's 2 s hold after a slow first chunk
STAGES: dict[str, str] = {  # name: what marks it
    "pod_running": "the API reports the container up (runtime)",
    "proxy_answering": "RunPod's proxy no longer shows its 'starting' page",
    "scope_healthy": "Scope's /health answers 200",
    "models_present": "the pipeline's models are on the pod (downloaded if missing)",
    "pipeline_loaded": "/pipeline/status says loaded",
    "first_frame": "the first output frame arrives (a short trial, lab.measure)",
    "steady_output": "the trial's warm-up detector finds a steady rate (as in every trial)",
}


@dataclass(frozen=True)
class Stage:
    """One stage: when it was seen after the start request, and how exactly."""

    name: str
    at_s: float
    took_s: float
    resolution_s: float | None = None
    note: str = ""


@dataclass
class ColdStart:
    """The timeline of one pod's start, up to steady output of one pipeline."""

    pod: PodFacts
    pipeline_id: str
    requested_at: float  # perf_counter of the start request
    stages: list[Stage] = field(default_factory=list)
    error: dict[str, Any] | None = None
    store: RunStore | None = None

    @property
    def simulated(self) -> bool:
        return self.pod.simulated

    @property
    def run_id(self) -> str | None:
        return self.store.run_id if self.store else None

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def add(self, name: str, at: float, resolution_s: float | None = None, note: str = "") -> Stage:
        """Record stage ``name`` seen at ``at`` (perf_counter seconds); kept in the run at once."""
        at_s = max(at - self.requested_at, 0.0)
        before = self.stages[-1].at_s if self.stages else 0.0
        stage = Stage(name, round(at_s, 4), round(max(at_s - before, 0.0), 4),
                      None if resolution_s is None else round(resolution_s, 4), note)
        self.stages.append(stage)
        if self.store is not None:
            self.store.update_manifest(stages=[asdict(s) for s in self.stages])
        return stage

    def table(self) -> pd.DataFrame:
        """stage, at_s, took_s, ± (resolution), note; every row labelled SIMULATED on the simulator."""
        rows = [{"stage": s.name, "at_s": s.at_s, "took_s": s.took_s, "resolution_s": s.resolution_s,
                 "note": s.note} for s in self.stages]
        table = pd.DataFrame(rows, columns=["stage", "at_s", "took_s", "resolution_s", "note"])
        table["source"] = "SIMULATED" if self.simulated else "RunPod"
        return table

    def describe(self) -> str:
        """The stage table as text, with the pod and the total, as ``lab pod warmup`` prints it."""
        label = " [SIMULATED]" if self.simulated else ""
        lines = [f"pod {self.pod.id} ({self.pod.gpu or '?'}, ${self.pod.cost_per_h or 0:.2f}/h){label}: "
                 f"start request to steady {self.pipeline_id} output"]
        rows = [("STAGE", "AT S", "TOOK S", "±S", "")]
        rows += [(s.name, f"{s.at_s:.2f}", f"{s.took_s:.2f}",
                  "-" if s.resolution_s is None else f"{s.resolution_s:.2f}", s.note) for s in self.stages]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        missing = [name for name in STAGES if self.stage(name) is None]
        if self.error:
            lines.append(f"  stopped at {missing[0] if missing else 'the end'}: {self.error['class']}: "
                         f"{self.error['message']}")
        if self.run_id:
            lines.append(f"  run {self.run_id} -> {self.store.root if self.store else ''}")
        return "\n".join(lines)

    # -- the run ---------------------------------------------------------------------------

    def open_run(self, out_dir: Path | str, settings: dict[str, Any]) -> None:
        """Create the run folder; stages are written into it as they are seen."""
        self.store = RunStore.create(out_dir, {
            "kind": WARMUP_KIND, "pipeline_id": self.pipeline_id, "pod": self.pod.as_dict(),
            "target": self.pod.scope_url, "simulated": self.simulated, "settings": settings,
            "stage_meanings": STAGES, "lab_version": LAB_VERSION, "git_commit": git_commit(),
            "started_at": _now(), "status": "running", "stages": []})

    def close_run(self) -> None:
        """The run's status, end and error; the stages as one row of figures."""
        if self.store is None:
            return
        status = "error" if self.error else "complete"
        figures = {f"{s.name}_s": {"value": s.at_s, "unit": "s", "n": 1,
                                   "note": f"after the start request; ± {s.resolution_s} s" if s.resolution_s else
                                   "after the start request"} for s in self.stages}
        self.store.append_trial({"trial_id": WARMUP_KIND, "pipeline_id": self.pipeline_id, "status": status,
                                 "simulated": self.simulated, "error": self.error, "figures": figures,
                                 "ended_at": _now()})
        self.store.update_manifest(status=status, ended_at=_now(), error=self.error)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
