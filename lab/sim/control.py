"""The simulator's own control API under ``/sim/`` (not part of Scope; never faulted).

Tests and notebooks use it to look inside the simulator and to change its world: inject
faults, swap the GPU, add or remove model files, set ICE servers, read the ground truth of
WebRTC sessions, delay every output frame, set the reference share, identity drift and
flicker painted into generative frames, and reset to startup.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from lab.sim.deps import StateDep
from lab.sim.faults import Fault
from lab.sim.media import UnknownSessionError
from lab.sim.profiles import DriftPerSecond, FlickerLevels, RefShare

__all__ = ["router"]

router = APIRouter(prefix="/sim", tags=["simulator"])


class HardwareUpdate(BaseModel):
    """Body of ``PUT /sim/hardware``; ``vram_gb`` null means no CUDA device."""

    vram_gb: float | None = Field(ge=0)


class MediaUpdate(BaseModel):
    """Body of ``PUT /sim/media``: runtime media knobs (``/sim/reset`` sets them back).

    A knob left out keeps its value. ``unpaced`` applies to sessions opened afterwards.
    The quality knobs (``vace_ref_share``, ``identity_drift_per_s``, ``flicker_amplitude``;
    see :mod:`lab.sim.media.quality`) override the profile's values for every generative
    session from its next chunk on; an explicit ``null`` gives a knob back to the profile.
    """

    extra_delay_s: float | None = Field(default=None, ge=0, le=60)
    unpaced: bool | None = None
    vace_ref_share: RefShare | None = None
    identity_drift_per_s: DriftPerSecond | None = None
    flicker_amplitude: FlickerLevels | None = None


_QUALITY_KNOBS = frozenset({"vace_ref_share", "identity_drift_per_s", "flicker_amplitude"})


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


@router.get("/sessions")
async def list_sessions(state: StateDep) -> list[dict[str, Any]]:
    """Every WebRTC session since the last reset: id, pipelines, mode, state, frame counts."""
    return state.media.summaries()


@router.get("/sessions/{session_id}/truth")
async def session_truth(session_id: str, state: StateDep) -> dict[str, Any]:
    """A session's ground truth: frames, chunks and messages, each as columns of lists."""
    try:
        session = state.media.get(session_id)
    except UnknownSessionError:
        raise HTTPException(404, f"No session {session_id}") from None
    return {**session.summary(), **session.truth.to_json()}


@router.put("/media")
async def set_media(update: MediaUpdate, state: StateDep) -> dict[str, Any]:
    """Delay every output frame by ``extra_delay_s`` from now on; ``unpaced`` (new sessions)
    sends each frame as soon as it is ready, so chunks go out back to back (bursts); the
    quality knobs set what generative frames get painted (see :class:`MediaUpdate`)."""
    if update.extra_delay_s is not None:
        state.media.extra_delay_s = update.extra_delay_s
    if update.unpaced is not None:
        state.media.unpaced = update.unpaced
    for name in _QUALITY_KNOBS & update.model_fields_set:
        setattr(state.media.quality, name, getattr(update, name))
    return state.media.snapshot()


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, Any]:
    """Return to the startup config (closing every session); returns the new state."""
    await state.reset()
    return state.snapshot()
