"""Start, stop, create and list RunPod pods from the workbench, through RunPod's Python SDK.

Every function is async; the SDK's blocking calls run in worker threads (:mod:`lab.pods.api`).
The key comes from ``RUNPOD_API_KEY`` and never appears in output, logs or errors. Against
the simulator (``RUNPOD_API_BASE_URL=<sim url>/runpod``, or ``PodApi(api_url=...)``) the same
calls drive its emulated pods, and everything they report is SIMULATED.

Examples
--------
>>> api = PodApi()                                   # doctest: +SKIP
>>> [pod.status for pod in await list_pods(api)]     # doctest: +SKIP
['running']
>>> await stop_pod(api, "gbc63llq1zdxki")            # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from lab.pods.api import PodApi, not_found
from lab.pods.errors import (GpuNotOfferedError, NoCapacityError, PodApiUnreachableError, PodAuthError, PodBusyError,
                             PodError, PodNotFoundError, RunpodExtraMissingError, TemplateNotFoundError)
from lab.pods.facts import PodFacts, pod_facts
from lab.pods.sweeps import sweeps_running_on
from lab.store.layout import RESULTS_DIR

__all__ = ["MIN_GPU_MEMORY_GB", "GpuNotOfferedError", "NoCapacityError", "PodApi", "PodApiUnreachableError",
           "PodAuthError", "PodBusyError", "PodError", "PodFacts", "PodNotFoundError", "RunpodExtraMissingError",
           "TemplateNotFoundError", "create_pod", "get_pod", "list_pods", "start_pod", "stop_pod"]

MIN_GPU_MEMORY_GB = 24  # Scope's generative pipelines need >= 24 GB of VRAM (the research log's setup)
# The SDK writes ids and env values into its GraphQL text unescaped: only plain ones get through.
_POD_ID = re.compile(r"^[a-z0-9]{6,32}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_VALUE = re.compile(r'^[^"\\\n\r]*$')


async def list_pods(api: PodApi) -> list[PodFacts]:
    """The pods of the key's account."""
    pods = await api.call("list pods", "get_pods")
    return [_facts(api, pod) for pod in pods or []]


async def get_pod(api: PodApi, pod_id: str, *, action: str = "look up the pod") -> PodFacts:
    """One pod of the key's account; :class:`PodNotFoundError` for any other id."""
    if not _POD_ID.match(pod_id):
        raise PodNotFoundError(f"Cannot {action}: {pod_id!r} is not a RunPod pod id (lower-case letters and "
                               "digits, like gbc63llq1zdxki). `lab pod list` shows yours.", action=action, pod_id=pod_id)
    pod = await api.call(action, "get_pod", pod_id, pod_id=pod_id)
    if not pod:
        raise not_found(pod_id, action)
    return _facts(api, pod)


async def start_pod(api: PodApi, pod_id: str) -> PodFacts:
    """Resume a stopped pod (a running one is left alone); its facts afterwards."""
    pod = await get_pod(api, pod_id, action="start the pod")
    if pod.desired_status != "RUNNING":
        await api.call("start the pod", "resume_pod", pod_id, max(pod.gpu_count, 1), pod_id=pod_id)
    return await get_pod(api, pod_id, action="start the pod")


async def stop_pod(api: PodApi, pod_id: str, *, force: bool = False,
                   results_dir: Path | str = RESULTS_DIR) -> PodFacts:
    """Stop a pod, unless a sweep in ``results_dir`` still runs on it (``force`` stops anyway)."""
    pod = await get_pod(api, pod_id, action="stop the pod")
    running = [] if force else sweeps_running_on(pod, results_dir)
    if running:
        raise PodBusyError(
            f"Not stopping pod {pod_id}: sweep run {', '.join(running)} in {Path(results_dir).resolve()} still "
            "runs on it, and stopping would fail its remaining trials. Wait for it to finish, or interrupt it "
            "(Ctrl-C keeps its rows; --resume continues). If its process is gone, pass --force.",
            pod_id=pod_id, run_ids=running)
    if pod.desired_status != "EXITED":
        await api.call("stop the pod", "stop_pod", pod_id, pod_id=pod_id)
    return await get_pod(api, pod_id, action="stop the pod")


async def create_pod(api: PodApi, *, template: str, gpu: str, env: Mapping[str, str] | None = None,
                     name: str = "scope") -> PodFacts:
    """Deploy a pod from ``template`` on one GPU of type ``gpu`` (its id or display name).

    A GPU type RunPod does not offer, or one with less than 24 GB, is refused before anything
    is deployed; so are env values the SDK could not pass intact.
    """
    action = f"create a pod from template {template!r} on {gpu!r}"
    _check_env(env or {}, action)
    gpu_id = await _gpu_type_id(api, gpu, action)
    created = await api.call(action, "create_pod", name, gpu_type_id=gpu_id, template_id=template, env=dict(env or {}))
    return await get_pod(api, str(created["id"]), action=action)


async def _gpu_type_id(api: PodApi, gpu: str, action: str) -> str:
    offered = await api.call(action, "get_gpus") or []
    wanted = gpu.strip().lower()
    match = next((g for g in offered if wanted in (str(g.get("id")).lower(), str(g.get("displayName")).lower())), None)
    if match is None:
        names = ", ".join(sorted(str(g.get("displayName")) for g in offered
                                 if (g.get("memoryInGb") or 0) >= MIN_GPU_MEMORY_GB))
        raise GpuNotOfferedError(f"Cannot {action}: RunPod offers no GPU type {gpu!r}. Types with at least "
                                 f"{MIN_GPU_MEMORY_GB} GB it offers: {names or 'none'}.", action=action)
    memory = match.get("memoryInGb") or 0
    if memory < MIN_GPU_MEMORY_GB:
        raise GpuNotOfferedError(f"Refusing to {action}: it has {memory} GB, and Scope's generative pipelines need "
                                 f"at least {MIN_GPU_MEMORY_GB} GB of VRAM. Pick e.g. RTX 4090 (24 GB) or RTX 5090 "
                                 "(32 GB).", action=action)
    return str(match["id"])


def _check_env(env: Mapping[str, str], action: str) -> None:
    for key, value in env.items():
        if not _ENV_KEY.match(key) or not _ENV_VALUE.match(value):
            raise PodError(f"Cannot {action}: environment variable {key!r} has a name or value the RunPod SDK "
                           "cannot pass intact (names: letters, digits, _; values: no quotes, backslashes or "
                           "newlines).", action=action)


def _facts(api: PodApi, pod: Mapping[str, object]) -> PodFacts:
    return pod_facts(pod, scope_url=api.scope_url(str(pod["id"])), simulated=api.simulated)
