"""Server-side recordings of sessions, behind ``/api/v1/recordings/{session_id}``.

A session is a WebRTC one (its ``sessionId``) or the headless one (``headless``, whose
output track feeds ``output.ts``). Starting a recording taps the session's output track:
every frame it sends from then on is encoded into an MP4 file
(:class:`lab.sim.media.recorder.Recorder`) in the book's temporary folder. Scope's answers
are kept (``started``/``already_recording``, ``stopped``/``not_recording``). A stopped
recording can be downloaded once: the file is deleted after it is sent, as Scope deletes its
temporary file. Downloading while still recording is a 404 that says to stop first (what
Scope does then is not known). Closing a session deletes its recordings, as Scope does; for
the headless session, so do ``stop`` and a new start, which replaces it under the same id.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from lab.sim.errors import RouteError
from lab.sim.media.recorder import Recorder
from lab.sim.media.session import MediaSession

__all__ = ["RecordingBook", "check_record_node"]

_Key = tuple[str, str | None]  # (session id, record node id or None for the session's track)


class RecordingBook:
    """The recordings of every session: running ones, and finished files not yet downloaded."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="scope-sim-recordings-"))
        self._running: dict[_Key, tuple[MediaSession, Recorder]] = {}
        self._finished: dict[_Key, Recorder] = {}

    def start(self, session: MediaSession, node_id: str | None) -> dict[str, str]:
        """Start recording what ``session`` sends."""
        key = (session.id, node_id)
        if key in self._running:
            return {"status": "already_recording"}
        self._discard(self._finished.pop(key, None))
        recorder = Recorder(self._folder / f"{uuid.uuid4().hex}.mp4")
        session.track.taps.append(recorder.write)
        self._running[key] = (session, recorder)
        return {"status": "started"}

    async def stop(self, session_id: str, node_id: str | None) -> dict[str, str]:
        """Stop recording and finish the file (encoding runs off the event loop)."""
        running = self._running.pop((session_id, node_id), None)
        if running is None:
            return {"status": "not_recording"}
        self._finished[(session_id, node_id)] = await _finish(*running)
        return {"status": "stopped"}

    def take(self, session_id: str, node_id: str | None) -> Path:
        """The finished file, handed over once (the caller deletes it after sending).

        Raises
        ------
        RouteError
            404 while still recording, or when there is no finished recording.
        """
        key = (session_id, node_id)
        if key in self._running:
            raise RouteError(404, "Recording not available: it is still recording; stop it first")
        recorder = self._finished.pop(key, None)
        if recorder is None or recorder.frames == 0:
            self._discard(recorder)
            raise RouteError(404, "Recording not available (nothing was recorded)")
        return recorder.path

    async def forget(self, session_id: str) -> None:
        """Stop and delete a closed session's recordings, as Scope does."""
        for key in [key for key in self._running if key[0] == session_id]:
            self._discard(await _finish(*self._running.pop(key)))
        for key in [key for key in self._finished if key[0] == session_id]:
            self._discard(self._finished.pop(key))

    async def aclose(self) -> None:
        """Stop every recording and remove the folder (reset, restart, shutdown)."""
        for key in list(self._running):
            await _finish(*self._running.pop(key))
        self._finished.clear()
        shutil.rmtree(self._folder, ignore_errors=True)

    @staticmethod
    def _discard(recorder: Recorder | None) -> None:
        if recorder is not None:
            recorder.path.unlink(missing_ok=True)


async def _finish(session: MediaSession, recorder: Recorder) -> Recorder:
    if recorder.write in session.track.taps:
        session.track.taps.remove(recorder.write)
    await asyncio.to_thread(recorder.close)
    return recorder


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
