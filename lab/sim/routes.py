"""Scope's core HTTP routes, as the simulator answers them (paths, fields and codes of 0.2.4).

With the routes of :mod:`lab.sim.routes_session` (headless session, frame, recordings),
:mod:`lab.sim.routes_library` (LoRA, plugins, nodes, workflows), :mod:`lab.sim.routes_host`
(restart, logs, keys, onboarding, cloud, input sources) and :mod:`lab.sim.routes_live` (OSC,
DMX, tempo), the simulator serves every operation of Scope 0.2.4's OpenAPI document
(``lab/data/api/scope-0.2.4-openapi.json``; ``tests/test_sim_openapi_walk.py`` checks it).
Other GET paths fall through to the ``Frontend not built`` catch-all, as on a Scope server
without its web UI.

Where Scope's behaviour is not known, the simulator chooses: an unknown pipeline id in
``/models/status`` or ``/models/download`` gets 404 ``{"detail": "Pipeline <id> not found"}``,
and 409 means a download of the *same* pipeline is running (others may run in parallel).

The WebRTC and session routes hand over to :mod:`lab.sim.media`. A session's ICE is kept
on 127.0.0.1 when its offer arrives on (or from) a loopback address: always when the
simulator binds loopback, its default.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from lab.sim.assets import AssetKind, InvalidAssetNameError
from lab.sim.deps import StateDep
from lab.sim.downloads import DownloadInProgressError
from lab.sim.host import hardware_info
from lab.sim.loader import LoadEntry
from lab.sim.media import (
    InvalidCandidateError,
    Parameters,
    PipelineNotLoadedError,
    UnknownSessionError,
)
from lab.sim.media.signalling import is_loopback_address

__all__ = ["frontend_not_built", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()

GIT_COMMIT = "simulator"


class PipelineLoadItem(BaseModel):
    """One pipeline of a per-node load request."""

    node_id: str
    pipeline_id: str
    load_params: dict[str, Any] | None = None


class PipelineLoadRequest(BaseModel):
    """Body of ``POST /api/v1/pipeline/load``: per-node ``pipelines`` or legacy ``pipeline_ids``."""

    pipelines: list[PipelineLoadItem] | None = None
    pipeline_ids: list[str] | None = None
    load_params: dict[str, Any] | None = None
    connection_id: str | None = None
    connection_info: dict[str, Any] | None = None
    user_id: str | None = None


class DownloadModelsRequest(BaseModel):
    """Body of ``POST /api/v1/models/download``."""

    pipeline_id: str


class OfferRequest(BaseModel):
    """Body of ``POST /api/v1/webrtc/offer``."""

    sdp: str
    type: str
    initial_parameters: Parameters | None = Field(default=None, alias="initialParameters")
    user_id: str | None = None
    connection_id: str | None = None
    connection_info: dict[str, Any] | None = None


class CandidatesRequest(BaseModel):
    """Body of ``PATCH /api/v1/webrtc/offer/{session_id}``: trickled ICE candidates."""

    candidates: list[dict[str, Any]] = Field(default_factory=list)


@router.get("/health")
async def health(state: StateDep) -> dict[str, Any]:
    """Liveness and version; ``simulator: true`` and ``git_commit`` say this is not real Scope."""
    return {
        "status": "healthy",
        "timestamp": datetime.now().isoformat(),
        "server_start_time": state.server_start_time,
        "version": state.config.version,
        "git_commit": GIT_COMMIT,
        "simulator": True,
    }


@router.get("/")
async def root() -> dict[str, str]:
    """What Scope answers at ``/`` when its frontend is not built."""
    return {"message": "Scope API - Frontend not built"}


@router.post("/api/v1/pipeline/load")
async def load_pipeline(body: PipelineLoadRequest, state: StateDep) -> dict[str, str]:
    """Start loading pipelines in the background; poll ``/pipeline/status`` for the outcome."""
    if body.pipelines:
        entries = [LoadEntry(i.node_id, i.pipeline_id, i.load_params) for i in body.pipelines]
    elif body.pipeline_ids:
        entries = [LoadEntry(pid, pid, body.load_params) for pid in body.pipeline_ids]
    else:
        raise HTTPException(400, "Either 'pipelines' or 'pipeline_ids' must be provided")
    state.loader.start(entries)
    return {"message": "Pipeline loading initiated successfully"}


@router.get("/api/v1/pipeline/status")
async def pipeline_status(state: StateDep) -> dict[str, Any]:
    """Load status; an ``error`` is reported once, then the status is ``not_loaded``."""
    return state.loader.status()


@router.get("/api/v1/pipelines/schemas")
async def pipeline_schemas(state: StateDep) -> dict[str, Any]:
    """Metadata and config JSON Schema of every registered pipeline, in registry order."""
    return state.schemas


@router.get("/api/v1/hardware/info")
async def get_hardware_info(state: StateDep) -> dict[str, Any]:
    """VRAM of the emulated GPU and the (unavailable) Spout/NDI/Syphon integrations."""
    return hardware_info(state.vram_gb)


@router.get("/api/v1/models/status")
async def model_status(pipeline_id: str, state: StateDep) -> dict[str, Any]:
    """Whether the pipeline's models are downloaded, with progress while downloading."""
    try:
        return state.models.status(pipeline_id)
    except KeyError:
        raise HTTPException(404, f"Pipeline {pipeline_id} not found") from None


