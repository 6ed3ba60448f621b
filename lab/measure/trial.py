"""One trial: load a pipeline, stream through it, and measure what came back.

A trial is the unit every figure in the research log comes from. It loads the pipeline
(timed), opens a WebRTC session with an input source (or none, for text-to-video),
streams for a duration while firing scheduled parameter changes, samples what the server
reports, and then analyses the per-frame record:

- connection phases (:class:`lab.rtc.SessionTimeline`): signalling, connected, first frame;
- arrivals (:mod:`lab.measure.arrivals`): warm-up, steady fps, intervals, stalls, bursts;
- stamped latency (:mod:`lab.measure.latency`) when the input is stamped and the pipeline
  keeps the picture; step latency (input scene switches) and control latency (parameter
  changes, ``paused``) by change detection (:mod:`lab.measure.change`).

A failure mid-trial (stream stopped, stalled, server error) does not lose the frames
already received: the result keeps them and carries the error with its phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from lab.client import LoadResult, ScopeClient
from lab.errors import LabError
from lab.measure.arrivals import analyze_arrivals
from lab.measure.change import DEFAULT_WINDOW_S, TRUNCATED, ChangeDetection, detect_change, detect_freeze, detect_sequence, thumbnail
from lab.measure.latency import join_stamped, latency_figures, stamp_accounting
from lab.measure.stamp import decode_stamp
from lab.measure.stats import Figure, percentile_figure
from lab.models import PipelineSchema
from lab.rtc import InputMode, ReceivedFrame, RtcSession, SessionTimeline
from lab.sources import StepSource, VideoSource, make_source

__all__ = ["ControlChange", "TrialSpec", "TrialResult", "run_trial"]

log = logging.getLogger(__name__)

SourceChoice = Literal["auto", "pattern", "stamped", "step", "file", "image"]
FIRST_FRAME_TIMEOUT_S = 30.0
STEP_POLL_S = 0.25
SERVER_SAMPLE_S = 1.0


@dataclass(frozen=True)
class ControlChange:
    """A parameter update sent ``at_s`` seconds after the first output frame.

    ``expect`` says what it should do to the output: ``"change"`` (prompt, noise, ...),
    measured as the first jump in the picture, or ``"freeze"`` (``paused``), measured as
    the last new frame.
    """

    at_s: float
    parameters: dict[str, Any]
    expect: Literal["change", "freeze"] = "change"


@dataclass(frozen=True)
class TrialSpec:
    """What to measure. Defaults come from the server where it can tell (resolution).

    ``source="auto"`` picks a stamped source for frame-preserving pipelines (exact
    latency) and a step source for generative video-to-video (step latency). A step
    source first switches scene ``step_start_s`` after the first output frame (warm-up is
    then over); each later switch waits until the previous one's response was seen (or
    ``step_timeout_s`` passed) and then ``step_every_s`` more, so responses never overlap
    however long the pipeline's latency is.
    Unless ``load_params`` set them, height and width are the schema's defaults for
    ``mode``, sent explicitly as Scope's own frontend does.
    """

    pipeline_id: str
    mode: InputMode = "video"
    source: SourceChoice = "auto"
    source_options: dict[str, Any] = field(default_factory=dict)
    fps: float = 15.0
    resolution: tuple[int, int] | None = None
    duration_s: float = 10.0
    load_params: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    step_every_s: float = 2.0
    step_start_s: float = 3.0
    step_timeout_s: float = 10.0
    controls: tuple[ControlChange, ...] = ()
    stall_timeout_s: float = 5.0
    download_missing: bool = False


@dataclass
class TrialResult:
    """Everything one trial measured. ``frames`` has one row per received frame."""

    spec: TrialSpec
    url: str
    simulated: bool
    server_version: str | None
    started_at: float
    load: LoadResult | None = None
    timeline: SessionTimeline = field(default_factory=SessionTimeline)
    frames: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: list[Figure] = field(default_factory=list)
    step_detections: list[ChangeDetection] = field(default_factory=list)
    control_detections: list[ChangeDetection] = field(default_factory=list)
    server_samples: list[dict[str, Any]] = field(default_factory=list)
    server_state: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None

    def figure(self, name: str) -> Figure:
        """The figure called ``name`` (KeyError if this trial did not produce it)."""
        for figure in self.figures:
            if figure.name == name:
                return figure
        raise KeyError(f"no figure {name!r}; this trial has {', '.join(f.name for f in self.figures)}")

    def summary(self) -> pd.DataFrame:
        """Figures as a table (value, unit, n, CI, warnings), labelled SIMULATED when so."""
        table = pd.DataFrame([f.as_dict() for f in self.figures])
        table["warnings"] = table["warnings"].map("; ".join)
        table["source"] = "SIMULATED" if self.simulated else f"Scope {self.server_version}"
        return table


class _FrameRecorder:
    """Per-frame extras computed in the receive loop: stamp id and thumbnail."""

    def __init__(self, read_stamps: bool) -> None:
        self.read_stamps = read_stamps
        self.stamp_ids: list[int | None] = []
        self.thumbs: list[np.ndarray] = []

    def __call__(self, frame: ReceivedFrame) -> None:
        if self.read_stamps:
            self.stamp_ids.append(decode_stamp(frame.frame).frame_id)
        self.thumbs.append(thumbnail(frame.frame))


async def run_trial(client: ScopeClient, spec: TrialSpec, *,
                    on_event: Callable[[str], None] | None = None) -> TrialResult:
    """Run one trial on an open client and return its result (errors are kept in it).

    Examples
    --------
    >>> result = await run_trial(client, TrialSpec("passthrough", duration_s=5))   # doctest: +SKIP
    >>> result.figure("latency_p50")
    """
    say = on_event or (lambda text: log.info("%s", text))
    health = await client.health()
    result = TrialResult(spec, client.url, health.is_simulator, health.version, time.time())
    schema = await client.pipeline_schema(spec.pipeline_id)
    say(f"loading {spec.pipeline_id}")
    result.load = await client.load_pipeline(spec.pipeline_id, _load_params(spec, schema),
                                             download_missing=spec.download_missing)
    result.server_state = await _server_state(client)
    source = _make_source(spec, schema) if spec.mode == "video" else None
    recorder = _FrameRecorder(read_stamps=bool(source is not None and _is_stamped(spec)))
    session: RtcSession | None = None
    phase = "connect"
    try:
        session = await RtcSession.open(client, [spec.pipeline_id], source=source, mode=spec.mode,
                                        parameters=spec.parameters)
        result.timeline = session.timeline
        session.on_frame(recorder)
        phase = "stream"
        say(f"streaming {spec.duration_s:g} s")
        await _stream(session, client, spec, result, source, recorder)
    except LabError as exc:
        result.error = {"class": type(exc).__name__, "phase": phase, "message": str(exc)}
        say(f"{phase} failed: {type(exc).__name__}")
    finally:
        if session is not None:
            await session.close()
        if source is not None:
            source.stop()
    if session is not None:
        _analyse(result, session, source, recorder)
    return result


def _resolution(spec: TrialSpec, schema: PipelineSchema) -> tuple[int, int]:
    """(height, width): the spec's, else the load params', else the schema's for the mode."""
    if spec.resolution:
        return spec.resolution
    if "height" in spec.load_params and "width" in spec.load_params:
        return int(spec.load_params["height"]), int(spec.load_params["width"])
    return schema.resolution(spec.mode) or (512, 512)


