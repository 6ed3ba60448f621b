"""The simulator's own control API under ``/sim/`` (not part of Scope; never faulted).

Tests and notebooks use it to look inside the simulator and to change its world: inject
faults, swap the GPU, add or remove model files, set ICE servers, and reset to startup.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from lab.sim.deps import StateDep
from lab.sim.faults import Fault

__all__ = ["router"]

router = APIRouter(prefix="/sim", tags=["simulator"])


class HardwareUpdate(BaseModel):
    """Body of ``PUT /sim/hardware``; ``vram_gb`` null means no CUDA device."""

    vram_gb: float | None = Field(ge=0)


@router.get("/state")
async def get_state(state: StateDep) -> dict[str, Any]:
    """Config, active faults, GPU, pipeline status (without consuming an error), models."""
    return state.snapshot()


@router.post("/faults")
async def add_fault(fault: Fault, state: StateDep) -> list[dict[str, Any]]:
    """Activate one fault after those already active; returns the active faults."""
    state.faults.add(fault)
    return state.faults.active()


@router.delete("/faults")
async def clear_faults(state: StateDep) -> list[dict[str, Any]]:
    """Remove every active fault."""
    state.faults.clear()
    return state.faults.active()


@router.put("/hardware")
async def set_hardware(update: HardwareUpdate, state: StateDep) -> dict[str, Any]:
    """Change the emulated GPU's VRAM; it applies to the next load."""
    state.vram_gb = update.vram_gb
    return {"vram_gb": state.vram_gb}


@router.put("/models")
async def set_models(changes: dict[str, bool], state: StateDep) -> dict[str, Any]:
    """Mark pipelines' models downloaded (true) or missing (false); returns every status."""
    try:
        state.models.set_downloaded(changes)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return state.models.statuses()


@router.put("/ice-servers")
async def set_ice_servers(servers: list[dict[str, Any]], state: StateDep) -> dict[str, Any]:
    """Replace what ``/api/v1/webrtc/ice-servers`` returns."""
    state.ice_servers = servers
    return {"iceServers": state.ice_servers}


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, Any]:
    """Return to the startup config; returns the new state."""
    await state.reset()
    return state.snapshot()
