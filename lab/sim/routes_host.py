"""Scope's routes about the server host: restart, logs, keys, onboarding, cloud, input sources.

``POST /api/v1/restart`` acts out a restart (see :meth:`lab.sim.state.SimState.restart`)
before it answers, not half a second after, so that the next request already sees the new
``server_start_time``; the process itself keeps running. The logs are the simulator's own
(:mod:`lab.sim.simlog`). Cloud, NDI, Spout and Syphon are integrations the emulated pod lacks
(:mod:`lab.sim.integrations`); video files are its one input source
(:mod:`lab.sim.input_sources`), with an MJPEG preview (:mod:`lab.sim.input_preview`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from lab.sim.deps import StateDep
from lab.sim.host import api_keys
from lab.sim.input_preview import BOUNDARY
from lab.sim.input_sources import (
    VIDEO_FILE,
    playable_video_file,
    video_file_sources,
    video_resolution,
)
from lab.sim.integrations import INPUT_SOURCES, refuse_input_source

__all__ = ["router"]

router = APIRouter()

TimeoutMs = Annotated[int, Query(ge=1)]


class ApiKeySetRequest(BaseModel):
    """Body of ``PUT /api/v1/keys/{service_id}``."""

    value: str = Field(min_length=1)


class OnboardingUpdate(BaseModel):
    """Body of ``PUT /api/v1/onboarding/status``: non-null fields are merged."""

    completed: bool | None = None
    inference_mode: str | None = None
    onboarding_style: str | None = None
    referral_source: str | None = None
    use_case: str | None = None


class CloudConnectRequest(BaseModel):
    """Body of ``POST /api/v1/cloud/connect``."""

    app_id: str | None = None
    api_key: str | None = None
    user_id: str | None = None


@router.post("/api/v1/restart")
async def restart(state: StateDep) -> dict[str, str]:
    """Act out a restart: sessions closed, pipelines unloaded, a new start time."""
    await state.restart()
    return {"message": "Server restarting..."}


@router.get("/api/v1/logs/current", response_class=PlainTextResponse)
async def current_log(state: StateDep) -> PlainTextResponse:
    """The simulator's log as a text attachment."""
    name = time.strftime("scope-sim-%Y%m%d_%H%M%S.log", time.localtime(state.server_start_time))
    return PlainTextResponse(
        state.log.text(), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/api/v1/logs/tail")
async def tail_log(
    state: StateDep,
    lines: Annotated[int, Query(ge=1, le=1000)] = 200,
    since_offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The last lines after a byte offset, and the offset to resume from."""
    return state.log.tail(lines, since_offset)


@router.get("/api/v1/keys")
async def list_keys(state: StateDep) -> dict[str, Any]:
    """Which API keys (HuggingFace, CivitAI) are set, and where from."""
    return api_keys(state.keys.env_set, state.keys.stored)


@router.put("/api/v1/keys/{service_id}")
async def set_key(service_id: str, body: ApiKeySetRequest, state: StateDep) -> dict[str, Any]:
    """Store a key; 409 when its environment variable is set, 404 for an unknown service."""
    return state.keys.set(service_id, body.value)


@router.delete("/api/v1/keys/{service_id}")
async def delete_key(service_id: str, state: StateDep) -> dict[str, Any]:
    """Remove a stored key; 404 when none is stored."""
    return state.keys.delete(service_id)


@router.get("/api/v1/onboarding/status")
async def onboarding_status(state: StateDep) -> dict[str, Any]:
    """The onboarding answers."""
    return state.onboarding.status()


@router.put("/api/v1/onboarding/status")
async def update_onboarding(body: OnboardingUpdate, state: StateDep) -> dict[str, Any]:
    """Merge non-null answers."""
    return state.onboarding.update(body.model_dump())


@router.post("/api/v1/cloud/connect")
async def cloud_connect(body: CloudConnectRequest, state: StateDep) -> dict[str, Any]:
    """Start a cloud connection that cannot succeed here (see :class:`CloudLink`)."""
    return state.cloud.connect(body.app_id, body.api_key)


@router.post("/api/v1/cloud/disconnect")
async def cloud_disconnect(state: StateDep) -> dict[str, Any]:
    """Not connected; clears a failed attempt."""
    return state.cloud.disconnect()


@router.get("/api/v1/cloud/status")
async def cloud_status(state: StateDep) -> dict[str, Any]:
    """Never connected."""
    return state.cloud.status()


@router.get("/api/v1/input-sources")
async def input_sources() -> dict[str, Any]:
    """Server-side input source types; only ``video_file`` is available."""
    return INPUT_SOURCES


@router.get("/api/v1/input-sources/{source_type}/sources")
async def list_sources(
    source_type: str, state: StateDep, timeout_ms: TimeoutMs = 5000
) -> dict[str, Any]:
    """The video assets for ``video_file``; 404 for an unknown type, 400 for an unavailable one."""
    if source_type != VIDEO_FILE:
        refuse_input_source(source_type)
    return {"source_type": source_type, "sources": video_file_sources(state.assets)}


@router.get("/api/v1/input-sources/{source_type}/sources/{identifier:path}/resolution")
async def source_resolution(
    source_type: str, identifier: str, state: StateDep, timeout_ms: TimeoutMs = 5000
) -> dict[str, Any]:
    """A video file's size; refused like the source list for other types."""
    if source_type != VIDEO_FILE:
        refuse_input_source(source_type)
    return video_resolution(identifier, state.assets)


@router.get("/api/v1/input-sources/{source_type}/sources/{identifier:path}/stream")
async def source_preview(
    source_type: str,
    identifier: str,
    state: StateDep,
    fps: Annotated[int, Query(ge=1, le=30)] = 2,
    flip_vertical: bool = False,
) -> StreamingResponse:
    """A video file's MJPEG preview (:mod:`lab.sim.input_preview`); refused like the source
    list for other types, 404 or 400 like ``/resolution`` for a file that cannot be played."""
    if source_type != VIDEO_FILE:
        refuse_input_source(source_type)
    path = playable_video_file(identifier, state.assets)
    return StreamingResponse(state.previews.stream(path, fps, flip_vertical=flip_vertical),
                             media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-cache"})
