"""Loading a pipeline with progress: what the picker offers, and one load at a time with its status.

A load goes ``idle`` → (``downloading`` when the models are missing) → ``loading``
(Scope's loading stages, as a fraction of its five known stages) → ``loaded`` or
``failed`` (with the client's explanation). A second load while one runs is refused.
Scope 0.2.4 has no unload endpoint: loading another pipeline unloads the previous one
(that is the *switch*). The load parameters are the ones Scope's frontend sends
(:func:`lab.protocol.frontend_load_params`).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.client import DownloadProgressEvent, LoadProgress, LoadResult, ScopeClient
from lab.errors import LabError
from lab.models import PipelineSchema
from lab.overview import ServerOverview
from lab.protocol import frontend_load_params

__all__ = ["PipelineLoader", "LoadPlan", "LoadState", "LoadStatus", "PipelineChoice", "LoadedPipeline",
           "LOADING_STAGES"]

# The loading stages Scope 0.2.4 reports, in order. They only place
# the progress bar; an unknown stage (a newer Scope) leaves it where it was.
LOADING_STAGES = ("Initializing pipeline...", "Loading diffusion model...", "Loading text encoder...",
                  "Loading VAE...", "Warming up model...")


class LoadState(enum.Enum):
    """Where the pipeline load is."""

    IDLE = "idle"
    DOWNLOADING = "downloading models"
    LOADING = "loading"
    LOADED = "loaded"
    FAILED = "failed"


@dataclass(frozen=True)
class LoadStatus:
    """What the panel shows about the load: state, stage, progress (0-1) and a sentence."""

    state: LoadState = LoadState.IDLE
    pipeline_id: str | None = None
    stage: str | None = None
    progress: float = 0.0
    elapsed_s: float = 0.0
    message: str = "no pipeline loaded by this panel"


@dataclass(frozen=True)
class PipelineChoice:
    """One pipeline as the picker offers it, with what matters for choosing it."""

    schema: PipelineSchema
    vram_gb: float | None

    @property
    def id(self) -> str:
        return self.schema.id

    @property
    def fits(self) -> bool | None:
        """Whether its VRAM estimate fits this server's GPU (None when either is unknown)."""
        return self.schema.fits_vram(self.vram_gb)

    @property
    def label(self) -> str:
        """``longlive · VACE · ~20 GB · fits``: id, role, VACE, VRAM estimate, fit."""
        parts = [self.schema.id]
        if self.schema.usage:
            parts.append("/".join(self.schema.usage))
        if self.schema.supports_vace:
            parts.append("VACE")
        if self.schema.estimated_vram_gb is not None:
            parts.append(f"~{self.schema.estimated_vram_gb:g} GB")
            parts.append({True: "fits", False: "DOES NOT FIT", None: "GPU unknown"}[self.fits])
        return " · ".join(parts)


@dataclass(frozen=True)
class LoadPlan:
    """A load that was checked and may start: the pipeline, its mode and the load parameters."""

    schema: PipelineSchema
    mode: str
    params: dict[str, Any]


