"""What the emulated RunPod offers: GPU types (with SIMULATED prices) and pod templates.

GPU ids and display names follow RunPod's (``"NVIDIA GeForce RTX 5090"`` shown as ``"RTX
5090"``); the prices are made up near RunPod's on-demand ones, except the RTX 5090's $0.89/h,
which is the research log's pod. ``daydream-scope`` is the template id the research log
deploys (``console/deploy?template=daydream-scope``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPU_TYPES", "TEMPLATES", "GpuType", "Template", "gpu_type"]


@dataclass(frozen=True)
class GpuType:
    """One GPU type as the API's ``gpuTypes`` lists it."""

    id: str
    display_name: str
    memory_gb: int
    price_per_h: float
    max_count: int = 8

    def as_api(self) -> dict[str, object]:
        """The ``GpuType`` object with the fields the SDK asks for (``lowestPrice`` apart)."""
        return {
            "id": self.id, "displayName": self.display_name, "memoryInGb": self.memory_gb,
            "maxGpuCount": self.max_count, "manufacturer": "Nvidia", "cudaCores": 0,
            "secureCloud": True, "communityCloud": True, "securePrice": self.price_per_h,
            "communityPrice": round(self.price_per_h * 0.8, 2), "oneMonthPrice": None,
            "threeMonthPrice": None, "oneWeekPrice": None, "communitySpotPrice": None,
            "secureSpotPrice": None,
        }


GPU_TYPES: tuple[GpuType, ...] = (
    GpuType("NVIDIA GeForce RTX 5090", "RTX 5090", 32, 0.89),
    GpuType("NVIDIA GeForce RTX 4090", "RTX 4090", 24, 0.59),
    GpuType("NVIDIA RTX A6000", "RTX A6000", 48, 0.49),
    GpuType("NVIDIA H100 80GB HBM3", "H100 SXM", 80, 2.69),
    GpuType("NVIDIA RTX A4000", "RTX A4000", 16, 0.25),
    GpuType("NVIDIA GeForce RTX 3070", "RTX 3070", 8, 0.13),
)


def gpu_type(gpu_id: str) -> GpuType | None:
    """The GPU type with this id, if RunPod (emulated) offers it."""
    return next((gpu for gpu in GPU_TYPES if gpu.id == gpu_id), None)


@dataclass(frozen=True)
class Template:
    """A pod template: the image a pod runs and the ports it exposes."""

    id: str
    image: str
    ports: str
    container_disk_gb: int


TEMPLATES: dict[str, Template] = {
    "daydream-scope": Template("daydream-scope", "daydreamlive/scope:0.2.4", "8000/http,22/tcp", 50),
}
