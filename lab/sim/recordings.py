"""Recording switches of WebRTC sessions, behind ``/api/v1/recordings/{session_id}``.

The simulator keeps which sessions (and record nodes) are recording, with Scope's answers
(``started``/``already_recording``, ``stopped``/``not_recording``), but it encodes no video:
downloading a recording is always 404, the status Scope gives when no recording file is
available. Writing MP4 files belongs to the headless media work still to come.
"""

from __future__ import annotations

from typing import Any

from lab.sim.errors import RouteError

__all__ = ["RecordingBook", "check_record_node"]


class RecordingBook:
    """Which (session, record node) pairs are recording; ``None`` is the session's track."""

    def __init__(self) -> None:
        self._on: set[tuple[str, str | None]] = set()

    def start(self, session_id: str, node_id: str | None) -> dict[str, str]:
        """Switch recording on."""
        key = (session_id, node_id)
        if key in self._on:
            return {"status": "already_recording"}
        self._on.add(key)
        return {"status": "started"}

    def stop(self, session_id: str, node_id: str | None) -> dict[str, str]:
        """Switch recording off."""
        if (session_id, node_id) not in self._on:
            return {"status": "not_recording"}
        self._on.discard((session_id, node_id))
        return {"status": "stopped"}

    def forget(self, session_id: str) -> None:
        """Drop a closed session's recordings, as Scope deletes them with the session."""
        self._on = {key for key in self._on if key[0] != session_id}


def check_record_node(parameters: dict[str, Any], node_id: str | None) -> None:
    """Check ``node_id`` against the record nodes of a session's graph, as Scope does.

    Raises
    ------
    RouteError
        400 if ``node_id`` is given and the graph has no such record node, or is missing
        although the graph has record nodes.
    """
    graph = parameters.get("graph") or {}
    records = [n.get("id") for n in graph.get("nodes") or [] if n.get("type") == "record"]
    if node_id is not None and node_id not in records:
        raise RouteError(400, f"No record node {node_id!r} in this session's graph")
    if node_id is None and records:
        raise RouteError(400, f"This session's graph has record nodes {records}: give node_id")
