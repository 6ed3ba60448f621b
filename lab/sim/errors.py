"""An error a Scope route answers with, raised by the simulator's state modules.

State modules stay free of FastAPI; :func:`lab.sim.app.create_app` turns a
:class:`RouteError` into Scope's error body ``{"detail": ...}`` with its status.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

__all__ = ["RouteError", "route_error_response"]


class RouteError(Exception):
    """A refusal with the HTTP status and ``detail`` a real server would send."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def route_error_response(_: Request, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`RouteError`."""
    assert isinstance(exc, RouteError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)
