"""Model files per pipeline: which are downloaded, and emulated downloads with progress.

Behind ``GET /api/v1/models/status`` and ``POST /api/v1/models/download``. A download's
progress is computed from the time elapsed, so reads are cheap and always consistent.
Every download since the last reset is kept in ``history`` (start and end on the event
loop's clock, ``time.monotonic``): the truth a cold-start timeline is held to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.sim.profiles import PipelineProfile

__all__ = ["DownloadInProgressError", "ModelStore"]

logger = logging.getLogger(__name__)


class DownloadInProgressError(RuntimeError):
    """A download of this pipeline's models is already running."""


@dataclass
class _Download:
    artifacts: list[str]
    started_at: float  # event-loop time
    duration_s: float  # wall-clock seconds, already scaled by speed
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def progress(self, now: float) -> dict[str, Any]:
        fraction = min((now - self.started_at) / self.duration_s, 1.0) if self.duration_s else 1.0
        parts = max(len(self.artifacts), 1)
        index = min(int(fraction * parts), parts - 1)
        # Scope reports the percentage of the artifact being downloaded, not of the whole.
        percentage = round((fraction * parts - index) * 100, 1)
        current = self.artifacts[index] if self.artifacts else None
        return {"is_downloading": True, "percentage": percentage, "current_artifact": current}


class ModelStore:
    """Downloaded flags and running downloads for every registered pipeline.

    Parameters
    ----------
    profiles
        The registered pipelines by id.
    present
        Whether pipelines that need model files start with them downloaded.
    mb_per_s
        Emulated download speed in MB/s.
    speed
        Time-scale factor; emulated durations are divided by it.
    """

    def __init__(
        self,
        profiles: Mapping[str, PipelineProfile],
        *,
        present: bool,
        mb_per_s: float,
        speed: float,
    ) -> None:
        self._profiles = profiles
        self._downloaded = {pid: present or not p.requires_models for pid, p in profiles.items()}
        self._jobs: dict[str, _Download] = {}
        self._mb_per_s = mb_per_s
        self._speed = speed
        self.history: list[dict[str, Any]] = []  # {pipeline_id, started_s, finished_s}, in start order

    def is_downloaded(self, pipeline_id: str) -> bool:
        """Whether the pipeline's models are on disk; raises KeyError for an unknown id."""
        return self._downloaded[pipeline_id]

    def set_downloaded(self, changes: Mapping[str, bool]) -> None:
        """Mark pipelines' models present (True) or missing (False); all or nothing.

        A running download of a changed pipeline is cancelled.

        Raises
        ------
        KeyError
            If a pipeline is not registered.
        ValueError
            If asked to remove models from a pipeline that declares none.
        """
        unknown = [pid for pid in changes if pid not in self._profiles]
        if unknown:
            raise KeyError(f"Unknown pipelines: {unknown}")
        modelless = [
            pid for pid, on in changes.items() if not on and not self._profiles[pid].requires_models
        ]
        if modelless:
            raise ValueError(f"{modelless} declare no model files, so they cannot be missing")
        for pipeline_id, downloaded in changes.items():
            job = self._jobs.pop(pipeline_id, None)
            if job is not None and job.task is not None:
                job.task.cancel()
            self._downloaded[pipeline_id] = downloaded

    def status(self, pipeline_id: str) -> dict[str, Any]:
        """The ``/models/status`` body; raises KeyError for an unknown id."""
        downloaded = self._downloaded[pipeline_id]
        job = self._jobs.get(pipeline_id)
        if job is None:
            return {"downloaded": downloaded, "progress": None}
        now = asyncio.get_running_loop().time()
        return {"downloaded": False, "progress": job.progress(now)}

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every pipeline's status, by id."""
        return {pipeline_id: self.status(pipeline_id) for pipeline_id in self._downloaded}

    def start_download(self, pipeline_id: str) -> None:
        """Start downloading the pipeline's models in the background.

        Raises
        ------
        KeyError
            If the pipeline is not registered.
        DownloadInProgressError
            If a download of the same pipeline is running.
        """
        profile = self._profiles[pipeline_id]
        if pipeline_id in self._jobs:
            raise DownloadInProgressError(f"A download for {pipeline_id} is already in progress")
        # Files already on disk are only checked, which takes no noticeable time.
        size_gb = 0.0 if self._downloaded[pipeline_id] else profile.emulation.model_download_gb
        size_mb = size_gb * 1024
        job = _Download(
            artifacts=list(profile.emulation.artifacts),
            started_at=asyncio.get_running_loop().time(),
            duration_s=size_mb / self._mb_per_s / self._speed,
        )
        self._downloaded[pipeline_id] = False
        self._jobs[pipeline_id] = job
        self.history.append({"pipeline_id": pipeline_id, "started_s": job.started_at, "finished_s": None})
        job.task = asyncio.create_task(self._finish(pipeline_id, job, self.history[-1]))
        logger.info("Downloading models of %s (%.0f MB, %.2f s)", pipeline_id, size_mb,
                    job.duration_s)

    async def aclose(self) -> None:
        """Cancel running downloads and wait for them to end."""
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        self._jobs.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(self, pipeline_id: str, job: _Download, record: dict[str, Any]) -> None:
        await asyncio.sleep(job.duration_s)
        if self._jobs.get(pipeline_id) is job:
            del self._jobs[pipeline_id]
            self._downloaded[pipeline_id] = True
            record["finished_s"] = asyncio.get_running_loop().time()
            logger.info("Models of %s downloaded", pipeline_id)
