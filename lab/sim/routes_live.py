"""Scope's live-performance routes (OSC, DMX, tempo sync), as a pod without them answers.

The simulator opens no OSC or Art-Net port and has no tempo source (see
:mod:`lab.sim.integrations`). The OSC and DMX event streams are open Server-Sent Events
streams that never carry a command (nothing can arrive), only Scope's keep-alive comment,
sent at once and then every 30 s, until the client leaves.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from lab.sim.deps import StateDep
from lab.sim.integrations import TEMPO_SOURCES, tempo_status

__all__ = ["router"]

router = APIRouter()

KEEPALIVE_S = 30.0
PortNumber = Annotated[int | None, Field(ge=1024, le=65535)]


class OscSettingsRequest(BaseModel):
    """Body of ``PUT /api/v1/osc/settings``."""

    log_all_messages: bool


class OscInventoryEntry(BaseModel):
    """One OSC address the frontend's graph exposes."""

    osc_address: str
    type: str
    description: str | None = None
    min: float | None = None
    max: float | None = None
    enum: list[Any] | None = None
    default: Any = None
    node_id: str | None = None
    param: str | None = None
    pipeline_id: str | None = None
    group: str | None = None


class OscInventoryRequest(BaseModel):
    """Body of ``POST /api/v1/osc/inventory``: replaces the inventory."""

    paths: list[OscInventoryEntry]


class DmxSettingsRequest(BaseModel):
    """Body of ``PUT /api/v1/dmx/settings``."""

    enabled: bool | None = None
    log_all_messages: bool | None = None
    preferred_port: PortNumber = None


class DmxRestartRequest(BaseModel):
    """Body of ``POST /api/v1/dmx/restart``."""

    preferred_port: PortNumber = None


class DmxConfigRequest(DmxSettingsRequest):
    """Body of ``PUT /api/v1/dmx/config``: settings and channel mappings."""

    mappings: list[dict[str, Any]] | None = None


class TempoEnableRequest(BaseModel):
    """Body of ``POST /api/v1/tempo/enable``."""

    source: Literal["link", "midi_clock"]
    midi_device: str | None = None
    bpm: float = Field(default=120.0, ge=20, le=300)
    beats_per_bar: int = Field(default=4, ge=1, le=16)


class TempoSetRequest(BaseModel):
    """Body of ``POST /api/v1/tempo/set_tempo``."""

    bpm: float = Field(ge=20, le=300)


def _bind(request: Request) -> tuple[str, int]:
    """The host and port this request came in on (where OSC would listen)."""
    host, port = request.scope.get("server") or ("127.0.0.1", 0)
    return str(host), int(port or 0)


async def _keepalive() -> AsyncIterator[str]:
    while True:
        yield ": keepalive\n\n"
        await asyncio.sleep(KEEPALIVE_S)


def _event_stream() -> StreamingResponse:
    return StreamingResponse(_keepalive(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@router.get("/api/v1/osc/status")
async def osc_status(request: Request, state: StateDep) -> dict[str, Any]:
    """OSC is not listening."""
    return state.osc.status(*_bind(request))


@router.put("/api/v1/osc/settings")
async def osc_settings(
    body: OscSettingsRequest, request: Request, state: StateDep
) -> dict[str, Any]:
    """Switch logging of every OSC message; answers the new status."""
    state.osc.log_all_messages = body.log_all_messages
    return state.osc.status(*_bind(request))


@router.get("/api/v1/osc/paths")
async def osc_paths(state: StateDep) -> dict[str, Any]:
    """The OSC address inventory last supplied."""
    return {"paths": list(state.osc.inventory)}


@router.post("/api/v1/osc/inventory")
async def osc_inventory(body: OscInventoryRequest, state: StateDep) -> dict[str, int]:
    """Replace the OSC address inventory."""
    state.osc.inventory = [entry.model_dump() for entry in body.paths]
    return {"count": len(state.osc.inventory)}


@router.get("/api/v1/osc/stream")
async def osc_stream() -> StreamingResponse:
    """OSC commands as SSE: none ever arrive."""
    return _event_stream()


@router.get("/api/v1/osc/docs", response_class=HTMLResponse)
async def osc_docs(state: StateDep) -> str:
    """A short HTML reference of the OSC addresses in the inventory."""
    rows = "".join(
        f"<tr><td><code>{html.escape(e['osc_address'])}</code></td>"
        f"<td>{html.escape(e['type'])}</td><td>{html.escape(e.get('description') or '')}</td></tr>"
        for e in state.osc.inventory
    )
    return (
        "<!DOCTYPE html><html><head><title>OSC reference (simulator)</title></head><body>"
        "<h1>OSC reference</h1><p>The simulator does not listen for OSC; these are the "
        "addresses the frontend supplied.</p><table><tr><th>Address</th><th>Type</th>"
        f"<th>Description</th></tr>{rows}</table></body></html>"
    )


@router.get("/api/v1/dmx/status")
async def dmx_status(request: Request, state: StateDep) -> dict[str, Any]:
    """DMX is not listening, whatever its config says."""
    return state.dmx.status(_bind(request)[0])


@router.put("/api/v1/dmx/settings")
async def dmx_settings(
    body: DmxSettingsRequest, request: Request, state: StateDep
) -> dict[str, Any]:
    """Change the DMX settings; answers the new status."""
    state.dmx.update(body.model_dump())
    return state.dmx.status(_bind(request)[0])


@router.post("/api/v1/dmx/restart")
async def dmx_restart(
    body: DmxRestartRequest, request: Request, state: StateDep
) -> dict[str, Any]:
    """Restart DMX, maybe on a new port: it still does not listen."""
    state.dmx.update(body.model_dump())
    return state.dmx.status(_bind(request)[0])


@router.get("/api/v1/dmx/paths")
async def dmx_paths() -> dict[str, Any]:
    """No numeric parameter is DMX-mappable without a DMX server."""
    return {"paths": []}


@router.get("/api/v1/dmx/config")
async def dmx_config(state: StateDep) -> dict[str, Any]:
    """The DMX config."""
    return state.dmx.config()


@router.put("/api/v1/dmx/config")
async def put_dmx_config(body: DmxConfigRequest, state: StateDep) -> dict[str, Any]:
    """Save (merge) a DMX config; answers the new config."""
    state.dmx.update(body.model_dump())
    return state.dmx.config()


@router.get("/api/v1/dmx/stream")
async def dmx_stream() -> StreamingResponse:
    """DMX commands as SSE: none ever arrive."""
    return _event_stream()


@router.get("/api/v1/tempo/status")
async def get_tempo_status() -> dict[str, Any]:
    """Tempo sync is off."""
    return tempo_status()


@router.post("/api/v1/tempo/enable")
async def enable_tempo(body: TempoEnableRequest) -> dict[str, Any]:
    """400: no tempo source can start here."""
    raise HTTPException(400, f"Tempo source {body.source} is not available on the simulator")


@router.post("/api/v1/tempo/disable")
async def disable_tempo() -> dict[str, Any]:
    """Already off: answers the status."""
    return tempo_status()


@router.post("/api/v1/tempo/set_tempo")
async def set_tempo(body: TempoSetRequest) -> dict[str, Any]:
    """400: tempo sync is not enabled."""
    raise HTTPException(400, "Tempo sync is not enabled")


@router.get("/api/v1/tempo/sources")
async def tempo_sources() -> dict[str, Any]:
    """Link and MIDI clock, both unavailable."""
    return TEMPO_SOURCES
