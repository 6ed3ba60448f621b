"""Saving what the stream shows: snapshots, and one recorded clip at a time, with what was streamed.

The files and their folder are :mod:`lab.live.results`; this module keeps the clip being
recorded, feeds it the received frames and says what each save wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.live.loading import LoadedPipeline
from lab.live.results import ClipRecorder, ClipSummary, LiveResults
from lab.live.stats import LiveStats
from lab.live.streaming import LiveStream
from lab.overview import ServerOverview
from lab.rtc import ReceivedFrame

__all__ = ["StreamSaver", "stream_details"]


def stream_details(loaded: LoadedPipeline | None, stream: LiveStream | None) -> dict[str, Any]:
    """What is saved beside a snapshot or clip: the pipeline, its load parameters, the input and what was sent."""
    return {
        "pipeline_id": loaded.schema.id if loaded else None,
        "mode": loaded.mode if loaded else None,
        "load_params": loaded.load_params if loaded else None,
        "input": stream.choice if stream else None,
        "parameters": stream.tracker.sent if stream else {},
    }


class StreamSaver:
    """Snapshots and clips into ``results``; ``report(message)`` says what each save did."""

    def __init__(self, results: LiveResults, report: Callable[[str], None]) -> None:
        self.results = results
        self._report = report
        self._clip: ClipRecorder | None = None

    @classmethod
    def for_server(cls, root: Path | str, overview: ServerOverview, report: Callable[[str], None]) -> StreamSaver:
        """Save into a new folder under ``root`` whose manifest names the server (SIMULATED or not)."""
        return cls(LiveResults(root, {
            "source": overview.source_label, "simulated": overview.simulated, "url": overview.url,
            "server_version": overview.health.version, "server_git_commit": overview.health.git_commit,
            "vram_gb": overview.hardware.vram_gb}), report)

    @property
    def recording(self) -> bool:
        return self._clip is not None

    def add(self, frame: ReceivedFrame) -> None:
        """Add a received frame to the clip being recorded (none: nothing to do)."""
        if self._clip is not None:
            self._clip.add(frame.frame, frame.complete_ns)

    def snapshot(self, frame: ReceivedFrame | None, stats: LiveStats, chart_svg: str,
                 details: dict[str, Any]) -> Path:
        """Save ``frame``, the figures and the chart; returns the PNG's path."""
        if frame is None:
            raise RuntimeError("No frame has arrived yet: start a stream first.")
        path = self.results.snapshot(frame.frame, stats.figures(), stats.history, chart_svg, details)
        self._report(f"saved {path}")
        return path

    def start_clip(self) -> Path:
        """Record from the next frame on (already recording: go on); returns the clip's path."""
        if self._clip is None:
            self._clip = self.results.start_clip()
            self._report(f"recording to {self._clip.path}")
        return self._clip.path

    def finish_clip(self, details: dict[str, Any]) -> ClipSummary:
        """Finish the clip and write its figures beside it."""
        if self._clip is None:
            raise RuntimeError("Not recording.")
        clip, self._clip = self._clip, None
        summary = self.results.finish_clip(clip, details)
        self._report(f"saved {summary.path} ({summary.frames} frames, {summary.dropped} dropped)")
        return summary
