"""The emulated RunPod account's pods: their lifecycle, what the API reports about them, and
what RunPod's proxy answers for each of their ports.

A resumed pod goes through the phases RunPod's do: ``starting`` (the container is not up:
no ``runtime``, the proxy shows its "starting" page, 503), ``booting`` (the container runs
but nothing listens on the port yet: 502) and ``serving``; a stopped pod's ports answer the
proxy's 404 page. Every pod of the account fronts the simulator's one emulated Scope.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from lab.sim.runpod.catalogue import TEMPLATES, GpuType, gpu_type
from lab.sim.runpod.config import (
    HOME_POD_ID,
    OTHER_ACCOUNT_POD_ID,
    RunpodFault,
    RunpodSimConfig,
)
from lab.target import runpod_ports

__all__ = ["NO_CAPACITY_DEPLOY", "NO_CAPACITY_RESUME", "ApiRefusal", "EmulatedPod", "Phase", "PodBook"]

Phase = Literal["stopped", "starting", "booting", "serving"]
# RunPod's own words for these refusals (as its API returns them through the SDK).
NO_CAPACITY_RESUME = "There are not enough free GPUs on the host machine to start this pod."
NO_CAPACITY_DEPLOY = ("There are no longer any instances available with the requested specifications. "
                      "Please refresh and try again.")
_PROXY_STATUS: dict[Phase, int | None] = {"stopped": 404, "starting": 503, "booting": 502, "serving": None}


class ApiRefusal(Exception):
    """A request the emulated API refuses; the message goes to GraphQL's ``errors``."""


@dataclass
class EmulatedPod:
    """One pod: what it runs and when it last started."""

    id: str
    name: str
    gpu: GpuType
    image: str
    env: dict[str, str]
    ports: str
    mine: bool = True
    desired: Literal["RUNNING", "EXITED"] = "RUNNING"
    started_at: float | None = None  # on the book's clock, when it was last resumed
    last_change: str = ""
    container_disk_gb: int = 50
    gpu_count: int = 1

    def http_ports(self) -> set[int]:
        """The ports RunPod's proxy serves for this pod (``8000/http`` and the like)."""
        return set(runpod_ports(self.ports)[0])


