"""How the emulated RunPod account starts (:class:`RunpodSimConfig`, a field of ``SimConfig``).

The account holds one pod of its own, the *home pod*, which is the simulator's Scope: its
``desiredStatus`` decides whether Scope's routes answer or RunPod's proxy pages do. Another
account's pod exists too, so that asking for it can be tested; it is never shown.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HOME_POD_ID", "OTHER_ACCOUNT_POD_ID", "RunpodFaultKind", "RunpodSimConfig"]

HOME_POD_ID = "scopesim01"  # a RunPod-style id (lower-case letters and digits), so targets parse it
OTHER_ACCOUNT_POD_ID = "otheracct02"
RunpodFaultKind = Literal["no_capacity", "invalid_key", "unreachable"]


class RunpodFault(BaseModel):
    """One emulated RunPod API failure.

    ``no_capacity``: resuming or deploying a pod fails as RunPod does when no GPU is free.
    ``invalid_key``: every request is refused with 401, whatever the key (a revoked key).
    ``unreachable``: every request's connection drops before an answer.
    ``count`` is how many requests it affects (``None``: until cleared).
    """

    model_config = ConfigDict(extra="forbid")

    kind: RunpodFaultKind
    count: int | None = Field(default=None, ge=1)


class RunpodSimConfig(BaseModel):
    """The emulated RunPod API's startup state.

    Parameters
    ----------
    api_key
        The one key the emulated API accepts (a fake; tests choose their own to check that
        it never reaches any output).
    home_status
        The home pod's ``desiredStatus`` at startup: ``RUNNING`` (booted, Scope serving) or
        ``EXITED`` (stopped: Scope's routes answer the proxy's 404 page).
    boot_s
        Seconds from resume to Scope answering (divided by ``SimConfig.speed``); the first
        ``starting_share`` of it the proxy shows its "starting" page (503), the rest 502s.
    starting_share
        Share of ``boot_s`` before the container is up.
    home_gpu
        The home pod's GPU type id (the research log's pod: an RTX 5090 at $0.89/h).
    home_env
        The home pod's environment; values are kept but only keys are ever shown by lab.
    home_ports
        The home pod's exposed ports, in RunPod's ``"8000/http,22/tcp"`` form.
    faults
        API faults active at startup.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str = "sim-runpod-key"
    home_status: Literal["RUNNING", "EXITED"] = "RUNNING"
    boot_s: float = Field(default=30.0, ge=0)
    starting_share: float = Field(default=0.4, ge=0, le=1)
    home_gpu: str = "NVIDIA GeForce RTX 5090"
    home_env: dict[str, str] = Field(default_factory=lambda: {"HF_TOKEN": "hf_simulatedtokennotreal00000"})
    home_ports: str = "8000/http,22/tcp"
    faults: list[RunpodFault] = Field(default_factory=list)
