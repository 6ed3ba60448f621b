"""The pipeline load state machine behind ``/api/v1/pipeline/load`` and ``/pipeline/status``.

A load request is a chain of entries (node id, pipeline id, load params). Entries already
loaded with the same pipeline and params are reused; the others are loaded one after the
other in a background task that walks each pipeline's loading stages over its emulated load
time. A load fails, at the stage where real Scope would, when the pipeline is unknown, its
models are missing, the chain needs more VRAM than the GPU has, or a load fault is active.

Like Scope 0.2.4, ``error`` is reported once: the status read that returns it resets the
state to ``not_loaded``, and the ``error`` field stays null (unless a fault supplies text).
The reason goes to the log instead (:mod:`lab.sim.simlog`, served at ``/api/v1/logs/tail``),
as one ERROR line naming the pipeline and the exception a server would have caught: CUDA out
of memory, a missing model file, a failed download, or the fault's own text. The wording is
the simulator's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from lab.sim.downloads import ModelStore
from lab.sim.faults import DIFFUSION_STAGE, Fault, FaultBook
from lab.sim.profiles import PipelineProfile

__all__ = ["LoadEntry", "LoadStatus", "PipelineLoader", "QUANTIZED_VRAM_FACTOR"]

logger = logging.getLogger(__name__)

LoadStatus = Literal["not_loaded", "loading", "loaded", "error"]

QUANTIZED_VRAM_FACTOR = 0.6
"""Share of a pipeline's estimated VRAM it needs when loaded with fp8 quantization."""

# How long (at speed 1) a load takes to fail when it fails before any loading stage.
_FAIL_FAST_S = 0.05


@dataclass(frozen=True)
class LoadEntry:
    """One pipeline of a load request."""

    node_id: str
    pipeline_id: str
    load_params: dict[str, Any] | None = None

    def same_instance(self, other: LoadEntry) -> bool:
        """Whether ``other`` loads the same pipeline with the same params (node ids aside)."""
        return (self.pipeline_id, self.load_params or {}) == (
            other.pipeline_id,
            other.load_params or {},
        )


# What an unreachable host looks like from urllib on Linux (glibc's EAI_NONAME text).
OFFLINE_ERROR = "<urlopen error [Errno -2] Name or service not known>"


@dataclass(frozen=True)
class _Failure:
    stage: str | None  # the loading stage it happens in; None before any stage
    reason: str  # the exception as the log shows it: "Type: text"
    message: str | None = None


