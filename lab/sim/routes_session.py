"""Scope's headless session, frame capture and recording routes, as the simulator answers them.

A headless session (``/session/start`` without WebRTC; :mod:`lab.sim.media.headless`) runs
in one of two modes:

- **simple** (``pipeline_id``): on the pipeline already loaded with ``/pipeline/load``;
  ``node_parameters`` are ignored (there are no graph nodes).
- **graph** (``graph``, which wins over ``pipeline_id``): the graph is checked as Scope does
  (400 ``"Invalid graph: ..."``), then the server loads the graph's pipeline itself, without
  load params, under the pipeline node's id, waits for the load, and runs the session on it.
  Only a graph of one pipeline node between an optional source and its sinks and record
  nodes is emulated (:mod:`lab.sim.graph` lists the rules); any other valid graph fails to
  start. The session's parameters are the body's fields, then ``parameters`` for keys still
  unset, then the pipeline node's ``params`` and ``node_parameters[<pipeline node id>]``,
  which override both (the simulator's reading; ``node_parameters`` for other nodes are
  logged and ignored). The answer adds ``graph: true``, ``pipeline_ids``, ``sink_node_ids``
  (``sink`` nodes only) and ``source_node_ids``.

A start that fails answers Scope's 500 ("check logs") and the simulator's log
(``/api/v1/logs/tail``) says why: no pipeline loaded, another pipeline loaded, a graph's
pipeline that did not load, a graph shape not emulated, or an input source that cannot be
opened. In video mode the input comes from ``input_source`` (``video_file`` only:
:mod:`lab.sim.input_sources`), or in graph mode without one from the source node's
``source_mode`` and ``source_name`` when they name a server-side source.

``output.ts`` streams the running session's MPEG-TS to each client from its next key frame
(:mod:`lab.sim.media.tsout`); ``stop`` and ``output.ts`` answer 404 without one.

``/session/frame`` captures the last frame of the first open session (WebRTC sessions
first, then the headless one), as a JPEG; with ``sink_node_id``, the headless session's if
its graph has that sink node (Scope's answer is uncertain there; the simulator's choice).

Recordings are MP4 files of what a session sends (see :mod:`lab.sim.recordings`), WebRTC or
headless; the headless session's id is ``headless``, as in its metrics and truth (the fact
sheet marks this uncertain for Scope). A new start or ``stop`` deletes the headless
session's recordings, as closing a WebRTC session deletes its own. Unknown or closed
sessions are 404.
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
from lab.sim.graph import (
    UnemulatedGraphError,
    parse_graph,
    single_pipeline,
    sink_node_ids,
)
from lab.sim.input_sources import VIDEO_FILE, InputSourceError, open_video_file
from lab.sim.integrations import INPUT_SOURCES
from lab.sim.loader import LoadEntry
from lab.sim.media import Parameters, PipelineNotLoadedError, UnknownSessionError
from lab.sim.media.headless import HEADLESS_ID
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
    """Start the headless session on the loaded pipeline, or on a graph's pipeline after
    loading it; 400 for an invalid graph, 500 as Scope when the session cannot start."""
    if body.graph is not None:
        return await _start_from_graph(body, body.graph, state)
    status = state.loader.status(consume_error=False)
    if status["status"] != "loaded":
        _refuse_start(f"pipeline {body.pipeline_id} is not loaded")
    if body.pipeline_id not in state.loader.loaded_ids:
        _refuse_start(f"pipeline {body.pipeline_id} is not loaded (loaded: {state.loader.loaded_ids})")
    initial = _initial_parameters(body, str(body.pipeline_id), body.input_source)
    await _start(body, state, initial, body.input_source)
    return {"status": "ok", "input_mode": body.input_mode, "cloud_mode": False,
            "pipeline_id": body.pipeline_id}


async def _start_from_graph(body: StartStreamRequest, raw: dict[str, Any], state: SimState) -> dict[str, Any]:
    """Graph mode: check the graph, load its pipeline (no load params) and wait, then start."""
    graph = parse_graph(raw)  # an InvalidGraphError is answered by the app's handler (400)
    try:
        shape = single_pipeline(graph)
    except UnemulatedGraphError as exc:
        _refuse_start(str(exc))
    pipeline_id = str(shape.pipeline.pipeline_id)
    state.loader.start([LoadEntry(shape.pipeline.id, pipeline_id)])
    if await state.loader.settled() != "loaded":
        _refuse_start(f"the graph's pipeline {pipeline_id} did not load")
    source = body.input_source or shape.input_source()
    node_values = {**(shape.pipeline.params or {}), **(body.node_parameters or {}).get(shape.pipeline.id, {})}
    for node_id in set(body.node_parameters or {}) - {shape.pipeline.id}:
        logger.warning("node_parameters for node %s ignored: it is not the graph's pipeline node", node_id)
    await _start(body, state, _initial_parameters(body, pipeline_id, source, node_values), source)
    return {"status": "ok", "input_mode": body.input_mode, "cloud_mode": False, "graph": True,
            "pipeline_ids": [pipeline_id], "sink_node_ids": shape.sink_ids,
            "source_node_ids": [shape.source.id] if shape.source else []}


async def _start(body: StartStreamRequest, state: SimState, initial: Parameters,
                 source: dict[str, Any] | None) -> None:
    """Open the input source (video mode), start the session and drop the last one's recordings."""
    track = None
    if body.input_mode == "video" and source and source.get("enabled"):
        track = _open_source(source, state)
    elif body.input_mode == "video":
        logger.warning("Headless session in video mode without an enabled input source: no input")
    try:
        await state.media.start_headless(initial, track)
    except PipelineNotLoadedError:
        _refuse_start(f"pipeline {initial.pipeline_ids} is not loaded")
    await state.recordings.forget(HEADLESS_ID)  # those of the session this one replaced


@router.post("/api/v1/session/stop")
async def stop_headless(state: StateDep) -> dict[str, Any]:
    """Stop the headless session; 404 without one."""
    try:
        await state.media.stop_headless()
    except UnknownSessionError:
        raise HTTPException(404, NO_HEADLESS_SESSION) from None
    await state.recordings.forget(HEADLESS_ID)
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
    """The first open session's last sent frame as a JPEG (with ``sink_node_id``: the headless
    session's, if its graph has that sink); 404 when none was sent."""
    sessions, headless = state.media.active(), state.media.headless
    if sink_node_id is None:
        frame = sessions[0].track.last_frame if sessions else None
    else:
        named = headless is not None and sink_node_id in sink_node_ids(headless.params.current)
        frame = headless.track.last_frame if named and headless is not None else None
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


def _initial_parameters(body: StartStreamRequest, pipeline_id: str, source: dict[str, Any] | None,
                        node_values: dict[str, Any] | None = None) -> Parameters:
    """The session's parameters: the body's fields, then ``parameters`` for keys still unset,
    then (graph mode) the pipeline node's ``params`` and ``node_parameters``, which override."""
    values: dict[str, Any] = {"pipeline_ids": [pipeline_id], "input_mode": body.input_mode}
    for key, value in (("prompts", body.prompts), ("input_source", source), ("graph", body.graph)):
        if value is not None:
            values[key] = value
    for key, value in (body.parameters or {}).items():
        values.setdefault(key, value)
    values.update(node_values or {})
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
