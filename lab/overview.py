"""What a server offers, gathered in one pass: version, GPU, pipelines and their models.

Everything here is read from the server (``/health``, ``/hardware/info``,
``/pipelines/schemas``, ``/models/status``); nothing about pipelines is assumed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pandas as pd

from lab.client import ScopeClient
from lab.models import Health, HardwareInfo, ModelsStatus, PipelineSchemas

__all__ = ["ServerOverview", "server_overview", "SIMULATED_LABEL"]

SIMULATED_LABEL = "SIMULATED"


@dataclass(frozen=True)
class ServerOverview:
    """A snapshot of one server's health, hardware, pipelines and model status."""

    url: str
    health: Health
    hardware: HardwareInfo
    schemas: PipelineSchemas
    models: dict[str, ModelsStatus]

    @property
    def simulated(self) -> bool:
        """True when the server is the scope-lab simulator: its numbers are not real."""
        return self.health.is_simulator

    @property
    def source_label(self) -> str:
        """How results from this server are labelled: SIMULATED or the Scope version."""
        return SIMULATED_LABEL if self.simulated else f"Scope {self.health.version}"

    def pipelines_table(self) -> pd.DataFrame:
        """One row per pipeline: modes, resolution, VACE, VRAM need and fit, models."""
        vram = self.hardware.vram_gb
        rows = []
        for schema in self.schemas.pipelines.values():
            resolution = schema.resolution()
            fits = schema.fits_vram(vram)
            models = self.models.get(schema.id)
            rows.append({
                "pipeline": schema.id,
                "modes": "/".join(schema.supported_modes),
                "default HxW": f"{resolution[0]}x{resolution[1]}" if resolution else "-",
                "VACE": "yes" if schema.supports_vace else "no",
                "est. VRAM GB": schema.estimated_vram_gb,
                "fits GPU": {True: "yes", False: "NO", None: "-"}[fits],
                "models": "-" if models is None else ("downloaded" if models.downloaded else "missing"),
                "source": self.source_label,
            })
        return pd.DataFrame(rows)


async def server_overview(client: ScopeClient) -> ServerOverview:
    """Read health, hardware, schemas and every pipeline's model status (concurrently)."""
    health, hardware, schemas = await asyncio.gather(
        client.health(), client.hardware_info(), client.pipeline_schemas(refresh=True)
    )
    statuses = await asyncio.gather(*(client.models_status(pid) for pid in schemas.ids))
    return ServerOverview(client.url, health, hardware, schemas, dict(zip(schemas.ids, statuses, strict=True)))
