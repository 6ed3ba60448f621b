"""Scope's headless session, frame capture and recording routes, as the simulator answers them.

Headless sessions (``/session/start`` without WebRTC) are not emulated yet: there is never a
headless session, so ``start`` fails the way Scope's does when its frame processor cannot
start (500, "check logs"), and the simulator's log (``/api/v1/logs/tail``) says why. ``stop``
and ``output.ts`` then answer 404, as Scope does with no headless session. A graph without
a pipeline or custom node is refused with 400 first, as in Scope.

``/session/frame`` captures the last frame the first open WebRTC session sent, as a JPEG.
Recordings are MP4 files of what a WebRTC session sends (see :mod:`lab.sim.recordings`);
``headless`` and unknown or closed sessions are 404.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, model_validator
from starlette.background import BackgroundTask

from lab.sim.deps import StateDep
from lab.sim.errors import RouteError
from lab.sim.media import UnknownSessionError
from lab.sim.media.session import MediaSession
from lab.sim.recordings import check_record_node
from lab.sim.state import SimState

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

NO_HEADLESS_SESSION = "No active headless session"
FRAME_PROCESSOR_FAILED = "FrameProcessor failed to start (check logs for details)"
NodeQuery = Annotated[str | None, Query()]


class StartStreamRequest(BaseModel):
    """Body of ``POST /api/v1/session/start``: a loaded pipeline, or a graph to load."""

    pipeline_id: str | None = None
    input_mode: str = "text"
    prompts: list[dict[str, Any]] | None = None
    input_source: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    node_parameters: dict[str, dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _pipeline_or_graph(self) -> StartStreamRequest:
        if self.pipeline_id is None and self.graph is None:
            raise ValueError("Either pipeline_id or graph must be provided")
        return self


@router.post("/api/v1/session/start")
async def start_headless(body: StartStreamRequest, state: StateDep) -> dict[str, Any]:
    """Refuse as Scope does when no frame processor starts; the log gives the reason."""
    if body.graph is not None:
        kinds = {node.get("type") for node in body.graph.get("nodes") or []}
        if not kinds & {"pipeline", "node"}:
            raise HTTPException(400, "Invalid graph: it has no pipeline or custom node")
        reason = "headless sessions are not emulated by the simulator yet"
    elif state.loader.status(consume_error=False)["status"] != "loaded":
        reason = f"pipeline {body.pipeline_id} is not loaded"
    else:
        reason = "headless sessions are not emulated by the simulator yet"
    logger.error("Headless session did not start: %s", reason)
    raise HTTPException(500, FRAME_PROCESSOR_FAILED)


@router.post("/api/v1/session/stop")
async def stop_headless() -> dict[str, Any]:
    """404: there is never a headless session to stop."""
    raise HTTPException(404, NO_HEADLESS_SESSION)


@router.get("/api/v1/session/output.ts")
async def headless_output() -> Response:
    """404: there is never a headless session to stream."""
    raise HTTPException(404, NO_HEADLESS_SESSION)


@router.get("/api/v1/session/frame")
async def capture_frame(
    state: StateDep,
    quality: Annotated[int, Query(ge=1, le=100)] = 85,
    sink_node_id: NodeQuery = None,
) -> Response:
    """The first open session's last sent frame as a JPEG; 404 when none was sent."""
    sessions = state.media.active()
    frame = sessions[0].track.last_frame if sessions and sink_node_id is None else None
    if frame is None:
        raise HTTPException(404, "No frame available (no session has sent a frame yet)")
    buffer = io.BytesIO()
    frame.to_image().save(buffer, format="JPEG", quality=quality)
    return Response(buffer.getvalue(), media_type="image/jpeg")


@router.post("/api/v1/recordings/{session_id}/start")
async def start_recording(
    session_id: str, state: StateDep, node_id: NodeQuery = None
) -> dict[str, str]:
    """Switch recording on for an open session (or one of its record nodes)."""
    return state.recordings.start(await _recordable(state, session_id, node_id), node_id)


@router.post("/api/v1/recordings/{session_id}/stop")
async def stop_recording(
    session_id: str, state: StateDep, node_id: NodeQuery = None
) -> dict[str, str]:
    """Switch recording off."""
    await _recordable(state, session_id, node_id)
    return await state.recordings.stop(session_id, node_id)


@router.get("/api/v1/recordings/{session_id}")
async def download_recording(
    session_id: str, state: StateDep, node_id: NodeQuery = None
) -> Response:
    """The stopped recording as an MP4 download, deleted once sent (404 while recording)."""
    await _recordable(state, session_id, node_id)
    try:
        path = state.recordings.take(session_id, node_id)
    except RouteError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    stamp = time.strftime("%Y%m%d_%H%M%S")
    name = f"recording-{stamp}.mp4" if node_id is None else f"recording-{node_id}-{stamp}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


async def _recordable(state: SimState, session_id: str, node_id: str | None) -> MediaSession:
    """The open session ``session_id``, checked against ``node_id``; 404 or 400 otherwise."""
    try:
        session = state.media.get(session_id)
    except UnknownSessionError:
        session = None
    if session is None or not session.active:
        await state.recordings.forget(session_id)
        raise HTTPException(404, f"Session {session_id} not found")
    check_record_node(session.params.current, node_id)
    return session
