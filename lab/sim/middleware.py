"""ASGI middleware that applies HTTP faults to Scope paths (never to ``/sim/``).

It is pure ASGI (no ``BaseHTTPMiddleware``) so that a ``drop`` fault can start a response and
then break the connection, as a crashing proxy or pod would. The ``drop`` fault ends with an
exception that uvicorn answers by closing the connection; :class:`DropLogFilter` keeps that
deliberate exception out of uvicorn's error log.
"""

from __future__ import annotations

import asyncio
import html
import logging
from http import HTTPStatus

from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lab.sim.faults import Fault, FaultBook

__all__ = ["DropLogFilter", "FaultMiddleware", "SimulatedDrop", "drop_connection", "proxy_error_page"]

logger = logging.getLogger(__name__)

# What a dropped response sends before the connection closes, and the length it promises.
_DROP_PARTIAL_BODY = b'{"status":'
_DROP_PROMISED_LENGTH = 1024


class SimulatedDrop(ConnectionError):
    """Raised mid-response by a ``drop`` fault so that the server closes the connection."""


class DropLogFilter(logging.Filter):
    """Drop uvicorn's "Exception in ASGI application" records caused by a ``drop`` fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDrop)


def proxy_error_page(status: int) -> str:
    """Return an HTML error page like the one RunPod's proxy shows for a pod that is not up."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # a status without a standard reason phrase
        reason = "Error"
    title = html.escape(f"{status} {reason}")
    return (
        "<!DOCTYPE html>\n<html>\n<head><title>" + title + "</title></head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        "<p>RunPod proxy: the pod did not answer on this port. It may still be starting, "
        "or the service inside it is not listening yet.</p>\n"
        "<hr><p>runpod-proxy (simulated by lab.sim)</p>\n</body>\n</html>\n"
    )


class FaultMiddleware:
    """Apply the first matching active HTTP fault to each request."""

    def __init__(self, app: ASGIApp, faults: FaultBook) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.faults.take_http(scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        logger.info("Fault %s on %s %s", fault.kind, scope["method"], scope["path"])
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            await self.app(scope, receive, send)
        elif fault.kind == "drop":
            await drop_connection(send)
        else:
            await _error_response(fault)(scope, receive, send)


def _error_response(fault: Fault) -> JSONResponse | HTMLResponse:
    status = fault.status or 500
    if fault.kind == "html":
        return HTMLResponse(proxy_error_page(status), status_code=status)
    return JSONResponse({"detail": fault.message or "Simulated server error"}, status_code=status)


async def drop_connection(send: Send) -> None:
    """Start a 200 answer, send part of its body, then break the connection."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(_DROP_PROMISED_LENGTH).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _DROP_PARTIAL_BODY, "more_body": True})
    raise SimulatedDrop("simulated dropped connection (drop fault)")