@dataclass(frozen=True)
class LoadedPipeline:
    """The pipeline this controller loaded: schema, mode, load parameters, load result."""

    schema: PipelineSchema
    mode: str
    load_params: dict[str, Any]
    result: LoadResult

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the stream (from the load parameters)."""
        return int(self.load_params["width"]), int(self.load_params["height"])


class PipelineLoader:
    """Loads one pipeline at a time on a server and reports every step of it.

    ``report(message)`` is called after every change of :attr:`status`.
    """

    def __init__(self, client: ScopeClient, overview: ServerOverview, report: Callable[[str], None]) -> None:
        self.client = client
        self.overview = overview
        self.status = LoadStatus()
        self.loaded: LoadedPipeline | None = None
        self._report = report
        self._started = 0.0

    @property
    def choices(self) -> list[PipelineChoice]:
        """Every pipeline the server offers, in its order, for the picker."""
        vram = self.overview.hardware.vram_gb
        return [PipelineChoice(schema, vram) for schema in self.overview.schemas.pipelines.values()]

    def schema(self, pipeline_id: str) -> PipelineSchema:
        """A pipeline's schema as read at connect time (KeyError names the known ids)."""
        try:
            return self.overview.schemas.pipelines[pipeline_id]
        except KeyError:
            raise KeyError(f"{pipeline_id!r} is not offered by {self.overview.url}; it offers "
                           f"{', '.join(self.overview.schemas.ids)}") from None

    def plan(self, pipeline_id: str, mode: str | None, *, vace_enabled: bool) -> LoadPlan:
        """Check a load before anything stops: RuntimeError while another load runs, KeyError
        for an unknown pipeline, ValueError for a mode it does not support (None: its default)."""
        if self.status.state in (LoadState.DOWNLOADING, LoadState.LOADING):
            raise RuntimeError(f"{self.status.pipeline_id} is still loading; wait for it to finish.")
        schema = self.schema(pipeline_id)
        mode = mode or schema.default_mode or schema.supported_modes[0]
        if mode not in schema.supported_modes:
            raise ValueError(f"{pipeline_id} supports {', '.join(schema.supported_modes)} mode, not {mode!r}.")
        return LoadPlan(schema, mode, frontend_load_params(schema, mode, vace_enabled=vace_enabled))

    async def run(self, plan: LoadPlan) -> LoadResult:
        """Download the models if missing, then load; the status says ``failed`` before an error is raised."""
        pipeline_id, mode, params = plan.schema.id, plan.mode, plan.params
        self._started = time.perf_counter()
        loading = f"loading {pipeline_id} ({mode} mode)"
        self._set(LoadState.LOADING, pipeline_id, None, 0.0, loading)
        try:
            if plan.schema.requires_models and not (await self.client.models_status(pipeline_id)).downloaded:
                self._set(LoadState.DOWNLOADING, pipeline_id, None, 0.0, f"downloading models of {pipeline_id}")
                await self.client.download_models(pipeline_id, on_progress=self._on_download_progress)
                self.overview.models[pipeline_id] = await self.client.models_status(pipeline_id)
                self._set(LoadState.LOADING, pipeline_id, None, 0.0, loading)
            result = await self.client.load_pipeline(pipeline_id, params, on_progress=self._on_load_progress)
        except LabError as exc:
            self._set(LoadState.FAILED, pipeline_id, self.status.stage, self.status.progress,
                      f"loading {pipeline_id} failed: {exc}")
            raise
        except asyncio.CancelledError:
            self._set(LoadState.IDLE, None, None, 0.0, f"stopped waiting for {pipeline_id} to load")
            raise
        self.loaded = LoadedPipeline(plan.schema, mode, params, result)
        self._set(LoadState.LOADED, pipeline_id, None, 1.0,
                  f"{pipeline_id} loaded in {result.load_s:.1f} s ({mode} mode, "
                  f"{params['width']}x{params['height']}) [{self.overview.source_label}]")
        return result

    def require_loaded(self) -> LoadedPipeline:
        """The loaded pipeline, or RuntimeError when none is (or the last load did not finish)."""
        if self.loaded is None or self.status.state is not LoadState.LOADED:
            raise RuntimeError("No pipeline is loaded by this panel: load one first.")
        return self.loaded

    def _set(self, state: LoadState, pipeline_id: str | None, stage: str | None, progress: float,
             message: str) -> None:
        elapsed = time.perf_counter() - self._started if self._started else 0.0
        self.status = LoadStatus(state, pipeline_id, stage, progress, elapsed, message)
        self._report(message)

    def _on_load_progress(self, progress: LoadProgress) -> None:
        stage = progress.stage
        fraction = self.status.progress
        if stage in LOADING_STAGES:
            fraction = (LOADING_STAGES.index(stage) + 1) / (len(LOADING_STAGES) + 1)
        text = f"loading {progress.pipeline_id}: {stage or progress.status} ({progress.elapsed_s:.1f} s)"
        self._set(LoadState.LOADING, progress.pipeline_id, stage, fraction, text)

    def _on_download_progress(self, event: DownloadProgressEvent) -> None:
        percent = event.percentage or 0.0
        text = f"downloading models of {event.pipeline_id}: {event.artifact or '...'} {percent:.0f} %"
        self._set(LoadState.DOWNLOADING, event.pipeline_id, event.artifact, percent / 100, text)
