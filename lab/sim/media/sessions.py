"""The simulator's sessions: open, find, update, report and close them.

:class:`SessionBook` is what the routes talk to. It keeps every session of the app's life
(closed ones too, for their ground truth) until :meth:`SessionBook.reset`: the WebRTC ones,
and the one headless session (:mod:`lab.sim.media.headless`; a new start closes and
replaces it, as in Scope). Where Scope reports "the first active session", WebRTC sessions
come first, then the headless one. The book also holds the runtime media knobs
``extra_delay_s``, ``unpaced`` and ``quality`` (overrides of the profiles' reference share,
identity drift and flicker; see :mod:`lab.sim.media.quality`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from lab.loopback import LOOPBACK_ADDRESS
from lab.sim.faults import FaultBook
from lab.sim.media.chain import build_chain
from lab.sim.media.headless import HEADLESS_ID, HeadlessSession
from lab.sim.media.parameters import Parameters
from lab.sim.media.quality import QualityKnobs
from lab.sim.media.session import MediaSession
from lab.sim.media.signalling import add_candidates, answer_offer
from lab.sim.profiles import PipelineProfile

__all__ = ["PipelineNotLoadedError", "SessionBook", "UnknownSessionError"]

logger = logging.getLogger(__name__)

PIPELINE_NOT_LOADED = "Pipeline not loaded. Please load pipeline first."


class PipelineNotLoadedError(RuntimeError):
    """An offer arrived while no pipeline is loaded."""

    def __init__(self) -> None:
        super().__init__(PIPELINE_NOT_LOADED)


class UnknownSessionError(KeyError):
    """No open session has this id."""


class SessionBook:
    """All sessions of one simulator: the WebRTC ones and the headless one.

    Parameters
    ----------
    profiles
        The registered pipelines by id.
    pipeline_status
        Returns the loader's status body (without consuming an ``error``).
    faults
        Active faults; each new session uses up one of every media fault kind.
    """

    def __init__(
        self,
        profiles: Mapping[str, PipelineProfile],
        pipeline_status: Callable[[], dict[str, Any]],
        faults: FaultBook,
    ) -> None:
        self._profiles = profiles
        self._pipeline_status = pipeline_status
        self._faults = faults
        self._sessions: dict[str, MediaSession] = {}
        self._seeds = itertools.count()
        self._dead_socket: socket.socket | None = None
        self.extra_delay_s = 0.0
        self.unpaced = False  # new sessions send frames as soon as ready (no output pacer)
        self.quality = QualityKnobs()  # every session reads it at each chunk

    async def open(
        self, offer_sdp: str, initial: Parameters, *, loopback: bool
    ) -> tuple[MediaSession, str]:
        """Create a session from an offer; return it and the answer SDP.

        Raises
        ------
        PipelineNotLoadedError
            If the pipeline status is not ``loaded`` (unless a graph without pipeline
            nodes is given, as in Scope).
        """
        status = self._pipeline_status()
        if status["status"] != "loaded" and _needs_pipeline(initial.graph):
            raise PipelineNotLoadedError
        values = initial.applied()
        settings = self._new_session_settings(values, status)
        faults = settings["faults"]
        session = MediaSession(str(uuid.uuid4()), loopback=loopback, **settings)
        self._sessions[session.id] = session
        dead_port = self._dead_port() if "ice_fail" in faults else None
        try:
            answer = await answer_offer(
                session, offer_sdp, loopback=loopback, dead_port=dead_port
            )
        except BaseException:
            await session.close("failed")
            raise
        logger.info(
            "Session %s opened: %s, %s mode%s",
            session.id,
            values.get("pipeline_ids"),
            values.get("input_mode") or "text",
            f", faults {sorted(faults)}" if faults else "",
        )
        return session, answer

    def _new_session_settings(self, values: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """What every new session, WebRTC or headless, is made of: the chain its parameters name
        on the loaded pipeline, its share of the media faults, the runtime knobs and a seed."""
        load_params = status["load_params"] or {}
        return {
            "chain": build_chain(values.get("pipeline_ids") or [], self._profiles, load_params),
            "initial": values,
            "faults": self._faults.take_media(),
            "extra_delay_ns": self._extra_delay_ns,
            "unpaced": self.unpaced,
            "quality": self.quality,
            "seed": int(load_params.get("base_seed", 42)) + next(self._seeds),
        }

    async def start_headless(
        self, initial: Parameters, input_track: MediaStreamTrack | None = None
    ) -> HeadlessSession:
        """Start the headless session (closing the previous one) on the loaded pipeline.

        Raises
        ------
        PipelineNotLoadedError
            If the pipeline status is not ``loaded``.
        """
        status = self._pipeline_status()
        if status["status"] != "loaded":
            raise PipelineNotLoadedError
        previous = self._sessions.pop(HEADLESS_ID, None)
        if previous is not None:
            await previous.close()
        values = initial.applied()
        session = HeadlessSession(input_track=input_track, **self._new_session_settings(values, status))
        self._sessions[HEADLESS_ID] = session
        session.start()
        logger.info("Headless session started: %s, %s mode%s", values.get("pipeline_ids"),
                    values.get("input_mode") or "text",
                    ", input from a server-side source" if input_track is not None else "")
        return session

    async def stop_headless(self) -> None:
        """Stop the headless session.

        Raises
        ------
        UnknownSessionError
            If no headless session is running.
        """
        session = self.headless
        if session is None:
            raise UnknownSessionError(HEADLESS_ID)
        await session.close()

    @property
    def headless(self) -> HeadlessSession | None:
        """The running headless session, if any."""
        session = self._sessions.get(HEADLESS_ID)
        return session if isinstance(session, HeadlessSession) and session.active else None

    def get(self, session_id: str) -> MediaSession:
        """The session with this id, open or not.

        Raises
        ------
        UnknownSessionError
            If there is none.
        """
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSessionError(session_id) from None

    async def add_candidates(self, session_id: str, candidates: list[dict[str, Any]]) -> None:
        """Add trickled candidates to an open session.

        Raises
        ------
        UnknownSessionError
            If no open session has this id.
        InvalidCandidateError
            If a candidate cannot be used.
        """
        session = self._sessions.get(session_id)
        if session is None or not session.active or session.id == HEADLESS_ID:
            raise UnknownSessionError(session_id)
        await add_candidates(session, candidates)

    async def close(self, session_id: str) -> None:
        """Close a session; unknown ids are only logged, as Scope does."""
        session = self._sessions.get(session_id)
        if session is None or session.id == HEADLESS_ID:
            logger.warning("Asked to close unknown session %s", session_id)
            return
        await session.close()

    def active(self) -> list[MediaSession]:
        """Open sessions (not closed or failed): WebRTC ones oldest first, then the headless one."""
        webrtc = [s for s in self._sessions.values() if s.active and s.id != HEADLESS_ID]
        return webrtc + ([self.headless] if self.headless is not None else [])

    def broadcast(self, update: dict[str, Any], received_ns: int) -> None:
        """Apply a REST parameter update to every open session (the headless one too) and tell
        each WebRTC client."""
        for session in self.active():
            session.receive_update(update, received_ns, "rest")
            session.notify({"type": "parameters_updated", "parameters": update})

    def metrics(self) -> dict[str, Any]:
        """``GET /api/v1/session/metrics``: the first open session only; GPU empty as in Scope."""
        sessions = self.active()
        return {
            "sessions": {sessions[0].id: sessions[0].metrics()} if sessions else {},
            "gpu": {},
        }

    def summaries(self) -> list[dict[str, Any]]:
        """Every session of this simulator's life (since the last reset), oldest first."""
        return [session.summary() for session in self._sessions.values()]

    def snapshot(self) -> dict[str, Any]:
        """The media part of ``/sim/state``."""
        return {"extra_delay_s": self.extra_delay_s, "unpaced": self.unpaced,
                "quality": self.quality.to_json(), "active_sessions": len(self.active())}

    async def reset(self) -> None:
        """Close and forget every session; the extra delay goes back to 0, pacing back on,
        quality back to the profiles'."""
        await self._close_all()
        self._sessions.clear()
        self.extra_delay_s = 0.0
        self.unpaced = False
        self.quality = QualityKnobs()

    async def close_all(self) -> None:
        """Close every session but keep them, with their truth (an emulated restart)."""
        await self._close_all()

    async def aclose(self) -> None:
        """Close every session and the ``ice_fail`` port (at shutdown)."""
        await self._close_all()
        if self._dead_socket is not None:
            self._dead_socket.close()
            self._dead_socket = None

    async def _close_all(self) -> None:
        await asyncio.gather(*(session.close() for session in self._sessions.values()))

    def _extra_delay_ns(self) -> int:
        return round(self.extra_delay_s * 1e9)

    def _dead_port(self) -> int:
        """A loopback UDP port that never answers: bound, and never read."""
        if self._dead_socket is None:
            self._dead_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._dead_socket.bind((LOOPBACK_ADDRESS, 0))
        port: int = self._dead_socket.getsockname()[1]
        return port


def _needs_pipeline(graph: dict[str, Any] | None) -> bool:
    """Scope skips the loaded check only for a graph without ``pipeline`` nodes."""
    if graph is None:
        return True
    return any(node.get("type") == "pipeline" for node in graph.get("nodes") or [])
