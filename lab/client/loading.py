"""Model downloads and pipeline loads, each polled until the server reports it done.

:class:`ScopeClient` is the endpoints (:class:`~lab.client.endpoints.ScopeEndpoints`) plus
these two. A load checks the id, the parameters against the server's schema and the models
before sending, times the load from the request to the first poll that shows it loaded (on
one monotonic clock), and explains a failure: the server sends no reason, so the likely
causes come from what it can tell (VRAM, models) and from its log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.client.endpoints import ScopeEndpoints
from lab.errors import (
    DownloadError,
    InvalidParametersError,
    ModelsNotDownloadedError,
    PipelineLoadError,
    ScopeError,
    ServerError,
)
from lab.models import PipelineSchema, PipelineStatus
from lab.params import load_param_problems

__all__ = ["ScopeClient", "LoadResult", "LoadProgress", "StageTiming", "DownloadResult", "DownloadProgressEvent"]

DEFAULT_LOAD_TIMEOUT_S = 900.0
DEFAULT_DOWNLOAD_TIMEOUT_S = 3600.0


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


class ScopeClient(ScopeEndpoints):
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

    Use it as an async context manager, or call :meth:`aclose` when done. Its methods
    build up in three classes: the connection (:class:`~lab.client.connection.ScopeConnection`),
    one method per operation (:class:`~lab.client.endpoints.ScopeEndpoints`) and, here, the
    operations that poll until done: model downloads and pipeline loads.
    """

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
