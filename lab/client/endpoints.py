"""Scope's operations, one method each: server facts, the server's log, WebRTC signalling,
server-side recordings and assets.

Capabilities are read from the server rather than assumed; the pipeline schemas are cached
per client. A failed operation's explanation comes from the server's own log
(:meth:`ScopeEndpoints.log_offset` before it, :meth:`ScopeEndpoints.log_excerpt` after).
Loading pipelines and downloading models, which poll, are :mod:`lab.client.loading`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lab.client.answers import parse, parse_list
from lab.client.connection import ScopeConnection
from lab.errors import NotScopeError, ScopeError, UnknownPipelineError
from lab.models import (
    AssetInfo,
    Health,
    HardwareInfo,
    IceServer,
    InputSourceType,
    LogTail,
    LoraFile,
    ModelsStatus,
    PipelineSchema,
    PipelineSchemas,
    PipelineStatus,
    PluginList,
    SessionMetrics,
    WebRtcAnswer,
)
from lab.protocol import WEBRTC_OFFER_PATH, webrtc_session_path
from lab.serverlog import relevant_lines

__all__ = ["ScopeEndpoints", "ASSET_EXTENSIONS"]

log = logging.getLogger(__name__)

ASSET_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".mp4", ".avi", ".mov", ".mkv", ".webm",
     ".wav", ".mp3", ".flac", ".ogg"}
)
LOG_TAIL_MAX_LINES = 1000  # the most /logs/tail sends at once


class ScopeEndpoints(ScopeConnection):
    """One method per Scope operation this workbench uses (:class:`~lab.client.ScopeClient`
    adds the polled ones)."""

    # -- server facts ------------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health``: status, version, git commit, start time."""
        return await self._get("/health", Health)

    async def openapi(self) -> dict[str, Any]:
        """The server's OpenAPI document (``/openapi.json``) as a dict."""
        response = await (await self._open()).send("GET", "/openapi.json")
        document = response.json()
        if not isinstance(document, dict) or "paths" not in document:
            raise NotScopeError(
                f"{response.request.url} is not an OpenAPI document (no 'paths').",
                url=str(response.request.url),
                status_code=response.status_code,
            )
        return document

    async def docs_page(self) -> str:
        """The interactive API docs page (``/docs``, FastAPI's Swagger UI) as HTML text."""
        response = await (await self._open()).send("GET", "/docs", expect_json=False)
        return response.text

    async def hardware_info(self) -> HardwareInfo:
        """``GET /api/v1/hardware/info``: total VRAM (GiB) of the server's GPU, if any."""
        return await self._get("/api/v1/hardware/info", HardwareInfo)

    async def pipeline_schemas(self, *, refresh: bool = False) -> PipelineSchemas:
        """``GET /api/v1/pipelines/schemas``, cached per client (``refresh`` re-reads it)."""
        if self._schemas is None or refresh:
            self._schemas = await self._get("/api/v1/pipelines/schemas", PipelineSchemas)
        return self._schemas

    async def pipeline_schema(self, pipeline_id: str) -> PipelineSchema:
        """One pipeline's schema; :class:`UnknownPipelineError` lists the valid ids."""
        schemas = await self.pipeline_schemas()
        if pipeline_id not in schemas.pipelines:
            schemas = await self.pipeline_schemas(refresh=True)
        try:
            return schemas.pipelines[pipeline_id]
        except KeyError:
            raise UnknownPipelineError(pipeline_id, url=self.url, known=schemas.ids) from None

    async def pipeline_status(self) -> PipelineStatus:
        """``GET /api/v1/pipeline/status``. Reading an ``error`` status clears it on the server."""
        return await self._get("/api/v1/pipeline/status", PipelineStatus)

    async def models_status(self, pipeline_id: str) -> ModelsStatus:
        """``GET /api/v1/models/status``: whether a pipeline's models are downloaded."""
        return await self._get("/api/v1/models/status", ModelsStatus, params={"pipeline_id": pipeline_id})

    async def ice_servers(self) -> list[IceServer]:
        """``GET /api/v1/webrtc/ice-servers``. Entries may hold TURN credentials: never print them raw."""
        response = await (await self._open()).send("GET", "/api/v1/webrtc/ice-servers")
        return parse_list(response, "iceServers", IceServer)

    async def loras(self) -> list[LoraFile]:
        """``GET /api/v1/loras``: LoRA files installed on the server."""
        response = await (await self._open()).send("GET", "/api/v1/loras")
        return parse_list(response, "lora_files", LoraFile)

    async def plugins(self) -> PluginList:
        """``GET /api/v1/plugins``: installed plugins with their pipelines, and failed ones."""
        return await self._get("/api/v1/plugins", PluginList)

    async def input_sources(self) -> list[InputSourceType]:
        """``GET /api/v1/input-sources``: server-side input source types and whether each is available."""
        response = await (await self._open()).send("GET", "/api/v1/input-sources")
        return parse_list(response, "input_sources", InputSourceType)

    async def session_metrics(self) -> SessionMetrics:
        """``GET /api/v1/session/metrics``: server-side frame counts of the first session."""
        return await self._get("/api/v1/session/metrics", SessionMetrics)

    # -- the server's log (what explains a failure) ------------------------------------

    async def log_tail(self, lines: int = 200, since_offset: int = 0) -> LogTail:
        """``GET /api/v1/logs/tail``: the server log's last ``lines`` after a byte offset."""
        return await self._get("/api/v1/logs/tail", LogTail, params={"lines": lines, "since_offset": since_offset},
                               retry=False)

    async def log_offset(self) -> int | None:
        """Where the server's log ends now, to read what an operation adds (:meth:`log_excerpt`).

        None when the log cannot be read: a Scope before ``/logs/tail`` (404, or its web
        UI's HTML), or any other failure; the operation then goes on without it.
        """
        try:
            return (await self.log_tail(lines=1)).offset
        except ScopeError as exc:
            log.debug("no server log at %s: %s", self.url, exc)
            return None

    async def log_excerpt(self, since_offset: int | None, pipeline_id: str | None = None) -> list[str]:
        """The log lines since ``since_offset`` that explain a failure (:func:`lab.serverlog.relevant_lines`).

        Empty when ``since_offset`` is None (no log was readable before) or the log cannot
        be read now: an explanation is a bonus, never a second failure.
        """
        if since_offset is None:
            return []
        try:
            tail = await self.log_tail(lines=LOG_TAIL_MAX_LINES, since_offset=since_offset)
        except ScopeError as exc:
            log.debug("could not read the server log at %s: %s", self.url, exc)
            return []
        return relevant_lines(tail.lines, pipeline_id)

    # -- WebRTC signalling (the media side is lab.rtc) -----------------------------------

    async def webrtc_offer(self, sdp: str, initial_parameters: dict[str, Any]) -> WebRtcAnswer:
        """``POST /api/v1/webrtc/offer``: send an SDP offer, get the answer and session id.

        Not retried: a repeated offer would create a second session on the server.
        """
        response = await self._post(
            WEBRTC_OFFER_PATH,
            json={"sdp": sdp, "type": "offer", "initialParameters": initial_parameters},
            retry=False,
        )
        return parse(response, WebRtcAnswer)

    async def webrtc_close(self, session_id: str) -> None:
        """``DELETE /api/v1/webrtc/offer/{id}``: ask the server to drop a session."""
        await (await self._open()).send("DELETE", webrtc_session_path(session_id), expect_json=False)

    # -- server-side recordings --------------------------------------------------------

    async def start_recording(self, session_id: str) -> str:
        """``POST /api/v1/recordings/{id}/start``: the server records what the session sends.

        Returns Scope's status, ``"started"`` or ``"already_recording"``.
        """
        response = await self._post(f"/api/v1/recordings/{session_id}/start", retry=False)
        return str(response.json().get("status"))

    async def stop_recording(self, session_id: str) -> str:
        """``POST /api/v1/recordings/{id}/stop``: ``"stopped"`` or ``"not_recording"``."""
        response = await self._post(f"/api/v1/recordings/{session_id}/stop", retry=False)
        return str(response.json().get("status"))

    async def download_recording(self, session_id: str, path: Path) -> Path:
        """``GET /api/v1/recordings/{id}``: save the session's MP4 recording to ``path``.

        Scope deletes its file once sent, so a recording can be downloaded once.
        """
        response = await (await self._open()).send(
            "GET", f"/api/v1/recordings/{session_id}", expect_json=False, retry=False)
        await asyncio.to_thread(path.write_bytes, response.content)
        return path

    # -- assets ------------------------------------------------------------------------

    async def assets(self, kind: str | None = None) -> list[AssetInfo]:
        """``GET /api/v1/assets``, optionally only ``kind`` (image, video or audio)."""
        params = {"type": kind} if kind else None
        response = await (await self._open()).send("GET", "/api/v1/assets", params=params)
        return parse_list(response, "assets", AssetInfo)

    async def upload_asset(self, source: str | Path | bytes, filename: str | None = None) -> AssetInfo:
        """Upload a file (path or bytes) to the server's assets; returns its server path.

        The returned ``path`` is absolute on the server and is what ``vace_ref_images``,
        ``first_frame_image`` and load-time ``ref_images`` need.
        """
        if isinstance(source, bytes):
            if not filename:
                raise ValueError("upload_asset needs a filename when given bytes.")
            content = source
        else:
            path = Path(source)
            content = await asyncio.to_thread(path.read_bytes)
            filename = filename or path.name
        assert filename is not None
        if Path(filename).suffix.lower() not in ASSET_EXTENSIONS:
            raise ValueError(
                f"Scope accepts assets with these extensions only: {', '.join(sorted(ASSET_EXTENSIONS))}; "
                f"got {filename!r}. Convert the file or rename it."
            )
        response = await self._post(
            "/api/v1/assets",
            params={"filename": filename},
            content=content,
            headers={"content-type": "application/octet-stream"},
        )
        return parse(response, AssetInfo)