def _load_params(spec: TrialSpec, schema: PipelineSchema) -> dict[str, Any]:
    if "height" not in schema.properties:
        return dict(spec.load_params)
    height, width = _resolution(spec, schema)
    return {"height": height, "width": width, **spec.load_params}


def _make_source(spec: TrialSpec, schema: PipelineSchema) -> VideoSource:
    height, width = _resolution(spec, schema)
    kind = spec.source
    if kind == "auto":
        kind = "step" if schema.is_generative else "stamped"
    options: dict[str, Any] = {"width": width, "height": height, "fps": spec.fps, **spec.source_options}
    if kind == "step":
        options.setdefault("stamp", True)
    return make_source(kind, **options)


def _is_stamped(spec: TrialSpec) -> bool:
    return spec.source in ("auto", "stamped", "step") or bool(spec.source_options.get("stamp"))


async def _stream(session: RtcSession, client: ScopeClient, spec: TrialSpec, result: TrialResult,
                  source: VideoSource | None, recorder: _FrameRecorder) -> None:
    """Receive for ``duration_s`` after the first frame, firing controls and sampling the server."""
    frames = session.frames(stall_timeout_s=FIRST_FRAME_TIMEOUT_S)
    await anext(frames)
    first_ns = session.timeline.first_frame_ns or time.perf_counter_ns()
    tasks = [asyncio.create_task(_fire_controls(session, spec.controls, first_ns)),
             asyncio.create_task(_sample_server(client, result, first_ns))]
    if isinstance(source, StepSource):
        tasks.append(asyncio.create_task(_switch_scenes(source, spec, first_ns, session, recorder)))
    try:
        deadline = first_ns + int(spec.duration_s * 1e9)
        stalled = session.frames(stall_timeout_s=spec.stall_timeout_s)
        await frames.aclose()
        async for frame in stalled:
            if frame.complete_ns >= deadline:
                break
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _fire_controls(session: RtcSession, controls: tuple[ControlChange, ...], first_ns: int) -> None:
    for control in sorted(controls, key=lambda c: c.at_s):
        delay = first_ns / 1e9 + control.at_s - time.perf_counter_ns() / 1e9
        await asyncio.sleep(max(delay, 0.0))
        await session.send(control.parameters)


async def _sleep_until(ns: int) -> None:
    await asyncio.sleep(max((ns - time.perf_counter_ns()) / 1e9, 0.0))


async def _server_state(client: ScopeClient) -> dict[str, Any]:
    """What the server says once loaded: its pipeline status and GPU memory (stored beside our figures)."""
    status, hardware = await asyncio.gather(client.pipeline_status(), client.hardware_info())
    return {"pipeline_status": status.model_dump(), "vram_gb": hardware.vram_gb}


