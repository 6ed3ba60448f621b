"""The simulator's startup configuration (:class:`SimConfig`).

``POST /sim/reset`` returns the running simulator to exactly this configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.sim.faults import Fault
from lab.sim.hosted.config import HostedConfig
from lab.sim.profiles import DEFAULT_PROFILE_PATH
from lab.sim.runpod.config import RunpodSimConfig

__all__ = ["DEFAULT_VRAM_GB", "ModelsPolicy", "SimConfig"]

DEFAULT_VRAM_GB = 32.0  # an RTX 5090, the GPU of the research log's pod
ModelsPolicy = Literal["missing", "present"]


class SimConfig(BaseModel):
    """How a simulator starts.

    Parameters
    ----------
    profile_path
        Pipeline profile YAML; defaults to the packaged Scope 0.2.4 profiles.
    speed
        Time-scale factor: emulated durations (loads, downloads) are divided by it. The
        WebRTC media path (chunk compute, pipeline delays, pacing, media faults) always runs
        in real time, so that latency and frame rates stay meaningful.
    vram_gb
        VRAM of the emulated GPU in GiB, as ``/api/v1/hardware/info`` reports it; ``None``
        means no CUDA device. Defaults to 32.0, or ``None`` with ``cpu_only``.
    cpu_only
        Act like a host without CUDA: only pipelines that run on the CPU are registered.
    models
        ``"missing"``: pipelines that need model files start without them; ``"present"``:
        every model is already downloaded.
    ice_servers
        What ``/api/v1/webrtc/ice-servers`` returns as ``iceServers``.
    assets_dir
        Asset directory; ``None`` means a fresh temporary directory per app, removed at
        shutdown.
    faults
        Faults active at startup.
    version
        The Scope version ``/health`` reports.
    download_mb_per_s
        Emulated model download speed in MB/s (before ``speed`` scaling).
    huggingface_token_set
        Whether ``/api/v1/keys`` reports a HuggingFace token (from the ``HF_TOKEN`` env var).
    hosted
        The emulation of Daydream's hosted API beside Scope's (:mod:`lab.sim.hosted`).
    runpod
        The emulated RunPod account whose home pod this Scope is (:mod:`lab.sim.runpod`).

    Examples
    --------
    >>> SimConfig(cpu_only=True).vram_gb is None
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile_path: Path = DEFAULT_PROFILE_PATH
    speed: float = Field(default=1.0, gt=0)
    vram_gb: float | None = Field(default=DEFAULT_VRAM_GB, ge=0)
    cpu_only: bool = False
    models: ModelsPolicy = "missing"
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    assets_dir: Path | None = None
    faults: list[Fault] = Field(default_factory=list)
    version: str = "0.2.4"
    download_mb_per_s: float = Field(default=100.0, gt=0)
    huggingface_token_set: bool = False
    hosted: HostedConfig = Field(default_factory=HostedConfig)
    runpod: RunpodSimConfig = Field(default_factory=RunpodSimConfig)

    @model_validator(mode="before")
    @classmethod
    def _no_vram_without_cuda(cls, data: Any) -> Any:
        if not (isinstance(data, dict) and data.get("cpu_only")):
            return data
        if data.get("vram_gb") is not None:
            raise ValueError(
                "cpu_only emulates a host without CUDA, which reports no VRAM: leave vram_gb unset"
            )
        return {**data, "vram_gb": None}
