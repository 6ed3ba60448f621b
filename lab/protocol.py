"""Facts of Scope's protocol that several layers need, each with one home.

* :data:`ONE_SHOT_KEYS`: parameters Scope applies to one chunk only, so a client must send
  them again to keep their effect (the trial runner, the live panel and the simulator
  all rely on this list).
* :func:`frontend_load_params`: the load parameters Scope's own frontend sends; trials and
  the live panel load pipelines the way a user's browser would.
* :class:`ApiShape`, :func:`count_operations` and :func:`summarize_openapi`: which API a
  server speaks, read from its OpenAPI document (the doctor, the sweep manifest and the
  research log's API questions read it the same way).

Pure functions of documents and schemas: nothing here talks to a server.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from lab.models import PipelineSchema

__all__ = ["ONE_SHOT_KEYS", "WEBRTC_OFFER_PATH", "webrtc_session_path", "frontend_load_params", "ApiShape",
           "count_operations", "summarize_openapi", "operation_list", "API_FACTS_VERSION"]

ONE_SHOT_KEYS = frozenset({"vace_ref_images", "first_frame_image", "last_frame_image", "images"})

WEBRTC_OFFER_PATH = "/api/v1/webrtc/offer"

API_FACTS_VERSION = 2  # 2: operation_list
_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}
_SIMULATOR_TAG = "simulator"


def webrtc_session_path(session_id: str) -> str:
    """Where a WebRTC session lives on the server (``DELETE`` drops it): the client's async call
    and the live panel's exit hook, which has no event loop left, both use it."""
    return f"{WEBRTC_OFFER_PATH}/{session_id}"


def frontend_load_params(schema: PipelineSchema, mode: str, *, resolution: tuple[int, int] | None = None,
                         vace_enabled: bool = True) -> dict[str, Any]:
    """Load parameters as Scope's frontend sends them: an explicit height and width when the
    pipeline takes a size (``resolution`` as (height, width), else the schema's default for
    ``mode``), and ``vace_enabled`` for VACE-capable pipelines (Scope's default is true).

    Raises
    ------
    ValueError
        When the pipeline takes a size, none is given and the schema has no default for ``mode``.

    Examples
    --------
    >>> schema = PipelineSchema.model_validate({"id": "p", "config_schema": {"properties": {"height": {}}},
    ...     "mode_defaults": {"video": {"height": 320, "width": 576}}})
    >>> frontend_load_params(schema, "video")
    {'height': 320, 'width': 576}
    """
    params: dict[str, Any] = {}
    if "height" in schema.properties:
        size = resolution or schema.resolution(mode)
        if size is None:
            raise ValueError(f"{schema.id} gives no default resolution for mode {mode!r}; cannot pick a size.")
        params |= {"height": size[0], "width": size[1]}
    if schema.supports_vace:
        params["vace_enabled"] = vace_enabled
    return params


@dataclass(frozen=True)
class ApiShape:
    """Which API a server speaks, read from its OpenAPI document."""

    scope_local: bool
    hosted_streams: bool
    whip_paths: tuple[str, ...]

    @classmethod
    def from_openapi(cls, openapi: dict[str, Any]) -> ApiShape:
        """Scope's local API has /api/v1/pipeline/* and the WebRTC offer; Daydream's hosted
        API has /v1/streams; WHIP ingest shows as a path naming it."""
        paths = list(openapi.get("paths", {}))
        return cls(
            scope_local=any(p.startswith("/api/v1/pipeline") for p in paths) and WEBRTC_OFFER_PATH in paths,
            hosted_streams=any(p.startswith("/v1/streams") for p in paths),
            whip_paths=tuple(p for p in paths if "whip" in p.lower()),
        )

    def describe(self) -> str:
        """One line for the report (this answers the research log's API questions)."""
        return "; ".join([
            "Scope local API (/api/v1/..., WebRTC offer/answer)" if self.scope_local else "no Scope local API",
            "Daydream hosted /v1/streams present" if self.hosted_streams else "no Daydream hosted /v1/streams API",
            "WHIP at " + ", ".join(self.whip_paths) if self.whip_paths else "no WHIP ingest",
        ])


def _operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, operation) for every HTTP operation in the document."""
    return [(path, operation if isinstance(operation, dict) else {})
            for path, item in openapi.get("paths", {}).items()
            for method, operation in item.items() if method in _METHODS]


def operation_list(openapi: dict[str, Any]) -> list[str]:
    """``METHOD /path`` of every operation but the simulator's own, in the document's order."""
    return [f"{method.upper()} {path}" for path, item in openapi.get("paths", {}).items()
            for method, operation in item.items()
            if method in _METHODS and _SIMULATOR_TAG not in (operation or {}).get("tags", [])]


def count_operations(openapi: dict[str, Any]) -> tuple[int, int]:
    """Scope's operations and the simulator's own (tag ``simulator``), counted apart."""
    simulator = sum(_SIMULATOR_TAG in op.get("tags", []) for _, op in _operations(openapi))
    return len(_operations(openapi)) - simulator, simulator


def summarize_openapi(openapi: dict[str, Any]) -> dict[str, Any]:
    """The facts the log needs from an OpenAPI document: shape, WHIP, size, route groups, operations.

    Groups are the path segment after ``/api/v1/`` (``pipeline``, ``webrtc``, ...), or the
    first segment for other paths; the simulator's own control routes (tag ``simulator``)
    are counted apart, since they are not Scope's. ``operation_list`` is every other
    operation as ``METHOD /path`` (the log compares it with the hosted API's).

    Examples
    --------
    >>> facts = summarize_openapi({"info": {"title": "Scope", "version": "0.2.4"},
    ...     "paths": {"/api/v1/pipeline/load": {"post": {}}, "/api/v1/webrtc/offer": {"post": {}}}})
    >>> facts["scope_local"], facts["hosted_streams"], facts["groups"]
    (True, False, {'pipeline': 1, 'webrtc': 1})
    """
    shape = ApiShape.from_openapi(openapi)
    groups = Counter(_group(path) for path, op in _operations(openapi) if _SIMULATOR_TAG not in op.get("tags", []))
    scope, simulator = count_operations(openapi)
    info = openapi.get("info", {})
    return {
        "version": API_FACTS_VERSION,
        "title": info.get("title"), "api_version": info.get("version"),
        "scope_local": shape.scope_local, "hosted_streams": shape.hosted_streams,
        "whip_paths": list(shape.whip_paths),
        "operations": scope, "groups": dict(groups.most_common()),
        "simulator_operations": simulator,
        "operation_list": operation_list(openapi),
    }


def _group(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"] and len(parts) > 2:
        return parts[2]
    return parts[0] if parts and not parts[0].startswith("{") else "root"
