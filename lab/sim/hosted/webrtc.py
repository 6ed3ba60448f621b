"""WHIP and WHEP endpoints of the hosted API emulation, and its ``/sim/hosted`` control routes.

WHIP (``POST {whip_url}``, ``Content-Type: application/sdp``, no key: the stream key in the
URL is the credential) answers ``201`` with the SDP answer, ``Location`` (the ingest
resource; ``DELETE`` ends the ingest) and ``Livepeer-Playback-Url``, the stream's WHEP URL.
The offer is answered by the simulator's Scope signalling
(:func:`lab.sim.media.signalling.answer_offer`): the client's video becomes the session's
input. A WHIP client offers ``sendonly``, so the output is not sent back on this connection.

WHEP (``POST`` the playback URL) answers 404 until the stream's output is ready, then
``201`` with an answer that sends the session's output track, and a ``Location``. One viewer
per stream: a second one gets 409. ICE answers on loopback only when the request came
from loopback (:func:`lab.loopback.restrict_to_loopback`).

Control (not the API's; hidden from ``/openapi.json`` like the API routes):
``GET /sim/hosted`` (config, faults, streams), ``POST /sim/hosted/faults`` (a
:class:`~lab.sim.hosted.config.HostedFault`), ``GET /sim/hosted/streams/{id}/truth``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response

from lab.loopback import restrict_to_loopback
from lab.sim.hosted.config import HostedFault
from lab.sim.hosted.routes import book_of, install_error_handler
from lab.sim.hosted.routes import router as rest_router
from lab.sim.hosted.streams import HostedStream
from lab.sim.media.signalling import answer_offer, is_loopback_address

__all__ = ["mount_hosted"]

logger = logging.getLogger(__name__)

media_router = APIRouter(include_in_schema=False)
control_router = APIRouter(prefix="/sim/hosted", include_in_schema=False)
_LIVE = "/live/video-to-video"
_OUT = "-out"
_SDP = "application/sdp"


def mount_hosted(app: FastAPI) -> None:
    """Add the hosted API's routes to the simulator app (before its catch-all route)."""
    install_error_handler(app)
    for router in (rest_router, media_router, control_router):
        app.include_router(router)


async def _offer(request: Request) -> str:
    if request.headers.get("content-type", "").split(";")[0].strip() != _SDP:
        raise HTTPException(415, f"The offer must be sent as {_SDP}")
    return (await request.body()).decode("utf-8", "replace")


def _loopback(request: Request) -> bool:
    return request.client is not None and is_loopback_address(request.client.host)


def _answered(answer: str, location: str, headers: dict[str, str] | None = None) -> Response:
    etag = f'"{secrets.token_hex(8)}"'
    return Response(answer, status_code=201, media_type=_SDP,
                    headers={"Location": location, "ETag": etag, **(headers or {}),
                             "Access-Control-Expose-Headers": "Location, ETag, Livepeer-Playback-Url"})


@media_router.post(_LIVE + "/{stream_key}/whip")
async def whip(stream_key: str, request: Request) -> Response:
    """Ingest: the client's video becomes the stream's input; the start-up clock starts."""
    book = book_of(request)
    stream = book.by_key(stream_key)
    if stream is None:
        raise HTTPException(404, "Stream not found")
    if stream.session is not None:
        raise HTTPException(409, "This stream already has an ingest connection")
    offer = await _offer(request)
    session = stream.new_session(loopback=_loopback(request), seed=book.next_seed(),
                                 playback_delay_s=book.config.playback_delay_s)
    try:
        answer = await answer_offer(session, offer, loopback=session.loopback)
    except Exception as exc:  # aiortc's refusal of an offer it cannot use
        await session.close("failed")
        stream.session, stream.ingest_ns = None, None
        raise HTTPException(400, f"Cannot use this SDP offer: {exc}") from exc
    base = str(request.base_url).rstrip("/")
    logger.info("Hosted stream %s: ingest connected", stream.id)
    return _answered(answer, f"{base}{_LIVE}/{stream_key}/whip/{session.id}",
                     {"Livepeer-Playback-Url": f"{base}{_LIVE}/{stream_key}{_OUT}/whep"})


@media_router.post(_LIVE + "/{name}/whep")
async def whep(name: str, request: Request) -> Response:
    """Playback: 404 until the output is ready, then the session's output track."""
    stream = book_of(request).by_key(name.removesuffix(_OUT)) if name.endswith(_OUT) else None
    if stream is None or stream.session is None or not stream.whep_open:
        raise HTTPException(404, "No output is being published on this path yet")
    if stream.whep_pc is not None:
        raise HTTPException(409, "This stream's output already has a viewer")
    offer = await _offer(request)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if not any(t.kind == "video" for t in pc.getTransceivers()):
            raise ValueError("the offer has no video m-line")
        pc.addTrack(stream.session.track)
        if _loopback(request):
            restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:
        await pc.close()
        raise HTTPException(400, f"Cannot use this SDP offer: {exc}") from exc
    stream.whep_pc = pc
    base = str(request.base_url).rstrip("/")
    return _answered(pc.localDescription.sdp, f"{base}{_LIVE}/{name}/whep/{secrets.token_hex(6)}")


@media_router.delete(_LIVE + "/{stream_key}/whip/{resource}")
async def end_ingest(stream_key: str, request: Request) -> Response:
    """End the ingest: the stream's media session closes (its truth stays)."""
    stream = book_of(request).by_key(stream_key)
    if stream is not None and stream.session is not None:
        await stream.session.close()
    return Response(status_code=200)


@media_router.delete(_LIVE + "/{name}/whep/{resource}")
async def end_playback(name: str, request: Request) -> Response:
    """End the playback connection."""
    stream = book_of(request).by_key(name.removesuffix(_OUT))
    if stream is not None and stream.whep_pc is not None:
        await stream.whep_pc.close()
    return Response(status_code=200)


@control_router.get("")
async def hosted_state(request: Request) -> dict[str, Any]:
    """The emulation's config, active faults and every stream (deleted ones too)."""
    book = book_of(request)
    return {"config": book.config.model_dump(mode="json", exclude={"api_keys"}),
            "faults": book.active_faults(),
            "streams": [_summary(s) for s in book.streams.values()]}


@control_router.post("/faults")
async def add_fault(fault: HostedFault, request: Request) -> list[dict[str, Any]]:
    """Activate a hosted fault; returns the active ones."""
    book = book_of(request)
    book.add_fault(fault)
    return book.active_faults()


@control_router.get("/streams/{stream_id}/truth")
async def stream_truth(stream_id: str, request: Request) -> dict[str, Any]:
    """A stream's ground truth (the media session's frames, inputs, chunks and messages)."""
    stream = book_of(request).streams.get(stream_id)
    if stream is None or stream.session is None:
        raise HTTPException(404, f"Stream {stream_id} has no media session")
    return {**_summary(stream), **stream.session.summary(), **stream.session.truth.to_json()}


def _summary(stream: HostedStream) -> dict[str, Any]:
    return {"stream_id": stream.id, "hosted_state": stream.state, "deleted": stream.deleted,
            "startup_s": stream.startup_s, "never_ready": stream.never_ready,
            "late_whep_s": stream.late_whep_s, "model_id": stream.params.get("model_id")}
