"""From a session's frames to one segment's figures.

:func:`analyse_window` takes the frames that arrived in a segment's window and gives the
result its figures: connection phases and warm-up on the first segment (the settle time on
a later one), arrivals (:mod:`lab.measure.arrivals`), stamped latency (:mod:`lab.measure.latency`)
when the input is stamped and the pipeline keeps the picture, step and control latency by
change detection (:mod:`lab.measure.change`), and the server's own output rate. What each
path's figures mean is in :mod:`lab.measure.paths`. :func:`quality_samples` picks what the
quality figures are scored on (:mod:`lab.quality`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lab.headless import HeadlessSession
from lab.measure.arrivals import analyze_arrivals
from lab.measure.change import TRUNCATED, ChangeDetection, detect_change, detect_freeze, detect_sequence
from lab.measure.latency import join_stamped, latency_figures, stamp_accounting
from lab.measure.paths import CREATED_STAGE, connection_notes, control_note, poll_figures, server_note
from lab.measure.recorder import Session, Window
from lab.measure.result import TrialResult
from lab.quality.samples import QualitySamples, prompt_text
from lab.sources import VideoSource
from lab.stats import Figure, percentile_figure

__all__ = ["KEEPS_PICTURE_SHARE", "analyse_window", "connection_figures", "quality_samples"]

# A pipeline keeps the picture (fidelity can be scored) when stamps are readable in at least
# this share of its output: generative video-to-video that lets a stamp through now and then
# (the simulator blends half the input into its frames) redraws the picture all the same.
KEEPS_PICTURE_SHARE = 0.5


def analyse_window(result: TrialResult, window: Window, session_frames: pd.DataFrame, session_thumbs: np.ndarray,
                   source: VideoSource | None, *, first: bool, session: Session | None = None) -> None:
    """Figures of one segment, from the frames that arrived in its window."""
    base = connection_figures(result, session) if first else [_settle_figure(window)]
    if session_frames.empty:
        result.frames = session_frames
        result.figures = base
        return
    times_all = session_frames["complete_ns"].to_numpy()
    in_window = (times_all >= window.start_ns) & (times_all < (window.end_ns or np.iinfo(np.int64).max))
    frames = session_frames[in_window].reset_index(drop=True)
    thumbs = session_thumbs[in_window]
    if frames.empty:
        result.frames = frames
        result.figures = base
        return
    frames["interval_ms"] = frames["complete_ns"].diff() / 1e6
    arrivals = analyze_arrivals(frames["complete_ns"].to_numpy())
    warmup_end = arrivals.warmup_end_index
    frames["phase"] = np.where(frames.index < (warmup_end if warmup_end is not None else len(frames)), "warmup", "steady")
    if not first:
        frames["phase"] = "steady"  # settled: the change detector saw the response before this window
    figures = base + (arrivals.figures() if first else _steady_arrival_figures(arrivals)) + _server_figures(result)
    if "stamp_id" in frames and source is not None:
        frames = join_stamped(frames, source.records)
        accounting = stamp_accounting(frames["stamp_id"])
        if accounting.readable:
            figures += latency_figures(frames[frames["phase"] == "steady"] if warmup_end is not None else frames)
            figures.append(Figure("inputs_unseen", float(accounting.unseen), "count", accounting.readable,
                                  note="ids sent but never read back, between the first and last id read: "
                                       "skipped by the server's chunk sampling or dropped from its full "
                                       "queues (normal for a pipeline slower than its input), or repainted "
                                       "past reading; not a loss"))
        else:
            figures.append(Figure("latency_p50", None, "ms", 0, warnings=(
                "no stamp was readable in the output: this pipeline redraws the picture; "
                "latency comes from the step test instead",)))
    times = frames["complete_ns"].to_numpy()
    if window.switches and len(thumbs):
        result.step_detections = detect_sequence(times, thumbs, window.switches)
        figures += _detection_figures("step_latency", result.step_detections)
    if window.controls and len(thumbs):
        for sent_ns, control in window.controls:
            detector = detect_freeze if control.expect == "freeze" else detect_change
            result.control_detections.append(detector(times, thumbs, sent_ns))
        figures += [replace(f, note=control_note(result.via))
                    for f in _detection_figures("control_latency", result.control_detections)]
    result.frames = frames
    result.figures = figures


def connection_figures(result: TrialResult, session: Session | None = None) -> list[Figure]:
    """The load time and the connection phases (with the poll counts of a polling session)."""
    timeline = result.timeline
    load = result.load
    notes = connection_notes(result.via)
    polls = session.polls if isinstance(session, HeadlessSession) else None
    resolution = f"resolution {load.poll_interval_s:g} s (status polling)" if load else None
    created = [stage.first_seen_s for stage in (load.stages if load else ()) if stage.stage == CREATED_STAGE]
    return [
        Figure("load_s", load.load_s if load else None, "s", 1,
               note="; ".join(n for n in (notes.get("load_s"), resolution) if n) or None),
        *([Figure("create_s", created[0] if created else None, "s", 1, note=notes["create_s"])]
          if "create_s" in notes else []),
        Figure("signalling_s", timeline.signalling_s, "s", 1, note=notes["signalling_s"]),
        Figure("connect_s", timeline.connect_s, "s", 1, note=notes["connect_s"]),
        Figure("first_frame_s", timeline.first_frame_s, "s", 1, note=notes["first_frame_s"]),
        Figure("ttff_s", timeline.ttff_s, "s", 1, note=notes["ttff_s"]),
    ] + ([] if polls is None else poll_figures(result.via, result.spec.poll_hz, polls.polls, polls.empty,
                                               polls.new_frames))


def quality_samples(results: Sequence[TrialResult], k: int, window: Window, read_stamps: bool) -> QualitySamples | None:
    """What segment ``k`` kept for its quality figures, from its first steady frame on."""
    result = results[k]
    pairs, frames = window.pairs, result.frames
    if pairs is None or frames.empty:
        return None
    steady = frames["complete_ns"][frames["phase"] == "steady"]
    parameters: dict[str, Any] = dict(result.spec.parameters)
    for earlier in results[: k + 1]:
        parameters.update(earlier.segment.parameters)
    return pairs.samples(frames["complete_ns"].to_numpy(), frames["luma_change"].to_numpy(),
                         steady_from_ns=int(steady.iloc[0]) if len(steady) else pairs.start_ns,
                         prompt=prompt_text(parameters), no_pairing=_no_pairing(result, read_stamps))


def _no_pairing(result: TrialResult, read_stamps: bool) -> str | None:
    """Why output frames cannot be paired with the input they answer (None if they can)."""
    spec, frames = result.spec, result.frames
    if spec.mode == "text":
        return "text-to-video: no input"
    if spec.via != "webrtc":
        return "headless: the input plays on the server, so output frames cannot be paired with it"
    if not read_stamps:
        return "the input is not stamped: output frames cannot be paired with the input they answer"
    readable = int(frames["stamp_id"].notna().sum()) if "stamp_id" in frames else 0
    if readable < KEEPS_PICTURE_SHARE * len(frames):
        return (f"the pipeline does not keep the picture: a stamp was readable in {readable} of its "
                f"{len(frames)} output frames")
    return None


def _steady_arrival_figures(arrivals: Any) -> list[Figure]:
    """A settled segment has no warm-up of its own: its whole window counts as steady."""
    return [f for f in arrivals.figures() if f.name != "warmup_s"]


def _settle_figure(window: Window) -> Figure:
    settle = window.settle
    if settle is None or window.sent_ns is None:
        return Figure("settle_s", None, "s", 0)
    if settle.latency_s is None:
        return Figure("settle_s", None, "s", 1, warnings=(
            f"the output showed no visible response to the new settings ({settle.reason}); "
            "measured from the settle timeout on",))
    return Figure("settle_s", settle.latency_s, "s", 1, note="update sent to the output's detected response")


def _server_figures(result: TrialResult) -> list[Figure]:
    """The server's own output rate (its /session/metrics average since the stream started)."""
    rates = [s["fps_out"] for s in result.server_samples if isinstance(s.get("fps_out"), (int, float))]
    return [Figure("server_fps_out", float(rates[-1]) if rates else None, "fps", len(rates),
                   note=server_note(result.via))]


def _detection_figures(name: str, detections: list[ChangeDetection]) -> list[Figure]:
    """Latency percentiles of the detected responses; stimuli cut off by the trial's end are left out."""
    detections = [d for d in detections if d.reason != TRUNCATED]
    latencies_ms = [d.latency_s * 1e3 for d in detections if d.latency_s is not None]
    missed = len(detections) - len(latencies_ms)
    figures = [percentile_figure(f"{name}_p50", latencies_ms, 50, "ms"),
               percentile_figure(f"{name}_p95", latencies_ms, 95, "ms")]
    if missed:
        figures = [f.with_warning(f"{missed} of {len(detections)} stimuli showed no detectable change") for f in figures]
    return figures