@router.post("/api/v1/models/download")
async def download_models(body: DownloadModelsRequest, state: StateDep) -> dict[str, str]:
    """Start an emulated model download; 409 while one for the same pipeline is running."""
    if not body.pipeline_id:
        raise HTTPException(400, "pipeline_id is required")
    try:
        state.models.start_download(body.pipeline_id)
    except KeyError:
        raise HTTPException(404, f"Pipeline {body.pipeline_id} not found") from None
    except DownloadInProgressError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"message": f"Model download started for {body.pipeline_id}"}


@router.get("/api/v1/assets")
async def list_assets(state: StateDep, type: AssetKind | None = None) -> dict[str, Any]:
    """Asset files (all kinds, or one), newest first."""
    return {"assets": state.assets.list(type)}


@router.post("/api/v1/assets")
async def upload_asset(
    request: Request, filename: Annotated[str, Query()], state: StateDep
) -> dict[str, Any]:
    """Save the raw request body as an asset; the answer carries its absolute path."""
    try:
        return state.assets.save(filename, await request.body())
    except InvalidAssetNameError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/api/v1/assets/{asset_path:path}")
async def serve_asset(asset_path: str, state: StateDep) -> FileResponse:
    """Send an asset file; 403 for paths outside the asset directory, 404 if missing."""
    try:
        path = state.assets.find(asset_path)
    except PermissionError:
        raise HTTPException(403, "Access denied") from None
    except FileNotFoundError:
        raise HTTPException(404, "Asset not found") from None
    return FileResponse(path, media_type=state.assets.media_type(path))


@router.get("/api/v1/webrtc/ice-servers")
async def ice_servers(state: StateDep) -> dict[str, Any]:
    """The ICE servers clients should use for WebRTC."""
    return {"iceServers": state.ice_servers}


@router.post("/api/v1/webrtc/offer")
async def webrtc_offer(body: OfferRequest, request: Request, state: StateDep) -> dict[str, Any]:
    """Answer an SDP offer and create a session; 400 while no pipeline is loaded."""
    try:
        session, answer = await state.media.open(
            body.sdp,
            body.initial_parameters or Parameters(),
            loopback=_arrived_on_loopback(request),
        )
    except PipelineNotLoadedError as exc:
        raise HTTPException(400, str(exc)) from None
    except Exception as exc:  # e.g. an SDP aiortc cannot use: a 500 with its text, like Scope
        logger.warning("Could not answer an offer: %s", exc, exc_info=True)
        raise HTTPException(500, str(exc)) from None
    return {"sdp": answer, "type": "answer", "sessionId": session.id}


@router.patch("/api/v1/webrtc/offer/{session_id}", status_code=204)
async def webrtc_candidates(session_id: str, body: CandidatesRequest, state: StateDep) -> Response:
    """Add trickled ICE candidates; 404 for an unknown or ended session or a bad candidate."""
    try:
        await state.media.add_candidates(session_id, body.candidates)
    except UnknownSessionError:
        raise HTTPException(404, f"Session {session_id} not found") from None
    except InvalidCandidateError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


@router.delete("/api/v1/webrtc/offer/{session_id}", status_code=204)
async def webrtc_close(session_id: str, state: StateDep) -> Response:
    """Close a session and drop its recordings; 204 even for an unknown id, as in Scope."""
    await state.media.close(session_id)
    await state.recordings.forget(session_id)
    return Response(status_code=204)


@router.post("/api/v1/session/parameters")
async def update_session_parameters(body: Parameters, state: StateDep) -> dict[str, Any]:
    """Apply an update to every session and push ``parameters_updated`` to each client.

    As in Scope, the defaults of ``vace_context_scale`` and ``prompt_interpolation_method``
    are part of every applied update.
    """
    applied = body.applied()
    state.media.broadcast(applied, time.perf_counter_ns())
    return {"status": "ok", "applied_parameters": applied}


@router.get("/api/v1/session/parameters")
async def session_parameters(state: StateDep) -> dict[str, Any]:
    """The current parameters of the first open session, or ``{}``."""
    sessions = state.media.active()
    return {"parameters": sessions[0].params.current if sessions else {}}


@router.get("/api/v1/session/metrics")
async def session_metrics(state: StateDep) -> dict[str, Any]:
    """Frame statistics of the first open session; the GPU block is empty as in Scope."""
    return state.media.metrics()


def _arrived_on_loopback(request: Request) -> bool:
    """Whether the request came in on a loopback address, or from one (in-process clients)."""
    server = request.scope.get("server") or ("", 0)
    client = request.client.host if request.client else ""
    return is_loopback_address(server[0]) or is_loopback_address(client)


async def frontend_not_built(path: str) -> None:
    """Catch-all for unknown GET paths; register it last."""
    raise HTTPException(404, "Frontend not built")
