"""Scope's headless session, frame capture and recording routes, as the simulator answers them.

A headless session (``/session/start`` without WebRTC; :mod:`lab.sim.media.headless`) runs
on the loaded pipeline, simple mode only: a graph is refused with 400 if it has no pipeline
or custom node, as in Scope, and otherwise fails to start (graph loading is not emulated).
A start that fails answers Scope's 500 ("check logs") and the simulator's log
(``/api/v1/logs/tail``) says why: no pipeline loaded, another pipeline loaded, or an input
source that cannot be opened. ``parameters`` fill in keys the other fields leave unset;
``node_parameters`` are accepted and ignored (simple mode has no graph nodes). In video mode
the input comes from ``input_source`` (``video_file`` only: :mod:`lab.sim.input_sources`).

``output.ts`` streams the running session's MPEG-TS to each client from its next key frame
(:mod:`lab.sim.media.tsout`); ``stop`` and ``output.ts`` answer 404 without one.

``/session/frame`` captures the last frame of the first open session (WebRTC sessions
first, then the headless one), as a JPEG. Recordings are MP4 files of what a WebRTC session
sends (see :mod:`lab.sim.recordings`); unknown or closed sessions are 404.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Annotated, Any, NoReturn

from aiortc.mediastreams import MediaStreamTrack
from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ValidationError, model_validator
from starlette.background import BackgroundTask

from lab.sim.deps import StateDep
from lab.sim.input_sources import VIDEO_FILE, InputSourceError, open_video_file
from lab.sim.integrations import INPUT_SOURCES
from lab.sim.media import Parameters, PipelineNotLoadedError, UnknownSessionError
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
    """Start the headless session on the loaded pipeline; 500 as Scope when it cannot start."""
    if body.graph is not None:
        kinds = {node.get("type") for node in body.graph.get("nodes") or []}
        if not kinds & {"pipeline", "node"}:
            raise HTTPException(400, "Invalid graph: it has no pipeline or custom node")
        _refuse_start("headless sessions from a graph are not emulated by the simulator")
    status = state.loader.status(consume_error=False)
    if status["status"] != "loaded":
        _refuse_start(f"pipeline {body.pipeline_id} is not loaded")
    if body.pipeline_id not in state.loader.loaded_ids:
        _refuse_start(f"pipeline {body.pipeline_id} is not loaded (loaded: {state.loader.loaded_ids})")
    initial = _initial_parameters(body)
    track = None
    source = body.input_source or {}
    if body.input_mode == "video" and source.get("enabled"):
        track = _open_source(source, state)
    elif body.input_mode == "video":
        logger.warning("Headless session in video mode without an enabled input source: no input")
    try:
        await state.media.start_headless(initial, track)
    except PipelineNotLoadedError:
        _refuse_start(f"pipeline {body.pipeline_id} is not loaded")
    return {"status": "ok", "input_mode": body.input_mode, "cloud_mode": False,
            "pipeline_id": body.pipeline_id}


@router.post("/api/v1/session/stop")
async def stop_headless(state: StateDep) -> dict[str, Any]:
    """Stop the headless session; 404 without one."""
    try:
        await state.media.stop_headless()
    except UnknownSessionError:
        raise HTTPException(404, NO_HEADLESS_SESSION) from None
    return {"status": "ok", "message": "Headless session stopped"}


@router.get("/api/v1/session/output.ts")
async def headless_output(state: StateDep) -> StreamingResponse:
    """The headless session's output as live MPEG-TS; 404 without a session."""
    session = state.media.headless
    if session is None:
        raise HTTPException(404, NO_HEADLESS_SESSION)
    return StreamingResponse(session.output.stream(), media_type="video/mp2t",
                             headers={"Cache-Control": "no-cache"})


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
    path = state.recordings.take(session_id, node_id)  # a RouteError is answered by the app's handler
    stamp = time.strftime("%Y%m%d_%H%M%S")
    name = f"recording-{stamp}.mp4" if node_id is None else f"recording-{node_id}-{stamp}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


def _refuse_start(reason: str) -> NoReturn:
    logger.error("Headless session did not start: %s", reason)
    raise HTTPException(500, FRAME_PROCESSOR_FAILED)


def _initial_parameters(body: StartStreamRequest) -> Parameters:
    """The session's parameters: the body's fields, then ``parameters`` for keys still unset."""
    values: dict[str, Any] = {"pipeline_ids": [body.pipeline_id], "input_mode": body.input_mode}
    if body.prompts is not None:
        values["prompts"] = body.prompts
    if body.input_source is not None:
        values["input_source"] = body.input_source
    for key, value in (body.parameters or {}).items():
        values.setdefault(key, value)
    try:
        return Parameters.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _open_source(source: dict[str, Any], state: SimState) -> MediaStreamTrack:
    """The input source's track; an unavailable type or unreadable file fails the start."""
    kind = str(source.get("source_type"))
    if kind != VIDEO_FILE:
        available = {s["source_id"] for s in INPUT_SOURCES["input_sources"] if s["available"]}
        _refuse_start(f"input source {kind} is not available (available: {sorted(available)})")
    try:
        return open_video_file(str(source.get("source_name") or ""), state.assets,
                               flip_vertical=bool(source.get("flip_vertical")))
    except InputSourceError as exc:
        _refuse_start(f"input source {kind} {source.get('source_name')!r}: {exc.detail}")


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
