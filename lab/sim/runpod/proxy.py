"""RunPod's proxy in front of the emulated Scope, as ASGI middleware.

Scope's routes at the simulator's root are the home pod's port 8000; each pod's port is also
at ``/runpod/proxy/<pod id>-<port>/...``, the loopback stand-in for
``https://<pod id>-<port>.proxy.runpod.net`` (what ``lab pod list`` shows against the
simulator). While a pod is not serving, its ports answer the proxy's HTML pages: 404 when it
is stopped (or the port is not exposed), the "starting" page (503) while its container starts,
502 while Scope is not listening yet. The emulated API itself (``/runpod/graphql``) can be
made unreachable (its connections drop); ``/sim/`` and the hosted API's paths are never touched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from http import HTTPStatus

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lab.sim.faults import SIM_PATH_PREFIX
from lab.sim.middleware import drop_connection
from lab.sim.runpod.config import HOME_POD_ID
from lab.sim.runpod.pods import PodBook
from lab.target import SCOPE_PORT

__all__ = ["API_PATH", "PROXY_PREFIX", "PodProxyMiddleware", "proxy_page"]

API_PATH = "/runpod/graphql"
PROXY_PREFIX = "/runpod/proxy/"
# Paths of the simulator that are not the pod's Scope: its control API and Daydream's hosted
# API (lab.sim.hosted: /v1/streams, /live/... WHIP and WHEP), another service entirely.
_NOT_SCOPE = (SIM_PATH_PREFIX, "/v1/", "/live/")
_PROXIED = re.compile(r"^/runpod/proxy/(?P<pod>[a-z0-9]+)-(?P<port>\d{1,5})(?P<rest>/.*)?$")
_WORDS = {
    404: "This pod is not running, or this port is not one of its HTTP ports.",
    503: "The pod is starting: its container is being created. This page will be replaced by "
         "the service once it listens.",
    502: "The pod is running, but nothing answers on this port yet.",
}


def proxy_page(status: int) -> str:
    """The HTML page RunPod's proxy (emulated) shows for a pod port that is not serving."""
    title = html.escape(f"{status} {HTTPStatus(status).phrase}")
    return (f"<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
            f"<p>{_WORDS.get(status, 'The pod did not answer.')}</p>\n"
            "<hr><p>runpod-proxy (simulated by lab.sim)</p>\n</body>\n</html>\n")


class PodProxyMiddleware:
    """Answer for pods that are not serving; hand the rest to Scope's routes."""

    def __init__(self, app: ASGIApp, book: Callable[[], PodBook]) -> None:
        self.app = app
        self.book = book  # read per request: a reset replaces the book

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_NOT_SCOPE):
            await self.app(scope, receive, send)
            return
        book = self.book()
        if path == API_PATH:
            if book.take_fault("unreachable"):
                await drop_connection(send)  # raises: the connection breaks
            await self.app(scope, receive, send)
            return
        proxied = _PROXIED.match(path)
        if proxied:
            pod_id, port, rest = proxied["pod"], int(proxied["port"]), proxied["rest"] or "/"
            scope = {**scope, "path": rest, "raw_path": rest.encode()}
        else:
            pod_id, port = HOME_POD_ID, SCOPE_PORT
        status = book.proxy_status(pod_id, port)
        if status is None:
            await self.app(scope, receive, send)
        else:
            await HTMLResponse(proxy_page(status), status_code=status)(scope, receive, send)
