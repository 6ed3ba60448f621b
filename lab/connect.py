"""Open a client on any target, starting the embedded simulator for the target ``sim``.

:class:`~lab.client.ScopeClient` speaks to a URL and knows nothing of the simulator; the
simulator is a server and knows nothing of the client. This module sits above both, and is
the one place where ``sim`` becomes a running server: everything that takes a target from
a user (the CLI, sweeps, the doctor, the live panel, notebooks) opens it through
:func:`connect`.

Examples
--------
>>> async with connect("sim") as scope:          # doctest: +SKIP
...     print((await scope.health()).version)
"""

from __future__ import annotations

import asyncio
from typing import Any

from lab.client import ScopeClient
from lab.target import Target

__all__ = ["connect", "target_url"]


def connect(target: str | Target, **client_options: Any) -> ScopeClient:
    """A client for ``target`` (``sim``, a URL, a RunPod pod id); the simulator starts when the
    client opens. ``client_options`` are :class:`~lab.client.ScopeClient`'s."""
    return ScopeClient(target, url_for=target_url, **client_options)


async def target_url(target: Target) -> str:
    """The base URL of a target that has none until it runs: the shared simulator's for ``sim``
    and ``daydream:sim`` (the simulator serves the hosted API's emulation too)."""
    if target.url is not None:
        raise ValueError(f"target {target.raw!r} has its own URL; only the simulator is started here")
    from lab.sim import shared_simulator  # imported when used: the simulator's stack is heavy

    simulator = await asyncio.to_thread(shared_simulator)
    return simulator.url
