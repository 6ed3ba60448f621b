"""One pod as the workbench sees it (:class:`PodFacts`), built from the API's ``Pod`` object.

Only the *keys* of the pod's environment are kept: RunPod returns ``env`` as ``KEY=value``
strings, values included (``HF_TOKEN``'s too), and a value must never reach a table or a
log. ``cost_per_h``, ``uptime_s``, ``desired_status`` and ``ports`` are what the cold-start
and cost figures build on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lab.target import SCOPE_PORT, runpod_ports

__all__ = ["PodFacts", "SCOPE_PORT", "pod_facts"]


@dataclass(frozen=True)
class PodFacts:
    """A pod: identity, state, GPU, price, uptime, exposed ports and environment keys.

    ``status`` is ``stopped`` (desired EXITED), ``starting`` (desired RUNNING but no container
    yet: the API has no ``runtime``) or ``running`` (the container is up; whether Scope
    answers yet is for the proxy to say). ``scope_url`` is None when port 8000 is not an HTTP
    port of the pod. ``simulated`` is true when the API is the simulator's.
    """

    id: str
    name: str
    desired_status: str
    gpu: str | None
    gpu_count: int
    cost_per_h: float | None
    uptime_s: int
    http_ports: tuple[int, ...]
    tcp_ports: tuple[int, ...]
    env_keys: tuple[str, ...]
    image: str
    last_status_change: str | None
    container_up: bool
    scope_url: str | None
    simulated: bool

    @property
    def status(self) -> str:
        if self.desired_status != "RUNNING":
            return "stopped"
        return "running" if self.container_up else "starting"

    @property
    def has_hf_token(self) -> bool:
        """Whether ``HF_TOKEN`` is among the pod's environment keys (its value is never kept)."""
        return "HF_TOKEN" in self.env_keys

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``status`` and ``has_hf_token``."""
        return asdict(self) | {"status": self.status, "has_hf_token": self.has_hf_token}


def pod_facts(pod: Mapping[str, Any], *, scope_url: str | None, simulated: bool) -> PodFacts:
    """The facts of one API ``Pod`` object; ``scope_url`` is its port 8000's address, if exposed."""
    http, tcp = runpod_ports(str(pod.get("ports") or ""))
    machine = pod.get("machine") or {}
    return PodFacts(
        id=str(pod["id"]), name=str(pod.get("name") or ""), desired_status=str(pod.get("desiredStatus") or "UNKNOWN"),
        gpu=machine.get("gpuDisplayName"), gpu_count=int(pod.get("gpuCount") or 0),
        cost_per_h=pod.get("costPerHr"), uptime_s=int(pod.get("uptimeSeconds") or 0),
        http_ports=http, tcp_ports=tcp,
        env_keys=tuple(sorted(item.partition("=")[0] for item in pod.get("env") or [])),
        image=str(pod.get("imageName") or ""), last_status_change=pod.get("lastStatusChange"),
        container_up=pod.get("runtime") is not None,
        scope_url=scope_url if SCOPE_PORT in http else None, simulated=simulated,
    )
