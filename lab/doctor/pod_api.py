"""The doctor's RunPod API check: for a pod id target, when ``RUNPOD_API_KEY`` is set, what
RunPod's API says of the pod (desired status, GPU, $/h, uptime, exposed ports, whether
``HF_TOKEN`` is among its environment keys; never a value).

Against the simulator's emulated API (``RUNPOD_API_BASE_URL`` on loopback) the pod's port
8000 is served at the simulator's stand-in for RunPod's proxy, so the checks after this one
go there instead of to ``*.proxy.runpod.net``.
"""

from __future__ import annotations

import os

from lab import pods
from lab.connect import connect
from lab.doctor.connection import NETWORK_TIMEOUT_S
from lab.doctor.report import Check
from lab.doctor.state import DoctorRun
from lab.overview import SIMULATED_LABEL
from lab.target import RUNPOD_PROXY_SUFFIX, SCOPE_PORT, Target

__all__ = ["check_pod_api", "pod_verdict"]

NAME = "runpod api"


async def check_pod_api(run: DoctorRun) -> Check | None:
    """None (no row) unless the target is a RunPod pod and a key is set."""
    pod_id = _pod_id(run.target)
    if pod_id is None or not os.environ.get("RUNPOD_API_KEY", "").strip():
        return None
    api = pods.PodApi()
    try:
        pod = await pods.get_pod(api, pod_id, action="read the pod from RunPod's API")
    except pods.PodError as exc:
        # No such pod of yours, or (simulated) no telling where it serves: nothing further to reach.
        blocking = isinstance(exc, pods.PodNotFoundError) or api.simulated
        if blocking:
            run.blocked_by = NAME
        return Check(NAME, "fail" if blocking else "warn", type(exc).__name__, str(exc))
    if api.simulated:  # the pod's port is served at the simulator's stand-in for RunPod's proxy
        port = run.target.runpod_port if run.target is not None else None
        await _retarget(run, Target.parse(api.scope_url(pod_id, port or SCOPE_PORT)))
    return pod_verdict(pod, api.simulated)


def pod_verdict(pod: pods.PodFacts, simulated: bool) -> Check:
    """The row for what the API says: port 8000 exposed, pod started, HF_TOKEN set, container up."""
    ports = " ".join([f"{p}/http" for p in pod.http_ports] + [f"{p}/tcp" for p in pod.tcp_ports]) or "none"
    price = "-" if pod.cost_per_h is None else f"${pod.cost_per_h:.2f}/h"
    value = (f"{pod.desired_status} ({pod.status}), {pod.gpu or 'no GPU'}, {price}, up {pod.uptime_s} s, "
             f"ports {ports}, HF_TOKEN {'set' if pod.has_hf_token else 'not set'}"
             + (f" [{SIMULATED_LABEL}]" if simulated else ""))
    if SCOPE_PORT not in pod.http_ports:
        return Check(NAME, "fail", value, f"Port {SCOPE_PORT} is not one of the pod's HTTP ports, so RunPod's proxy "
                     f"cannot reach Scope. Edit the pod (or its template) to expose {SCOPE_PORT}/http, then restart it.")
    if pod.status == "stopped":
        return Check(NAME, "fail", value, f"The pod is stopped. Start it: lab pod start {pod.id}.")
    if not pod.has_hf_token:
        return Check(NAME, "warn", value, "HF_TOKEN is not among the pod's environment variables: without it Scope "
                     "gets no TURN server and remote WebRTC usually fails. Add HF_TOKEN (a HuggingFace read token) "
                     "to the pod's environment and restart it.")
    if pod.status == "starting":
        return Check(NAME, "warn", value, "The pod's container is still starting; wait, then run the doctor again.")
    return Check(NAME, "pass", value)


def _pod_id(target: Target | None) -> str | None:
    host = target.host if target is not None and target.kind == "runpod" else None
    if not host or not host.endswith(RUNPOD_PROXY_SUFFIX):
        return None
    return host.removesuffix(RUNPOD_PROXY_SUFFIX).rsplit("-", 1)[0]


async def _retarget(run: DoctorRun, target: Target) -> None:
    if run.client is not None:
        await run.client.aclose()
    run.target = target
    run.client = connect(target, timeout=NETWORK_TIMEOUT_S * 2)
    run.report.url = target.url
