"""What a server's API is, read once at sweep start and kept in the run manifest.

The research log asks questions no trial answers: is this the Daydream hosted
``/v1/streams`` API, is WHIP offered, what is in ``/docs``. The server's OpenAPI document
answers them, so the sweep runner stores a small ``api`` block per target in
``manifest.json`` (see :func:`api_facts`), and :mod:`lab.logbook.questions` reads it later,
offline, from the run alone.

For the simulator the block also records its speed factor: emulated loads run that many
times faster than real time, and a load time reported from such a run must say so.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx

from lab.client import ScopeClient
from lab.doctor import ApiShape
from lab.errors import LabError

__all__ = ["api_facts", "summarize_openapi", "API_FACTS_VERSION"]

API_FACTS_VERSION = 1
_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.I | re.S)
_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def summarize_openapi(openapi: dict[str, Any]) -> dict[str, Any]:
    """The facts the log needs from an OpenAPI document: shape, WHIP, size, route groups.

    Groups are the path segment after ``/api/v1/`` (``pipeline``, ``webrtc``, ...), or the
    first segment for other paths; the simulator's own control routes (tag ``simulator``)
    are counted apart, since they are not Scope's.

    Examples
    --------
    >>> facts = summarize_openapi({"info": {"title": "Scope", "version": "0.2.4"},
    ...     "paths": {"/api/v1/pipeline/load": {"post": {}}, "/api/v1/webrtc/offer": {"post": {}}}})
    >>> facts["scope_local"], facts["hosted_streams"], facts["groups"]
    (True, False, {'pipeline': 1, 'webrtc': 1})
    """
    shape = ApiShape.from_openapi(openapi)
    groups: Counter[str] = Counter()
    simulator_operations = 0
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            if "simulator" in (operation or {}).get("tags", []):
                simulator_operations += 1
                continue
            groups[_group(path)] += 1
    info = openapi.get("info", {})
    return {
        "version": API_FACTS_VERSION,
        "title": info.get("title"), "api_version": info.get("version"),
        "scope_local": shape.scope_local, "hosted_streams": shape.hosted_streams,
        "whip_paths": list(shape.whip_paths),
        "operations": sum(groups.values()), "groups": dict(groups.most_common()),
        "simulator_operations": simulator_operations,
    }


def _group(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"] and len(parts) > 2:
        return parts[2]
    return parts[0] if parts and not parts[0].startswith("{") else "root"


async def api_facts(client: ScopeClient) -> dict[str, Any]:
    """The manifest's ``api`` block for one server; never raises (a sweep must not fail on it).

    Keys: those of :func:`summarize_openapi`, plus ``docs_served``/``docs_title`` (the
    Swagger UI page), ``target_kind`` (sim, url, runpod) and ``simulator_speed`` (None for
    a real server). If ``/openapi.json`` cannot be read, ``error`` says why and the shape
    keys are missing, so no question is answered from it.

    Examples
    --------
    >>> async with ScopeClient("sim") as client:   # doctest: +SKIP
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
        async with httpx.AsyncClient(base_url=client.url, timeout=5.0) as http:
            response = await http.get("/sim/state")
            response.raise_for_status()
            speed = response.json().get("config", {}).get("speed")
    except (LabError, httpx.HTTPError, ValueError):
        return None
    return float(speed) if isinstance(speed, int | float) else None
