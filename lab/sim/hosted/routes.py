"""The hosted API's REST routes: streams created, read, changed and deleted, with Bearer keys.

Every route checks the ``Authorization: Bearer <key>`` header first (401 without one, or with
a key not configured), then meets the active REST faults (401 for a revoked key, 429 with
``Retry-After``, 5xx). Errors have the API's body, as the SDK's ``*ErrorData`` models read
it: ``{"success": false, "error", "code", "status", "details"}``.

Routes (all left out of ``/openapi.json``, which stays Scope's):
``POST /v1/streams`` (201), ``GET /v1/streams``, ``GET /v1/streams/{id}``,
``GET /v1/streams/{id}/status``, ``PATCH /v1/streams/{id}``, and ``DELETE /v1/streams?id=``
(the SDK's form) or ``DELETE /v1/streams/{id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from lab.sim.hosted.params import check_create, check_update
from lab.sim.hosted.status import stream_status
from lab.sim.hosted.streams import HostedBook, HostedStream

__all__ = ["HostedRefusal", "book_of", "router", "install_error_handler"]

router = APIRouter(include_in_schema=False)


class HostedRefusal(Exception):
    """An error answer of the hosted API."""

    def __init__(self, status: int, error: str, code: str, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.code, self.details = status, error, code, details
        self.headers = headers or {}


def install_error_handler(app: FastAPI) -> None:
    """Answer :class:`HostedRefusal` with the API's error body."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HostedRefusal)
        body = {"success": False, "error": exc.error, "code": exc.code, "status": exc.status,
                "details": exc.details}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    app.add_exception_handler(HostedRefusal, handler)


def book_of(request: Request) -> HostedBook:
    """The app's hosted streams (``SimState.hosted``)."""
    book: HostedBook = request.app.state.sim.hosted
    return book


def _authorized(request: Request) -> HostedBook:
    book = book_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HostedRefusal(401, "Missing API key: send Authorization: Bearer <key>", "AUTH/UNAUTHORIZED")
    if not book.accepts(key.strip()):
        raise HostedRefusal(401, "Invalid API key", "AUTH/UNAUTHORIZED")
    fault = book.take_rest_fault()
    if fault is None:
        return book
    if fault.kind == "unauthorized":
        raise HostedRefusal(401, "API key revoked (simulated fault)", "AUTH/UNAUTHORIZED")
    if fault.kind == "rate_limited":
        raise HostedRefusal(429, "Too many requests (simulated fault)", "RATE_LIMITED",
                            headers={"Retry-After": str(fault.retry_after_s)})
    raise HostedRefusal(fault.status, "Internal error (simulated fault)", "INTERNAL")


Book = Annotated[HostedBook, Depends(_authorized)]


def _stream(book: HostedBook, stream_id: str) -> HostedStream:
    stream = book.get(stream_id)
    if stream is None:
        raise HostedRefusal(404, f"Stream {stream_id} not found", "STREAMS/NOT_FOUND")
    return stream


def _refuse_params(problems: list[dict[str, str]]) -> None:
    if problems:
        said = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise HostedRefusal(400, f"Invalid request body: {said}", "VALIDATION_ERROR", details=problems)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/v1/streams", status_code=201)
async def create_stream(request: Request, book: Book) -> dict[str, Any]:
    """Create a stream; 400 with every problem of the body."""
    body = await request.json()
    _refuse_params(check_create(body))
    return book.create(body).to_json(_base(request))


@router.get("/v1/streams")
async def list_streams(request: Request, book: Book) -> dict[str, Any]:
    """The caller's live streams (the SDK's ``GetAllStreamsResponse``)."""
    live = [s.to_json(_base(request)) for s in book.streams.values() if not s.deleted]
    return {"success": True, "data": live}


@router.get("/v1/streams/{stream_id}")
async def get_stream(stream_id: str, request: Request, book: Book) -> dict[str, Any]:
    """One stream."""
    return _stream(book, stream_id).to_json(_base(request))


@router.get("/v1/streams/{stream_id}/status")
async def get_status(stream_id: str, request: Request, book: Book) -> dict[str, Any]:
    """The stream's state, fps, restarts and ingest metrics."""
    stream = _stream(book, stream_id)
    return {"success": True, "data": await stream_status(stream, _base(request))}


@router.patch("/v1/streams/{stream_id}")
async def update_stream(stream_id: str, request: Request, book: Book) -> dict[str, Any]:
    """Change only the params sent."""
    stream = _stream(book, stream_id)
    body = await request.json()
    _refuse_params(check_update(body))
    stream.update(body["params"])
    return stream.to_json(_base(request))


@router.delete("/v1/streams")
async def delete_stream_query(book: Book, stream_id: Annotated[str, Query(alias="id")]) -> dict[str, Any]:
    """Tear a stream down (the SDK sends its id as a query parameter)."""
    await book.delete(_stream(book, stream_id))
    return {"success": True, "data": {}}


@router.delete("/v1/streams/{stream_id}")
async def delete_stream(stream_id: str, book: Book) -> dict[str, Any]:
    """Tear a stream down."""
    await book.delete(_stream(book, stream_id))
    return {"success": True, "data": {}}
