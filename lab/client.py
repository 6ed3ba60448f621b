"""Async client for Scope's HTTP API.

One :class:`ScopeClient` talks to one server. It reads capabilities (pipelines, VACE
support, VRAM estimates, resolutions) from the server rather than assuming them, checks
load parameters against the server's schema before sending, and measures load and
download times on one monotonic clock.

The target ``sim`` has no URL until the simulator runs; :func:`lab.connect.connect` gives
the client the means to start it (``url_for``), so this module never imports the simulator.

Examples
--------
>>> async with ScopeClient("http://127.0.0.1:8000") as scope:   # doctest: +SKIP
...     schemas = await scope.pipeline_schemas()
...     result = await scope.load_pipeline("longlive", download_missing=True)
...     print(f"{result.pipeline_id} loaded in {result.load_s:.1f} s")
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from lab.errors import (
    DownloadError,
    InvalidParametersError,
    ModelsNotDownloadedError,
    NotScopeError,
    PipelineLoadError,
    ScopeError,
    ServerError,
    TargetError,
    UnknownPipelineError,
)
from lab.http import DEFAULT_TIMEOUT, Exchange, RetryPolicy
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
from lab.params import load_param_problems
from lab.serverlog import relevant_lines
from lab.target import Target

__all__ = ["ScopeClient", "LoadResult", "LoadProgress", "StageTiming", "DownloadResult", "DownloadProgressEvent"]

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

ASSET_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".mp4", ".avi", ".mov", ".mkv", ".webm",
     ".wav", ".mp3", ".flac", ".ogg"}
)
DEFAULT_POLL_INTERVAL_S = 0.1
DEFAULT_LOAD_TIMEOUT_S = 900.0
DEFAULT_DOWNLOAD_TIMEOUT_S = 3600.0
LOG_TAIL_MAX_LINES = 1000  # the most /logs/tail sends at once


@dataclass(frozen=True)
class StageTiming:
    """A loading stage and when it was first seen, in seconds after the load request."""

    stage: str
    first_seen_s: float


@dataclass(frozen=True)
class LoadProgress:
    """What one status poll showed during a load (passed to ``on_progress``)."""

    pipeline_id: str
    elapsed_s: float
    status: str
    stage: str | None


@dataclass(frozen=True)
class DownloadProgressEvent:
    """What one models-status poll showed during a download (passed to ``on_progress``)."""

    pipeline_id: str
    elapsed_s: float
    percentage: float | None
    artifact: str | None


@dataclass(frozen=True)
class DownloadResult:
    """A finished model download; ``download_s`` is 0 when the models were already there."""

    pipeline_id: str
    download_s: float
    artifacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadResult:
    """A finished pipeline load.

    ``load_s`` runs from sending ``POST /pipeline/load`` to the first poll that showed the
    pipeline loaded; it is accurate to ``poll_interval_s``. ``download`` is set when models
    were downloaded first (that time is not part of ``load_s``).
    """

    pipeline_id: str
    load_params: dict[str, Any]
    load_s: float
    poll_interval_s: float
    polls: int
    stages: tuple[StageTiming, ...] = ()
    download: DownloadResult | None = None
    started_at: float = field(default=0.0, repr=False)


class ClientState(enum.Enum):
    """Lifecycle of a :class:`ScopeClient`."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class ScopeClient:
    """Async client for one Scope server.

    Parameters
    ----------
    target:
        A URL, a RunPod pod id, ``"sim"`` (needs ``url_for``; :func:`lab.connect.connect`
        passes it), or a :class:`~lab.target.Target`.
    timeout:
        httpx timeout for each request (seconds, or an ``httpx.Timeout``).
    retry:
        Retry policy for transient failures (connection errors, 502/503/504).
    transport:
        An httpx transport, e.g. ``httpx.ASGITransport(app=...)`` in tests.
    poll_interval_s:
        How often load and download status are polled; the resolution of ``load_s``.
    url_for:
        Starts a target that has no URL of its own (``sim``) and returns its base URL.

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        target: str | Target,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        url_for: Callable[[Target], Awaitable[str]] | None = None,
    ) -> None:
        self.target = target if isinstance(target, Target) else Target.parse(target)
        self._url_for = url_for
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retry = retry
        self._transport = transport
        self.poll_interval_s = poll_interval_s
        self._exchange: Exchange | None = None
        self._state = ClientState.UNOPENED
        self._schemas: PipelineSchemas | None = None
        self._open_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> ScopeClient:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        if self._exchange is not None:
            await self._exchange.http.aclose()
        self._state = ClientState.CLOSED

    @property
    def url(self) -> str:
        """The server's base URL (for ``sim``, known once the client has opened)."""
        if self.target.url is None:
            raise RuntimeError("The simulator's URL is known once the client is open: use `async with`.")
        return self.target.url

    async def _open(self) -> Exchange:
        async with self._open_lock:
            if self._state is ClientState.CLOSED:
                raise RuntimeError("This ScopeClient is closed; create a new one.")
            if self._exchange is None:
                if self.target.url is None:
                    if self._url_for is None:
                        raise TargetError(f"The target {self.target.raw!r} has no URL until it is started: open it "
                                          f"with lab.connect.connect({self.target.raw!r}), which starts it.",
                                          target=self.target.raw)
                    self.target = Target(self.target.kind, self.target.raw, await self._url_for(self.target))
                http = httpx.AsyncClient(
                    base_url=self.url,
                    timeout=self._timeout,
                    transport=self._transport,
                    headers={"user-agent": "scope-lab"},
                    follow_redirects=True,
                )
                self._exchange = Exchange(http, self._retry)
                self._state = ClientState.OPEN
            return self._exchange

    async def exchange(self) -> Exchange:
        """The open HTTP exchange with the server, for calls this client has no method for
        (the headless session's, :mod:`lab.headless`)."""
        return await self._open()

    async def _get(self, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        response = await (await self._open()).send("GET", path, **kwargs)
        return _parse(response, model)

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await (await self._open()).send("POST", path, **kwargs)

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
        return _parse_list(response, "iceServers", IceServer)

    async def loras(self) -> list[LoraFile]:
        """``GET /api/v1/loras``: LoRA files installed on the server."""
        response = await (await self._open()).send("GET", "/api/v1/loras")
        return _parse_list(response, "lora_files", LoraFile)

    async def plugins(self) -> PluginList:
        """``GET /api/v1/plugins``: installed plugins with their pipelines, and failed ones."""
        return await self._get("/api/v1/plugins", PluginList)

    async def input_sources(self) -> list[InputSourceType]:
        """``GET /api/v1/input-sources``: server-side input source types and whether each is available."""
        response = await (await self._open()).send("GET", "/api/v1/input-sources")
        return _parse_list(response, "input_sources", InputSourceType)

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

    async def session_metrics(self) -> SessionMetrics:
        """``GET /api/v1/session/metrics``: server-side frame counts of the first session."""
        return await self._get("/api/v1/session/metrics", SessionMetrics)

    # -- WebRTC signalling (the media side is lab.rtc) -----------------------------------

    async def webrtc_offer(self, sdp: str, initial_parameters: dict[str, Any]) -> WebRtcAnswer:
        """``POST /api/v1/webrtc/offer``: send an SDP offer, get the answer and session id.

        Not retried: a repeated offer would create a second session on the server.
        """
        response = await self._post(
            "/api/v1/webrtc/offer",
            json={"sdp": sdp, "type": "offer", "initialParameters": initial_parameters},
            retry=False,
        )
        return _parse(response, WebRtcAnswer)

    async def webrtc_close(self, session_id: str) -> None:
        """``DELETE /api/v1/webrtc/offer/{id}``: ask the server to drop a session."""
        await (await self._open()).send("DELETE", f"/api/v1/webrtc/offer/{session_id}", expect_json=False)

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
        return _parse_list(response, "assets", AssetInfo)

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
        return _parse(response, AssetInfo)

    # -- models ------------------------------------------------------------------------

    async def download_models(
        self,
        pipeline_id: str,
        *,
        timeout_s: float = DEFAULT_DOWNLOAD_TIMEOUT_S,
        on_progress: Callable[[DownloadProgressEvent], None] | None = None,
    ) -> DownloadResult:
        """Download a pipeline's models if missing and wait until they are on the server.

        Raises :class:`DownloadError` if the server reports a failure or the download does
        not finish within ``timeout_s``.
        """
        await self.pipeline_schema(pipeline_id)
        if (await self.models_status(pipeline_id)).downloaded:
            return DownloadResult(pipeline_id, 0.0)
        started = time.perf_counter()
        try:
            await self._post("/api/v1/models/download", json={"pipeline_id": pipeline_id}, retry=False)
        except ServerError as exc:
            if exc.status_code != 409:  # 409: a download is already running; wait for it
                raise
        artifacts: list[str] = []
        while True:
            elapsed = time.perf_counter() - started
            status = await self.models_status(pipeline_id)
            if status.downloaded:
                return DownloadResult(pipeline_id, time.perf_counter() - started, tuple(artifacts))
            progress = status.progress
            if progress and progress.error:
                raise DownloadError(
                    f"Downloading models for {pipeline_id!r} failed: {progress.error}. If it "
                    "mentions 401/403, the server's HF_TOKEN is missing or lacks read access.",
                    url=self.url,
                    pipeline_id=pipeline_id,
                )
            if progress and progress.current_artifact and progress.current_artifact not in artifacts:
                artifacts.append(progress.current_artifact)
            if on_progress:
                on_progress(DownloadProgressEvent(
                    pipeline_id, elapsed, progress.percentage if progress else None,
                    progress.current_artifact if progress else None))
            if elapsed > timeout_s:
                raise DownloadError(
                    f"Models for {pipeline_id!r} were not downloaded within {timeout_s:.0f} s "
                    f"(last artifact: {artifacts[-1] if artifacts else 'none reported'}). The "
                    "download goes on on the server; check /api/v1/models/status later.",
                    url=self.url,
                    pipeline_id=pipeline_id,
                )
            await asyncio.sleep(self.poll_interval_s)

    # -- pipeline loading --------------------------------------------------------------

    async def load_pipeline(
        self,
        pipeline_id: str,
        load_params: dict[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_LOAD_TIMEOUT_S,
        download_missing: bool = False,
        on_progress: Callable[[LoadProgress], None] | None = None,
    ) -> LoadResult:
        """Load a pipeline and wait until the server reports it loaded.

        Before sending, the id is checked against the server's pipelines, the parameters
        against its schema, and the models against ``/models/status`` (downloaded first
        when ``download_missing``).

        Raises
        ------
        UnknownPipelineError, InvalidParametersError, ModelsNotDownloadedError
            Before anything is sent.
        PipelineLoadError
            The server reported ``error``, or the load did not finish in ``timeout_s``.
        """
        params = dict(load_params or {})
        schema = await self.pipeline_schema(pipeline_id)
        problems = load_param_problems(schema, params)
        if problems:
            raise InvalidParametersError(pipeline_id, problems, url=self.url)
        download: DownloadResult | None = None
        if schema.requires_models and not (await self.models_status(pipeline_id)).downloaded:
            if not download_missing:
                raise ModelsNotDownloadedError(pipeline_id, url=self.url)
            download = await self.download_models(pipeline_id)
        log_offset = await self.log_offset()  # the log lines a failure adds explain it
        started = time.perf_counter()
        await self._post("/api/v1/pipeline/load", json={"pipeline_ids": [pipeline_id], "load_params": params})
        return await self._wait_until_loaded(schema, params, started, timeout_s, on_progress, download, log_offset)

    async def _wait_until_loaded(
        self,
        schema: PipelineSchema,
        params: dict[str, Any],
        started: float,
        timeout_s: float,
        on_progress: Callable[[LoadProgress], None] | None,
        download: DownloadResult | None,
        log_offset: int | None,
    ) -> LoadResult:
        stages: list[StageTiming] = []
        polls = 0
        seen_loading = False
        while True:
            status = await self.pipeline_status()
            elapsed = time.perf_counter() - started
            polls += 1
            if status.loading_stage and (not stages or stages[-1].stage != status.loading_stage):
                stages.append(StageTiming(status.loading_stage, elapsed))
            if on_progress:
                on_progress(LoadProgress(schema.id, elapsed, status.status, status.loading_stage))
            last_stage = stages[-1].stage if stages else None
            # pipeline_id and load_params guard against reading the previous load's state.
            if (status.status == "loaded" and status.pipeline_id == schema.id
                    and status.load_params in (None, params)):
                return LoadResult(schema.id, params, elapsed, self.poll_interval_s, polls, tuple(stages), download, started)
            if status.status == "error" or (status.status == "not_loaded" and seen_loading):
                causes = await self._likely_load_failure_causes(schema, params, status)
                raise PipelineLoadError(schema.id, url=self.url, stage=last_stage,
                                        server_error=status.error, likely_causes=causes, elapsed_s=elapsed,
                                        server_log=await self.log_excerpt(log_offset, schema.id))
            seen_loading = seen_loading or status.status == "loading"
            if elapsed > timeout_s:
                raise PipelineLoadError(schema.id, url=self.url, stage=last_stage, server_error=None,
                                        elapsed_s=elapsed, timed_out=True,
                                        server_log=await self.log_excerpt(log_offset, schema.id),
                                        likely_causes=["a first load compiles or downloads: wait longer (timeout_s=)",
                                                       "the load hangs: check the server log (GET /api/v1/logs/tail)"])
            await asyncio.sleep(self.poll_interval_s)

    async def _likely_load_failure_causes(
        self, schema: PipelineSchema, params: dict[str, Any], status: PipelineStatus
    ) -> list[str]:
        """Explain a failed load from what the server can tell us (it sends no reason)."""
        causes: list[str] = []
        try:
            vram = (await self.hardware_info()).vram_gb
            models = await self.models_status(schema.id)
        except ScopeError as exc:
            return [f"could not ask the server for details: {exc}"]
        if schema.estimated_vram_gb is not None:
            if vram is None:
                causes.append("the server reports no CUDA GPU, and this pipeline needs one")
            elif schema.estimated_vram_gb > vram:
                fix = " or load with quantization='fp8_e4m3fn'" if schema.supports_quantization and not params.get("quantization") else ""
                causes.append(
                    f"out of GPU memory: {schema.id} needs about {schema.estimated_vram_gb:g} GB and the GPU "
                    f"has {vram:.1f} GB; use a larger GPU{fix}")
        if schema.requires_models and not models.downloaded:
            causes.append(f"its models are not downloaded: await client.download_models({schema.id!r})")
        if status.status == "not_loaded":
            causes.append("the load ended without 'loaded'; Scope reports 'error' only once, so "
                          "another client polling the same server (e.g. the web UI) may have read it")
        if not causes:
            causes.append("the pipeline raised while loading; the reason is in the server log (GET /api/v1/logs/tail)")
        return causes


def _parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """Validate a JSON answer into ``model``; a mismatch means it is not Scope's answer."""
    try:
        return model.model_validate(response.json())
    except ValidationError as exc:
        raise _unexpected_json(response, model.__name__, exc) from exc


def _parse_list(response: httpx.Response, key: str, model: type[ModelT]) -> list[ModelT]:
    body = response.json()
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise NotScopeError(
            f"{response.request.url} answered JSON without the {key!r} list Scope sends: "
            f"{str(body)[:120]!r}. Check that the URL points at a Scope server.",
            url=str(response.request.url),
            status_code=response.status_code,
        )
    try:
        return [model.model_validate(item) for item in items]
    except ValidationError as exc:
        raise _unexpected_json(response, model.__name__, exc) from exc


def _unexpected_json(response: httpx.Response, what: str, exc: ValidationError) -> NotScopeError:
    problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    return NotScopeError(
        f"{response.request.url} answered JSON that is not Scope's {what} ({problems}). "
        "Either this is not a Scope server or its version changed this response.",
        url=str(response.request.url),
        status_code=response.status_code,
    )
