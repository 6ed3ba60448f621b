"""What the live panel saves: snapshots and clips of the output, with the figures beside them.

One folder per panel, ``results/live/<run-id>/`` (the run id as in :mod:`lab.store`: UTC
time and a short random tail), created at the first save::

    manifest.json          server (URL, version, SIMULATED or not), lab version, created_at
    snapshot-001.png       the output frame at full size (PNG text field "source" = label)
    snapshot-001.json      the rolling figures then, pipeline, load and stream parameters
    snapshot-001.svg       the rolling chart then
    snapshot-001.csv       the figures history behind the chart (about the last minute)
    clip-001.mp4           recorded output (H.264, frame times = arrival times)
    clip-001.csv           each recorded frame's arrival time and interval
    clip-001.json          clip summary (frames, dropped, duration, fps) and parameters

Every JSON file carries ``source`` ("SIMULATED" for the simulator, else "Scope <version>")
and ``simulated``; every CSV has a ``source`` column. Nothing is overwritten: numbers count
up within the folder, and a new panel gets a new folder.

Recording encodes in a worker thread (:class:`ClipRecorder`): the receive loop only
queues the decoded frame. If the encoder falls more than ``CLIP_QUEUE_FRAMES`` behind,
frames are dropped from the clip and counted, never from the stream.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pandas as pd
from PIL.PngImagePlugin import PngInfo

from lab.versions import LAB_VERSION
from lab.live.stats import LiveFigures
from lab.store import RESULTS_DIR, new_run_id

__all__ = ["LiveResults", "ClipRecorder", "ClipSummary", "LIVE_RESULTS_DIR", "CLIP_QUEUE_FRAMES"]

log = logging.getLogger(__name__)

LIVE_RESULTS_DIR = RESULTS_DIR / "live"
CLIP_QUEUE_FRAMES = 120
_CLIP_TIME_BASE = Fraction(1, 1000)  # clip timestamps in ms of arrival time


@dataclass(frozen=True)
class ClipSummary:
    """A finished clip: where it is, how many frames it holds and lost, and its span."""

    path: Path
    frames: int
    dropped: int
    duration_s: float

    @property
    def fps(self) -> float | None:
        """Average frame rate of the clip (None for fewer than two frames)."""
        return (self.frames - 1) / self.duration_s if self.frames > 1 and self.duration_s > 0 else None


class ClipRecorder:
    """Writes output frames to an H.264 MP4 in a worker thread.

    Each frame's pts is its arrival time (ms since the first recorded frame), so the clip
    plays back with the stream's own timing, stalls and bursts included.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self.dropped = 0
        self.arrivals_ns: list[int] = []
        self._queue: queue.Queue[tuple[av.VideoFrame, int] | None] = queue.Queue(CLIP_QUEUE_FRAMES)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._write, name="lab-live-clip", daemon=True)
        self._thread.start()

    def add(self, frame: av.VideoFrame, complete_ns: int) -> None:
        """Queue a frame for the clip (called from the receive loop; never blocks)."""
        try:
            self._queue.put_nowait((frame, complete_ns))
        except queue.Full:
            self.dropped += 1

    def close(self) -> ClipSummary:
        """Finish the file and return what it holds; raises what the writer raised."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        span = (self.arrivals_ns[-1] - self.arrivals_ns[0]) / 1e9 if self.arrivals_ns else 0.0
        return ClipSummary(self.path, self.frames, self.dropped, span)

    def _write(self) -> None:
        container: Any = None
        stream: Any = None
        last_pts = -1
        try:
            while (item := self._queue.get()) is not None:
                frame, complete_ns = item
                if container is None:
                    container = av.open(str(self.path), "w")
                    stream = container.add_stream("libx264", rate=30, options={"preset": "veryfast", "crf": "23"})
                    stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                    stream.codec_context.time_base = _CLIP_TIME_BASE
                picture = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
                first_ns = self.arrivals_ns[0] if self.arrivals_ns else complete_ns
                last_pts = max((complete_ns - first_ns) // 1_000_000, last_pts + 1)
                picture.pts, picture.time_base = last_pts, _CLIP_TIME_BASE
                container.mux(stream.encode(picture))
                self.arrivals_ns.append(complete_ns)
                self.frames += 1
            if container is not None:
                container.mux(stream.encode(None))
        except Exception as exc:  # noqa: BLE001  (kept for close(): the thread must not die silently)
            self._error = exc
            while self._queue.get() is not None:  # let close() finish
                pass
        finally:
            if container is not None:
                container.close()


class LiveResults:
    """The panel's results folder; nothing is written until the first save.

    Parameters
    ----------
    root:
        Where run folders go (``results/live`` by default, relative to the working directory).
    context:
        What every file carries: at least ``source`` (label) and ``simulated``; also the
        server's URL and version. Written to ``manifest.json``.
    """

    def __init__(self, root: Path | str, context: Mapping[str, Any]) -> None:
        self.root = Path(root)
        self.context = dict(context)
        self._folder: Path | None = None
        self._counts: dict[str, int] = {}

    @property
    def folder(self) -> Path:
        """The run folder, created (with its manifest) on first use."""
        if self._folder is None:
            folder = self.root / new_run_id()
            folder.mkdir(parents=True)
            manifest = {"kind": "live", "created_at": _utc_now(), "lab_version": LAB_VERSION, **self.context}
            _write_json(folder / "manifest.json", manifest)
            self._folder = folder
        return self._folder

    def _next(self, kind: str) -> Path:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self.folder / f"{kind}-{self._counts[kind]:03d}"

    def snapshot(self, frame: av.VideoFrame, figures: LiveFigures, history: Iterable[LiveFigures],
                 chart_svg: str, details: Mapping[str, Any]) -> Path:
        """Save the frame (PNG), the figures (JSON), the chart (SVG) and its data (CSV); return the PNG."""
        stem = self._next("snapshot")
        info = PngInfo()
        info.add_text("source", str(self.context["source"]))
        frame.to_image().save(stem.with_suffix(".png"), pnginfo=info)
        _write_json(stem.with_suffix(".json"), {**self._labels(), "saved_at": _utc_now(),
                                                "figures": figures.as_dict(), **details})
        stem.with_suffix(".svg").write_text(chart_svg)
        self._table([f.as_dict() for f in history]).to_csv(stem.with_suffix(".csv"), index=False)
        return stem.with_suffix(".png")

    def start_clip(self) -> ClipRecorder:
        """Start recording into the next ``clip-NNN.mp4``."""
        return ClipRecorder(self._next("clip").with_suffix(".mp4"))

    def finish_clip(self, recorder: ClipRecorder, details: Mapping[str, Any]) -> ClipSummary:
        """Close the clip and write its frame times (CSV) and summary (JSON) beside it."""
        summary = recorder.close()
        arrivals = pd.Series(recorder.arrivals_ns, dtype="int64")
        table = self._table({"complete_ns": arrivals,
                             "t_s": (arrivals - (arrivals.iloc[0] if len(arrivals) else 0)) / 1e9,
                             "interval_ms": arrivals.diff() / 1e6})
        table.to_csv(summary.path.with_suffix(".csv"), index=False)
        _write_json(summary.path.with_suffix(".json"), {
            **self._labels(), "saved_at": _utc_now(), "file": summary.path.name, "frames": summary.frames,
            "dropped": summary.dropped, "duration_s": summary.duration_s, "fps": summary.fps, **details})
        return summary

    def _labels(self) -> dict[str, Any]:
        return {"source": self.context["source"], "simulated": self.context["simulated"]}

    def _table(self, data: Any) -> pd.DataFrame:
        table = pd.DataFrame(data)
        table["source"] = self.context["source"]
        return table


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, default=str) + "\n")
