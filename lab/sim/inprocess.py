"""Talk to a simulator app in-process: an httpx client over ASGI, with the app's lifespan.

Fast tests of HTTP clients use this instead of a child process (no sockets, no ports). The
``drop`` fault needs a real connection; use :func:`lab.sim.launch.start_simulator` for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from lab.sim.app import create_app
from lab.sim.config import SimConfig

__all__ = ["in_process_client"]


@asynccontextmanager
async def in_process_client(
    config: SimConfig | None = None, *, base_url: str = "http://simulator"
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an ``httpx.AsyncClient`` wired to a fresh simulator app.

    Parameters
    ----------
    config
        The simulator's startup config; defaults to ``SimConfig()``.
    base_url
        The base URL requests are made against (only the path reaches the app).

    Examples
    --------
    >>> async with in_process_client(SimConfig(speed=100)) as client:  # doctest: +SKIP
    ...     (await client.get("/health")).json()["simulator"]
    True
    """
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
