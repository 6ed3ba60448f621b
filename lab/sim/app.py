"""Build the simulator's FastAPI app: Scope's routes, the ``/sim/`` control API, faults, CORS.

Its ``/openapi.json`` lists Scope 0.2.4's operations and, tagged ``simulator``, the ``/sim/``
control routes, which are not Scope's: readers that count Scope's operations (``lab doctor``,
the logbook's api facts) leave out that tag.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from lab.sim import (
    control,
    routes,
    routes_host,
    routes_library,
    routes_live,
    routes_session,
)
from lab.sim.config import SimConfig
from lab.sim.errors import RouteError, route_error_response
from lab.sim.hosted.webrtc import mount_hosted
from lab.sim.middleware import FaultMiddleware
from lab.sim.runpod import routes as runpod_routes
from lab.sim.runpod.proxy import PodProxyMiddleware
from lab.sim.state import SimState

__all__ = ["create_app"]

_DESCRIPTION = (
    "**Simulator** of the Daydream Scope HTTP API (lab.sim), not a real Scope server. "
    "Pipelines are emulated from profiles; the `simulator` routes control the emulation."
)


def create_app(config: SimConfig | None = None) -> FastAPI:
    """Create a simulator app.

    Parameters
    ----------
    config
        Startup configuration; defaults to ``SimConfig()`` (GPU host with 32 GB VRAM, models
        missing, speed 1).

    Returns
    -------
    FastAPI
        The app, titled "Scope" like the real server. Its state (``app.state.sim``) is
        closed by the app's lifespan: run it under a server, or enter
        ``app.router.lifespan_context(app)`` (as :func:`lab.sim.in_process_client` does).

    Raises
    ------
    ValueError
        If the pipeline profile file cannot be loaded.

    Examples
    --------
    >>> app = create_app(SimConfig(cpu_only=True, speed=100))  # doctest: +SKIP
    >>> app.title  # doctest: +SKIP
    'Scope'
    """
    config = config or SimConfig()
    state = SimState(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(
        title="Scope", version=config.version, description=_DESCRIPTION, lifespan=lifespan
    )
    app.state.sim = state
    app.add_middleware(FaultMiddleware, faults=state.faults)
    app.add_middleware(PodProxyMiddleware, book=lambda: state.runpod)  # outside the faults: a stopped pod answers nothing
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=True,
    )
    app.add_exception_handler(RouteError, route_error_response)
    for module in (routes, routes_session, routes_library, routes_host, routes_live):
        app.include_router(module.router)
    app.include_router(control.router)
    mount_hosted(app)  # Daydream's hosted API (/v1/streams, WHIP, WHEP): lab.sim.hosted
    app.include_router(runpod_routes.api_router)
    app.include_router(runpod_routes.control_router)
    # Like Scope's SPA catch-all (listed in its OpenAPI too), this must come last.
    app.add_api_route("/{path:path}", routes.frontend_not_built, methods=["GET"])
    return app
