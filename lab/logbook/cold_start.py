"""The "RunPod warm-up time?" answer from a pod's measured cold start (``lab pod warmup``):
the whole way from the start request to steady output, stage by stage, not only the load.

A cold start is a run of its own (``kind: pod-warmup``, :mod:`lab.pods.timeline`) in the same
results folder as the sweeps; the newest complete one of the same kind of server (simulated
or real) answers, cited by its own run id and date.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.logbook.server_runs import ServerRuns
from lab.overview import SIMULATED_LABEL
from lab.store import list_runs, read_manifest
from lab.units import format_value

__all__ = ["cold_start_answer"]

_KIND = "pod-warmup"  # lab.pods.timeline.WARMUP_KIND: the log reads runs, it does not import pod control
_PARTS = (("models_present", "models"), ("pipeline_loaded", "load"), ("first_frame", "first frame"),
          ("steady_output", "warm-up"))


def cold_start_answer(server_runs: ServerRuns) -> str | None:
    """``**Start request to steady output: 95 s** on pod ...: pod boot 41 s (...) + models ...``, or None."""
    found = _newest_cold_start(server_runs)
    if found is None:
        return None
    run_id, manifest = found
    stages = {stage["name"]: stage for stage in manifest["stages"]}
    healthy = stages["scope_healthy"]
    boot = (f"pod boot {format_value(healthy['at_s'], 's')} (container up {_at(stages, 'pod_running')}, "
            f"proxy past its starting page {_at(stages, 'proxy_answering')}, /health {_at(stages, 'scope_healthy')})")
    parts = [boot] + [f"{label} {format_value(stages[name]['took_s'], 's')}"
                      + (f" ({stages[name]['note'].partition(':')[0]})" if name == "models_present" else "")
                      for name, label in _PARTS]  # the models' note without its artifact list
    pod = manifest.get("pod") or {}
    where = (f"pod {pod.get('id')} ({pod.get('gpu') or '?'}, ${pod.get('cost_per_h') or 0:.2f}/h), "
             f"{manifest.get('pipeline_id')}")
    label = SIMULATED_LABEL if manifest.get("simulated") else "RunPod"
    speed = (manifest.get("settings") or {}).get("simulator_speed")
    if speed and speed != 1:  # media is real time; the emulated waits are divided by the speed
        label += f"; the simulator's boot, downloads and loads ran {speed:g}x faster than its real-time profile"
    date = str(manifest.get("started_at", "?"))[:10]
    return (f"**Start request to steady output: {format_value(stages['steady_output']['at_s'], 's')}** on {where}: "
            + " + ".join(parts) + f" (run `{run_id}`, {date}, {label})")


def _at(stages: Mapping[str, Mapping[str, Any]], name: str) -> str:
    return f"at {format_value(stages[name]['at_s'], 's')}"


def _newest_cold_start(server_runs: ServerRuns) -> tuple[str, dict[str, Any]] | None:
    folders = {root.parent for root in server_runs.runs.roots.values()}
    found = []
    for folder in folders:
        for root in list_runs(folder):
            manifest = read_manifest(root)
            if (manifest.get("kind") == _KIND and manifest.get("status") == "complete"
                    and bool(manifest.get("simulated")) == server_runs.simulated):
                found.append((root.name, manifest))
    return max(found, key=lambda item: item[0]) if found else None
