"""Which sweeps still run on a pod, read from the results store: a stop must not pull a
GPU from under a sweep.

A sweep's manifest says ``status: running`` from its first trial until it ends (complete or
interrupted), with its targets and each target's URL. A sweep whose process was killed keeps
``running`` for ever; the refusal says so, and ``--force`` stops the pod anyway.
"""

from __future__ import annotations

from pathlib import Path

from lab.errors import TargetError
from lab.pods.facts import PodFacts
from lab.store.layout import list_runs
from lab.store.manifest import read_manifest
from lab.target import Target, runpod_url

__all__ = ["sweeps_running_on"]


def sweeps_running_on(pod: PodFacts, results_dir: Path | str) -> list[str]:
    """Run ids of the sweeps under ``results_dir`` still marked running on ``pod``."""
    addresses = {runpod_url(pod.id).rstrip("/"), *([pod.scope_url.rstrip("/")] if pod.scope_url else [])}
    running = []
    for root in list_runs(results_dir):
        manifest = read_manifest(root)
        if manifest.get("kind") != "sweep" or manifest.get("status") != "running":
            continue
        servers = manifest.get("servers") or {}
        urls = {_target_url(t) for t in manifest.get("targets") or []}
        urls |= {str(s.get("url") or "").rstrip("/") for s in servers.values() if isinstance(s, dict)}
        if addresses & urls:
            running.append(root.name)
    return running


def _target_url(target: str) -> str:
    try:
        return (Target.parse(target).url or "").rstrip("/")
    except TargetError:
        return ""