class PipelineLoader:
    """Loads emulated pipelines and reports their status the way Scope does.

    Parameters
    ----------
    profiles
        The registered pipelines by id.
    models
        Which pipelines have their model files.
    faults
        Active faults; each load uses up one load fault, if any.
    vram_gb
        Returns the emulated GPU's VRAM in GiB, or None without CUDA.
    speed
        Time-scale factor; emulated durations are divided by it.
    """

    def __init__(
        self,
        profiles: Mapping[str, PipelineProfile],
        models: ModelStore,
        faults: FaultBook,
        vram_gb: Callable[[], float | None],
        speed: float,
    ) -> None:
        self._profiles = profiles
        self._models = models
        self._faults = faults
        self._vram_gb = vram_gb
        self._speed = speed
        self._status: LoadStatus = "not_loaded"
        self._load_params: dict[str, Any] | None = None
        self._loaded: list[LoadEntry] = []
        self._stage: str | None = None
        self._error: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Every load request: {pipeline_ids, requested_s, ended_s, status} on the event loop's clock
        # (time.monotonic), the truth a cold-start timeline is held to.
        self.history: list[dict[str, Any]] = []

    def start(self, entries: list[LoadEntry]) -> None:
        """Begin loading ``entries`` (a non-empty chain), replacing any load in progress."""
        for task in self._tasks:
            task.cancel()
        fault = self._faults.take_load()
        self._load_params = entries[0].load_params
        self._error = None
        self._stage = None
        # Instances not in the new request are unloaded; matching ones are kept (and re-keyed).
        reusable = self._loaded if fault is None else []
        kept = [e for e in entries if any(e.same_instance(old) for old in reusable)]
        self._loaded = kept
        todo = [entry for entry in entries if entry not in kept]
        now = asyncio.get_running_loop().time()
        self.history.append({"pipeline_ids": [e.pipeline_id for e in entries], "requested_s": now,
                             "ended_s": None if todo else now, "status": "loading" if todo else "loaded"})
        if not todo:
            self._status = "loaded"
            return
        self._status = "loading"
        task = asyncio.create_task(self._load(entries, todo, fault))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def loaded_ids(self) -> list[str]:
        """The pipelines loaded now, in chain order (none while loading or after an error)."""
        return [entry.pipeline_id for entry in self._loaded] if self._status == "loaded" else []

    def status(self, *, consume_error: bool = True) -> dict[str, Any]:
        """The ``/pipeline/status`` body.

        Parameters
        ----------
        consume_error
            Reset an ``error`` status to ``not_loaded`` after reporting it, as Scope does.
            ``/sim/state`` passes False to look without changing anything.
        """
        loaded = self._status == "loaded"
        chain = [self._profiles[entry.pipeline_id] for entry in self._loaded] if loaded else []
        body = {
            "status": self._status,
            "pipeline_id": self._loaded[0].node_id if chain else None,
            "load_params": self._load_params,
            "loaded_lora_adapters": None,
            "error": self._error,
            "loading_stage": self._stage if self._status == "loading" else None,
            # Video unless the last pipeline declares none; audio if any pipeline makes some.
            "produces_video": chain[-1].produces_video if chain else True,
            "produces_audio": any(profile.produces_audio for profile in chain),
        }
        if consume_error and self._status == "error":
            self._status = "not_loaded"
            self._error = None
        return body

    async def settled(self) -> LoadStatus:
        """Wait until no load is in progress (a replacing load too); the status then, kept."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        return self._status

    async def aclose(self) -> None:
        """Cancel a load in progress and wait for it to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _load(
        self, entries: list[LoadEntry], todo: list[LoadEntry], fault: Fault | None
    ) -> None:
        vram_in_use = sum(self._vram_need(entry) for entry in self._loaded)
        for entry in todo:
            profile = self._profiles.get(entry.pipeline_id)
            if profile is None:
                await self._sleep(_FAIL_FAST_S)
                self._fail(entry, _Failure(None, f"KeyError: no pipeline is registered as {entry.pipeline_id!r}"))
                return
            vram_in_use += self._vram_need(entry)
            failure = self._failure(profile, vram_in_use, fault)
            fault = None  # a load fault fails the first pipeline that is loaded
            await self._walk_stages(profile, failure.stage if failure else None)
            if failure is not None:
                stages = profile.emulation.loading_stages
                self._fail(entry, failure if failure.stage in stages else replace(failure, stage=None))
                return
            self._loaded.append(entry)
        self._loaded = list(entries)
        self._stage = None
        self._status = "loaded"
        self._ended("loaded")
        logger.info("Loaded %s", [entry.pipeline_id for entry in entries])

    async def _walk_stages(self, profile: PipelineProfile, fail_at: str | None) -> None:
        """Spend the load time stage by stage, or stop at the end of stage ``fail_at``."""
        stages = profile.emulation.loading_stages
        if fail_at is not None and fail_at not in stages:
            await self._sleep(_FAIL_FAST_S)  # fails before reporting any stage
            return
        step_s = profile.emulation.load_s / max(len(stages), 1)
        for stage in stages or [None]:
            self._stage = stage
            await self._sleep(step_s)
            if fail_at is not None and stage == fail_at:
                return

    def _failure(
        self, profile: PipelineProfile, vram_need: float, fault: Fault | None
    ) -> _Failure | None:
        vram = self._vram_gb()
        if fault is not None:
            return _Failure(fault.stage, _fault_reason(fault, profile, vram), fault.message)
        if profile.requires_models and not self._models.is_downloaded(profile.id):
            return _Failure(DIFFUSION_STAGE, _missing_model(profile))
        if profile.emulation.cuda_only and vram is None:
            return _Failure(DIFFUSION_STAGE, "RuntimeError: no CUDA device is available to load it on")
        if vram is not None and vram_need > vram:
            return _Failure(DIFFUSION_STAGE, _out_of_memory(vram_need, vram))
        return None

    def _vram_need(self, entry: LoadEntry) -> float:
        profile = self._profiles.get(entry.pipeline_id)
        if profile is None:
            return 0.0
        quantized = (entry.load_params or {}).get("quantization") == "fp8_e4m3fn"
        factor = QUANTIZED_VRAM_FACTOR if quantized and profile.supports_quantization else 1.0
        return profile.vram_need_gb * factor

    def _fail(self, entry: LoadEntry, failure: _Failure) -> None:
        logger.error(
            "Pipeline %s could not be loaded%s: %s",
            entry.pipeline_id,
            f" ({failure.stage})" if failure.stage else "",
            failure.reason,
        )
        self._loaded = []
        self._stage = None
        self._error = failure.message
        self._status = "error"
        self._ended("error")

    def _ended(self, status: LoadStatus) -> None:
        self.history[-1] |= {"ended_s": asyncio.get_running_loop().time(), "status": status}

    async def _sleep(self, emulated_s: float) -> None:
        await asyncio.sleep(emulated_s / self._speed)


def _fault_reason(fault: Fault, profile: PipelineProfile, vram_gb: float | None) -> str:
    """The exception a load fault stands for, as the server's log would show it."""
    if fault.kind == "oom":
        return _out_of_memory(profile.vram_need_gb, vram_gb, tried=True)
    if fault.kind == "offline":
        return f"URLError: {OFFLINE_ERROR}"
    return f"RuntimeError: {fault.message or 'the pipeline raised while loading (injected load_error fault)'}"


def _out_of_memory(need_gb: float, vram_gb: float | None, *, tried: bool = False) -> str:
    total = f"{vram_gb:.2f} GiB" if vram_gb is not None else "unknown"
    what = "a further allocation" if tried else f"about {need_gb:.1f} GiB for the chain"
    return f"torch.OutOfMemoryError: CUDA out of memory: GPU 0 ({total} total) has no room for {what}"


def _missing_model(profile: PipelineProfile) -> str:
    artifact = profile.emulation.artifacts[0] if profile.emulation.artifacts else profile.id
    return (f"FileNotFoundError: model file missing: models/{artifact} (its models are not downloaded)")