class PodBook:
    """Every emulated pod, the API faults, and the clock their phases are read on."""

    def __init__(self, config: RunpodSimConfig, speed: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.boot_s = config.boot_s / speed
        self.clock = clock
        self.faults: list[RunpodFault] = list(config.faults)
        home_gpu = gpu_type(config.home_gpu)
        if home_gpu is None:
            raise ValueError(f"home_gpu {config.home_gpu!r} is not an emulated GPU type")
        home = EmulatedPod(HOME_POD_ID, "metadj-scope", home_gpu, TEMPLATES["daydream-scope"].image,
                           dict(config.home_env), config.home_ports, desired=config.home_status)
        if home.desired == "RUNNING":
            home.started_at = self.clock() - self.boot_s  # up and serving from the start
        home.last_change = _status_text(home.desired)
        other = EmulatedPod(OTHER_ACCOUNT_POD_ID, "someone-else", home_gpu, home.image, {}, home.ports,
                            mine=False, started_at=self.clock())
        self.pods: dict[str, EmulatedPod] = {home.id: home, other.id: other}

    # -- faults ------------------------------------------------------------------------------

    def take_fault(self, kind: str) -> bool:
        """Use up one count of the first active fault of ``kind``; whether there was one."""
        for index, fault in enumerate(self.faults):
            if fault.kind == kind:
                if fault.count == 1:
                    del self.faults[index]
                elif fault.count is not None:
                    self.faults[index] = fault.model_copy(update={"count": fault.count - 1})
                return True
        return False

    # -- phases and the proxy ----------------------------------------------------------------

    def phase(self, pod: EmulatedPod) -> Phase:
        """Where a pod is in its boot: stopped, starting, booting or serving."""
        if pod.desired != "RUNNING" or pod.started_at is None:
            return "stopped"
        elapsed = self.clock() - pod.started_at
        if elapsed < self.boot_s * self.config.starting_share:
            return "starting"
        return "booting" if elapsed < self.boot_s else "serving"

    def proxy_status(self, pod_id: str, port: int) -> int | None:
        """The status RunPod's proxy answers for a pod's port, or None when the service answers."""
        pod = self.pods.get(pod_id)
        if pod is None or not pod.mine or port not in pod.http_ports():
            return 404
        return _PROXY_STATUS[self.phase(pod)]

    def uptime_s(self, pod: EmulatedPod) -> int:
        """Seconds since the pod last started (0 when stopped), as ``uptimeSeconds``."""
        if self.phase(pod) == "stopped" or pod.started_at is None:
            return 0
        return int(self.clock() - pod.started_at)

    # -- the API's operations ----------------------------------------------------------------

    def mine(self) -> list[EmulatedPod]:
        """The account's own pods."""
        return [pod for pod in self.pods.values() if pod.mine]

    def own_pod(self, pod_id: str) -> EmulatedPod | None:
        """A pod of this account (another account's pod is as invisible as a missing one)."""
        pod = self.pods.get(pod_id)
        return pod if pod is not None and pod.mine else None

    def stop(self, pod_id: str) -> EmulatedPod:
        pod = self._for_change(pod_id)
        pod.desired, pod.started_at, pod.last_change = "EXITED", None, _status_text("EXITED")
        return pod

    def resume(self, pod_id: str, gpu_count: int) -> EmulatedPod:
        pod = self._for_change(pod_id)
        if pod.desired == "RUNNING":
            return pod
        if self.take_fault("no_capacity"):
            raise ApiRefusal(NO_CAPACITY_RESUME)
        pod.desired, pod.gpu_count, pod.started_at = "RUNNING", gpu_count, self.clock()
        pod.last_change = _status_text("RUNNING")
        return pod

    def deploy(self, fields: dict[str, Any]) -> EmulatedPod:
        """``podFindAndDeployOnDemand``: a new pod from a template (or image) on a GPU type."""
        gpu = gpu_type(str(fields.get("gpuTypeId")))
        if gpu is None:
            raise ApiRefusal(f"GPU type {fields.get('gpuTypeId')!r} is not available.")
        template = TEMPLATES.get(str(fields["templateId"])) if fields.get("templateId") else None
        if fields.get("templateId") and template is None:
            raise ApiRefusal(f"Template not found: {fields['templateId']!r}.")
        if self.take_fault("no_capacity"):
            raise ApiRefusal(NO_CAPACITY_DEPLOY)
        env = {item["key"]: item["value"] for item in fields.get("env") or []}
        pod = EmulatedPod(_new_pod_id(), str(fields.get("name") or "pod"), gpu,
                          fields.get("imageName") or (template.image if template else ""), env,
                          fields.get("ports") or (template.ports if template else ""),
                          started_at=self.clock(), last_change=_status_text("RUNNING"),
                          container_disk_gb=template.container_disk_gb if template else 10,
                          gpu_count=int(fields.get("gpuCount") or 1))
        self.pods[pod.id] = pod
        return pod

    def _for_change(self, pod_id: str) -> EmulatedPod:
        pod = self.pods.get(pod_id)
        if pod is None:
            raise ApiRefusal("Pod not found.")
        if not pod.mine:
            raise ApiRefusal("You do not have permission to modify this pod.")
        return pod

    # -- what the API says about a pod -------------------------------------------------------

    def as_api(self, pod: EmulatedPod) -> dict[str, Any]:
        """The ``Pod`` object with every field the SDK's queries ask for."""
        phase = self.phase(pod)
        ports = [_runtime_port(int(p), kind, i) for i, (p, _, kind) in
                 enumerate(item.partition("/") for item in pod.ports.split(",") if item)]
        return {
            "id": pod.id, "name": pod.name, "imageName": pod.image, "desiredStatus": pod.desired,
            "costPerHr": round(pod.gpu.price_per_h * pod.gpu_count, 3), "gpuCount": pod.gpu_count,
            "uptimeSeconds": self.uptime_s(pod), "lastStatusChange": pod.last_change,
            "env": [f"{key}={value}" for key, value in pod.env.items()], "ports": pod.ports,
            "port": None, "podType": "RESERVED", "containerDiskInGb": pod.container_disk_gb,
            "volumeInGb": 20, "volumeMountPath": "/workspace", "memoryInGb": 62, "vcpuCount": 16,
            "dockerArgs": "", "dockerId": None, "machineId": f"sim{pod.id[:8]}",
            "runtime": None if phase in ("stopped", "starting") else
            {"uptimeInSeconds": self.uptime_s(pod), "ports": ports},
            "machine": {"gpuDisplayName": pod.gpu.display_name, "podHostId": f"{pod.id}-64410a"},
        }

    def phase_times(self, pod: EmulatedPod) -> dict[str, float] | None:
        """When the pod was last resumed, its container came up and its port began serving,
        on the book's clock (None while stopped): the truth a cold-start timeline is held to."""
        if pod.desired != "RUNNING" or pod.started_at is None:
            return None
        return {"resumed": pod.started_at, "container_up": pod.started_at + self.boot_s * self.config.starting_share,
                "serving": pod.started_at + self.boot_s}

    def snapshot(self) -> dict[str, Any]:
        """For ``/sim/runpod``: each pod's phase, phase times and facts, environment values hidden."""
        return {
            "faults": [fault.model_dump() for fault in self.faults], "boot_s": self.boot_s,
            "clock": "time.monotonic: CLOCK_MONOTONIC on Linux, shared by the machine's processes",
            "pods": [{"id": pod.id, "mine": pod.mine, "phase": self.phase(pod), "desiredStatus": pod.desired,
                      "phase_times": self.phase_times(pod), "env_keys": sorted(pod.env), "ports": pod.ports,
                      "gpu": pod.gpu.display_name}
                     for pod in self.pods.values()],
        }


def _runtime_port(port: int, kind: str, index: int) -> dict[str, Any]:
    # Documentation addresses (RFC 5737, RFC 6598): nothing here is reachable.
    if kind == "http":
        return {"ip": "100.64.0.2", "isIpPublic": False, "privatePort": port, "publicPort": port, "type": "http"}
    return {"ip": "203.0.113.10", "isIpPublic": True, "privatePort": port, "publicPort": 40100 + index,
            "type": kind}


def _status_text(status: str) -> str:
    who = "Rented by User" if status == "RUNNING" else "Exited by User"
    return f"{who}: {datetime.now(UTC).strftime('%a %b %d %Y %H:%M:%S GMT+0000')}"


def _new_pod_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    tail = "".join(secrets.choice(alphabet) for _ in range(12))
    return secrets.choice(string.ascii_lowercase) + secrets.choice(string.digits) + tail
