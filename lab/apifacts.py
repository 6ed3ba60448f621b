"""What a server's API is, read once at sweep start and kept in the run manifest.

The research log asks questions no trial answers: is this the Daydream hosted
``/v1/streams`` API, is WHIP offered, what is in ``/docs``. The server's OpenAPI document
answers them, so the sweep runner stores a small ``api`` block per target in
``manifest.json`` (see :func:`api_facts`), and :mod:`lab.logbook.server_answers` reads it later,
offline, from the run alone. How a document is read is :mod:`lab.protocol`'s.

For the simulator the block also records its speed factor: emulated loads run that many
times faster than real time, and a load time reported from such a run must say so.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from lab.client import ScopeClient
from lab.errors import LabError
from lab.protocol import API_FACTS_VERSION, summarize_openapi

__all__ = ["api_facts", "simulator_speed_at"]

_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.I | re.S)


async def api_facts(client: ScopeClient) -> dict[str, Any]:
    """The manifest's ``api`` block for one server; never raises (a sweep must not fail on it).

    Keys: those of :func:`summarize_openapi`, plus ``docs_served``/``docs_title`` (the
    Swagger UI page), ``target_kind`` (sim, url, runpod) and ``simulator_speed`` (None for
    a real server). If ``/openapi.json`` cannot be read, ``error`` says why and the shape
    keys are missing, so no question is answered from it.

    Examples
    --------
    >>> async with connect("sim") as client:   # doctest: +SKIP
    ...     (await api_facts(client))["hosted_streams"]
    False
    """
    facts: dict[str, Any] = {"version": API_FACTS_VERSION, "target_kind": client.target.kind}
    try:
        facts |= summarize_openapi(await client.openapi())
    except LabError as exc:
        facts["error"] = f"/openapi.json: {type(exc).__name__}: {exc}"
    try:
        page = await client.docs_page()
        match = _HTML_TITLE.search(page)
        facts |= {"docs_served": True, "docs_title": match.group(1).strip() if match else None}
    except LabError:
        facts |= {"docs_served": False, "docs_title": None}
    facts["simulator_speed"] = await _simulator_speed(client)
    return facts


async def _simulator_speed(client: ScopeClient) -> float | None:
    """The simulator's time-scale factor from its /sim/state (None for a real Scope)."""
    try:
        if not (await client.health()).is_simulator:
            return None
    except LabError:
        return None
    return await simulator_speed_at(client.url)


async def simulator_speed_at(url: str) -> float | None:
    """The time-scale factor of the simulator at ``url`` (its emulated loads, boots and start-ups
    are divided by it; media is real time), from its ``/sim/state``; None when it cannot be read."""
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
            response = await http.get("/sim/state")
            response.raise_for_status()
            speed = response.json().get("config", {}).get("speed")
    except (httpx.HTTPError, ValueError):
        return None
    return float(speed) if isinstance(speed, int | float) else None