async def _switch_scenes(source: StepSource, spec: TrialSpec, first_ns: int, session: RtcSession,
                         recorder: _FrameRecorder) -> None:
    """Switch, watch for the response (the same detector as the analysis), settle, repeat."""
    await _sleep_until(first_ns + int(spec.step_start_s * 1e9))
    quiet_from: int | None = None
    while True:
        switched = len(source.switches)
        source.switch()  # takes effect on the next frame the source emits
        while len(source.switches) == switched:
            await asyncio.sleep(1 / source.fps / 4)
        stimulus = source.switches[-1].sent_ns
        seen: int | None = None
        while seen is None and time.perf_counter_ns() < stimulus + int(spec.step_timeout_s * 1e9):
            await asyncio.sleep(STEP_POLL_S)
            times = session.log.arrivals_ns()
            thumbs = np.array(recorder.thumbs[: times.size])
            if thumbs.size:
                seen = detect_change(times, thumbs, stimulus, not_before_ns=quiet_from).arrival_ns
        quiet_from = (seen or stimulus) + int(2 * DEFAULT_WINDOW_S * 1e9)
        await _sleep_until(quiet_from + int(spec.step_every_s * 1e9))


async def _sample_server(client: ScopeClient, result: TrialResult, first_ns: int) -> None:
    """What the server says about the session, once a second (its own fps, frame counts)."""
    while True:
        with contextlib.suppress(LabError):
            metrics = await client.session_metrics()
            for session_id, values in metrics.sessions.items():
                result.server_samples.append({"t_s": (time.perf_counter_ns() - first_ns) / 1e9,
                                              "session": session_id, **values})
        await asyncio.sleep(SERVER_SAMPLE_S)


def _analyse(result: TrialResult, session: RtcSession, source: VideoSource | None, recorder: _FrameRecorder) -> None:
    frames = session.log.to_dataframe()
    if frames.empty:
        result.frames = frames
        result.figures = _connection_figures(result)
        return
    origin = session.timeline.offer_sent_ns or int(frames["complete_ns"].iloc[0])
    frames["t_s"] = (frames["complete_ns"] - origin) / 1e9
    frames["interval_ms"] = frames["complete_ns"].diff() / 1e6
    arrivals = analyze_arrivals(frames["complete_ns"].to_numpy())
    warmup_end = arrivals.warmup_end_index
    frames["phase"] = np.where(frames.index < (warmup_end if warmup_end is not None else len(frames)), "warmup", "steady")
    figures = _connection_figures(result) + arrivals.figures() + _server_figures(result)
    if recorder.read_stamps and source is not None:
        frames["stamp_id"] = pd.array(recorder.stamp_ids[: len(frames)], dtype="Int64")
        frames = join_stamped(frames, source.records)
        accounting = stamp_accounting(frames["stamp_id"])
        if accounting.readable:
            figures += latency_figures(frames[frames["phase"] == "steady"] if warmup_end is not None else frames)
            figures.append(Figure("frames_lost", float(accounting.lost), "count", accounting.readable,
                                  note="ids sent but never received, between the first and last id read"))
        else:
            figures.append(Figure("latency_p50", None, "ms", 0, warnings=(
                "no stamp was readable in the output: this pipeline redraws the picture; "
                "latency comes from the step test instead",)))
    thumbs = np.array(recorder.thumbs[: len(frames)])
    times = frames["complete_ns"].to_numpy()
    if isinstance(source, StepSource) and len(thumbs):
        result.step_detections = detect_sequence(times, thumbs, [s.sent_ns for s in source.switches])
        figures += _detection_figures("step_latency", result.step_detections)
    if result.spec.controls and len(thumbs):
        for (sent_ns, _), control in zip(session.sent, sorted(result.spec.controls, key=lambda c: c.at_s), strict=False):
            detector = detect_freeze if control.expect == "freeze" else detect_change
            result.control_detections.append(detector(times, thumbs, sent_ns))
        figures += _detection_figures("control_latency", result.control_detections)
    result.frames = frames
    result.figures = figures


def _server_figures(result: TrialResult) -> list[Figure]:
    """The server's own output rate (its /session/metrics average since the stream started)."""
    rates = [s["fps_out"] for s in result.server_samples if isinstance(s.get("fps_out"), (int, float))]
    return [Figure("server_fps_out", float(rates[-1]) if rates else None, "fps", len(rates),
                   note="reported by the server (/api/v1/session/metrics), averaged since its stream began")]


def _connection_figures(result: TrialResult) -> list[Figure]:
    timeline = result.timeline
    load = result.load
    return [
        Figure("load_s", load.load_s if load else None, "s", 1,
               note=f"resolution {load.poll_interval_s:g} s (status polling)" if load else None),
        Figure("signalling_s", timeline.signalling_s, "s", 1, note="offer sent to answer"),
        Figure("connect_s", timeline.connect_s, "s", 1, note="answer to ICE+DTLS connected"),
        Figure("first_frame_s", timeline.first_frame_s, "s", 1, note="connected to first output frame"),
        Figure("ttff_s", timeline.ttff_s, "s", 1, note="offer sent to first output frame"),
    ]


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
