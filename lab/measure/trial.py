"""One trial: load a pipeline, stream through it, and measure what came back.

A trial is the unit every figure in the research log comes from. It loads the pipeline
(timed), opens a WebRTC session with an input source (or none, for text-to-video),
streams for a duration while firing scheduled parameter changes, samples what the server
reports, and then analyses the per-frame record:

- connection phases (:class:`lab.rtc.SessionTimeline`): signalling, connected, first frame;
- over the trial's ``via``: a WebRTC session (default), or a headless session read through
  ``output.ts`` or ``/session/frame`` polling (:mod:`lab.headless`; what each path's figures
  mean, latency included, is in :mod:`lab.measure.paths`);
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from lab import resources
from lab.client import LoadResult, ScopeClient
from lab.errors import LabError, ScopeError
from lab.measure.arrivals import analyze_arrivals
from lab.measure.change import DEFAULT_WINDOW_S, TRUNCATED, ChangeDetection, detect_change, detect_freeze, detect_sequence, thumbnail
from lab.measure.latency import join_stamped, latency_figures, stamp_accounting
from lab.measure.server_recording import ServerRecording, finish_recording, start_recording
from lab.protocol import ONE_SHOT_KEYS, frontend_load_params
from lab.stamp import decode_stamp
from lab.stats import Figure, percentile_figure
from lab.models import PipelineSchema
from lab.quality.samples import InputKeeper, LumaChange, PairSampler, QualitySamples, prompt_text
from lab.headless import DEFAULT_POLL_HZ, HeadlessSession, Via, server_input, setup_steps
from lab.measure.paths import connection_notes, control_note, poll_figures
from lab.rtc import InputMode, ReceivedFrame, RtcSession, SessionTimeline
from lab.sources import StepSource, VideoSource, make_source
from lab.tasks import cancel_and_wait

__all__ = ["ControlChange", "Segment", "TrialSpec", "TrialResult", "run_trial", "run_session", "load_params",
           "error_record"]

log = logging.getLogger(__name__)

SourceChoice = Literal["auto", "pattern", "stamped", "step", "file", "image"]
Session = RtcSession | HeadlessSession
FIRST_FRAME_TIMEOUT_S = 30.0
STEP_POLL_S = 0.25
SERVER_SAMPLE_S = 1.0
# Scope applies these keys to one chunk per send (VACE's one-shot semantics).
# A segment that sets one of them re-sends it this often, so that (about) every chunk is
# conditioned on it: at 12-frame chunks and 20 fps a chunk takes 0.6 s. On faster
# pipelines some chunks go without, so the cost measured is a lower bound.
REFERENCE_RESEND_S = 0.5
SETTLE_BASELINE_S = 1.0  # quiet output before a parameter update, for the change detector's noise baseline
SAMPLE_POINTS = (0.1, 0.5, 0.95)  # where in a segment's measured span output frames are kept as samples
# A pipeline keeps the picture (fidelity can be scored) when stamps are readable in at least
# this share of its output: generative video-to-video that lets a stamp through now and then
# (the simulator blends half the input into its frames) redraws the picture all the same.
KEEPS_PICTURE_SHARE = 0.5


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
class Segment:
    """One runtime setting measured inside a session: parameters sent over the data channel.

    ``label`` names the condition in tables (e.g. ``"refs=2 scale=1.0"``). ``controls`` are
    this segment's own stimuli, fired beside the spec's (e.g. prompt changes sent with the
    segment's transition); a later segment without parameters is measured at once, with
    nothing to send and wait for.
    """

    parameters: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    controls: tuple[ControlChange, ...] = ()


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
    settle_timeout_s: float = 10.0
    download_missing: bool = False
    reference_resend_s: float | None = REFERENCE_RESEND_S  # None: one-shot keys sent once, at the segment's start
    record_server: bool = False  # the server records the session too (lab.measure.server_recording)
    via: Via = "webrtc"  # or headless-ts / headless-frame: input from a server-side clip, updates over REST
    poll_hz: float = DEFAULT_POLL_HZ  # headless-frame only


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
    server_gpu: dict[str, Any] | None = None  # the last /session/metrics GPU block; {}: the server reported none
    error: dict[str, Any] | None = None  # see error_record
    segment: Segment = field(default_factory=Segment)
    samples: list[np.ndarray] = field(default_factory=list, repr=False)
    quality: QualitySamples | None = field(default=None, repr=False)  # scored after streaming (lab.quality.score)
    server_recording: ServerRecording | None = None  # on the session's last segment (or the one that failed)
    via: Via = "webrtc"
    setup_steps: list[str] = field(default_factory=list)  # the HTTP calls the path took (lab.headless.setup_steps)

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
    """Per-frame extras computed in the receive loop: stamp id, thumbnail, luma change.

    ``inputs`` keeps a stamped source's pictures for fidelity (:class:`InputKeeper`).
    """

    def __init__(self, read_stamps: bool, inputs: InputKeeper | None = None) -> None:
        self.read_stamps = read_stamps
        self.inputs = inputs
        self.stamp_ids: list[int | None] = []
        self.thumbs: list[np.ndarray] = []
        self.luma_changes: list[float] = []
        self._luma_change = LumaChange()

    def __call__(self, frame: ReceivedFrame) -> None:
        if self.read_stamps:
            self.stamp_ids.append(decode_stamp(frame.frame).frame_id)
        self.thumbs.append(thumbnail(frame.frame))
        self.luma_changes.append(self._luma_change(frame.frame))

    def stamp_id(self, frame: ReceivedFrame) -> int | None:
        """The stamp id read from ``frame`` (its ``seq`` indexes this recorder's lists)."""
        return self.stamp_ids[frame.seq] if self.read_stamps and frame.seq < len(self.stamp_ids) else None


async def run_trial(client: ScopeClient, spec: TrialSpec, *,
                    on_event: Callable[[str], None] | None = None) -> TrialResult:
    """Load the pipeline, run one session, and return its result (errors are kept in it).

    Examples
    --------
    >>> result = await run_trial(client, TrialSpec("passthrough", duration_s=5))   # doctest: +SKIP
    >>> result.figure("latency_p50")
    """
    say = on_event or (lambda text: log.info("%s", text))
    schema = await client.pipeline_schema(spec.pipeline_id)
    say(f"loading {spec.pipeline_id}")
    load = await client.load_pipeline(spec.pipeline_id, load_params(spec, schema),
                                      download_missing=spec.download_missing)
    (result,) = await run_session(client, spec, [Segment(spec.parameters)], load=load, on_event=on_event)
    return result


async def run_session(client: ScopeClient, spec: TrialSpec, segments: Sequence[Segment], *,
                      load: LoadResult | None = None,
                      on_event: Callable[[str], None] | None = None,
                      on_result: Callable[[TrialResult], None] | None = None) -> list[TrialResult]:
    """Measure several runtime settings in one session of an already loaded pipeline.

    The first segment starts with the stream (its parameters go in the offer) and carries
    the connection and warm-up figures. Each later segment sends its parameters over the
    data channel, waits until the output visibly responds (``settle_s``, by the same
    change detector as the latency figures; at most ``spec.settle_timeout_s``), then
    measures for ``spec.duration_s``. One result per segment, in order, each also handed
    to ``on_result`` as soon as its segment ends (so a caller can store it at once); a
    failure ends the session, and the segments it prevented carry the error too (phase
    ``not run``).
    """
    say = on_event or (lambda text: log.info("%s", text))
    health = await client.health()
    results = [TrialResult(spec, client.url, health.is_simulator, health.version, time.time(), segment=segment,
                           via=spec.via, setup_steps=setup_steps(spec.via, spec.mode)) for segment in segments]
    results[0].load = load
    schema = await client.pipeline_schema(spec.pipeline_id)
    state = await _server_state(client)
    for result in results:
        result.server_state = state
    source = _make_source(spec, schema) if spec.mode == "video" and spec.via == "webrtc" else None
    stamped = source is not None and _is_stamped(spec)
    inputs = InputKeeper() if stamped else None
    if source is not None and inputs is not None:
        source.on_sent.append(inputs)
    run = _SessionRun(spec, results, source, _FrameRecorder(read_stamps=stamped, inputs=inputs),
                      on_result or (lambda result: None))
    log_offset = await client.log_offset()  # what the server logs if the session fails explains it
    phase = "connect"
    try:
        run.session = await _open(client, spec, source, {**spec.parameters, **segments[0].parameters})
        for result in results:
            result.timeline = run.session.timeline
        run.session.on_frame(run.recorder)
        if spec.record_server and run.session.session_id is not None:
            run.recording_error = await start_recording(client, run.session.session_id)
            run.recording_pending = True
        phase = "stream"
        await _stream_segments(run, client, say)
    except LabError as exc:
        if isinstance(exc, ScopeError):
            exc.add_server_log(await client.log_excerpt(log_offset, spec.pipeline_id))
        run.fail(exc, phase)
        say(f"{phase} failed: {type(exc).__name__}")
    finally:
        if run.session is not None:
            if run.recording_pending and run.emitted < len(results):
                await run.collect_recording(client, results[run.emitted])
            await run.session.close()
        if source is not None:
            source.stop()
    run.emit_remaining()
    return results


def error_record(exc: LabError, phase: str) -> dict[str, Any]:
    """A failure as a result or trial row keeps it: class, phase, message, and the server's log lines."""
    return {"class": type(exc).__name__, "phase": phase, "message": str(exc),
            "server_log": list(getattr(exc, "server_log", ()))}


class _SessionRun:
    """One session's segments: their windows, and each result handed out as soon as it is final."""

    def __init__(self, spec: TrialSpec, results: list[TrialResult], source: VideoSource | None,
                 recorder: _FrameRecorder, on_result: Callable[[TrialResult], None]) -> None:
        self.spec = spec
        self.results = results
        self.source = source
        self.recorder = recorder
        self.on_result = on_result
        self.session: Session | None = None
        self.windows: list[_Window] = []
        self.emitted = 0
        self.recording_pending = False  # the server records this session (record_server)
        self.recording_error: str | None = None  # why it does not, if it refused

    async def collect_recording(self, client: ScopeClient, result: TrialResult) -> None:
        """Stop the server's recording and keep it with ``result`` (once per session)."""
        assert self.session is not None and self.session.session_id is not None
        self.recording_pending = False
        result.server_recording = await finish_recording(client, self.session.session_id, self.recording_error)

    def emit(self, k: int) -> None:
        """Analyse segment ``k`` from the frames so far and hand its result out."""
        result = self.results[k]
        if self.session is not None and k < len(self.windows):
            frames, thumbs = _frame_table(self.session, self.recorder)
            _analyse(result, self.windows[k], frames, thumbs, self.source, first=k == 0, session=self.session)
            result.samples = self.windows[k].samples
            result.quality = self._quality_samples(k)
        elif k == 0:
            result.figures = _connection_figures(result)
        if result.server_recording is not None:
            result.figures = result.figures + result.server_recording.figures()
        self.emitted = k + 1
        self.on_result(result)

    def _quality_samples(self, k: int) -> QualitySamples | None:
        """What segment ``k`` kept for its quality figures, from its first steady frame on."""
        pairs, frames = self.windows[k].pairs, self.results[k].frames
        if pairs is None or frames.empty:
            return None
        steady = frames["complete_ns"][frames["phase"] == "steady"]
        parameters: dict[str, Any] = dict(self.spec.parameters)
        for earlier in self.results[: k + 1]:
            parameters.update(earlier.segment.parameters)
        return pairs.samples(frames["complete_ns"].to_numpy(), frames["luma_change"].to_numpy(),
                             steady_from_ns=int(steady.iloc[0]) if len(steady) else pairs.start_ns,
                             prompt=prompt_text(parameters), no_pairing=self._no_pairing(frames))

    def _no_pairing(self, frames: pd.DataFrame) -> str | None:
        """Why output frames cannot be paired with the input they answer (None if they can)."""
        if self.spec.mode == "text":
            return "text-to-video: no input"
        if self.spec.via != "webrtc":
            return "headless: the input plays on the server, so output frames cannot be paired with it"
        if not self.recorder.read_stamps:
            return "the input is not stamped: output frames cannot be paired with the input they answer"
        readable = int(frames["stamp_id"].notna().sum()) if "stamp_id" in frames else 0
        if readable < KEEPS_PICTURE_SHARE * len(frames):
            return (f"the pipeline does not keep the picture: a stamp was readable in {readable} of its "
                    f"{len(frames)} output frames")
        return None

    def fail(self, exc: LabError, phase: str) -> None:
        """The segment in progress gets the error; later ones were not run because of it."""
        error = error_record(exc, phase)
        for k in range(self.emitted, len(self.results)):
            self.results[k].error = error if k == self.emitted else {
                **error, "phase": "not run", "message": f"the session ended in an earlier segment: {exc}"}

    def emit_remaining(self) -> None:
        for k in range(self.emitted, len(self.results)):
            self.emit(k)


@dataclass
class _Window:
    """The part of a session that belongs to one segment: [start_ns, end_ns)."""

    start_ns: int
    end_ns: int | None = None
    settle: ChangeDetection | None = None
    sent_ns: int | None = None
    controls: list[tuple[int, ControlChange]] = field(default_factory=list)
    switches: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    pairs: PairSampler | None = None  # the quality samples taken in the measured window
    quiet_ns: int | None = None  # when the last step response had passed


async def _open(client: ScopeClient, spec: TrialSpec, source: VideoSource | None,
                parameters: dict[str, Any]) -> Session:
    """The trial's session over its path; a headless one in video mode plays a clip on the server."""
    if spec.via == "webrtc":
        return await RtcSession.open(client, [spec.pipeline_id], source=source, mode=spec.mode, parameters=parameters)
    clip = spec.source_options.get("path") if spec.source == "file" else None
    input_source = await server_input(client, clip) if spec.mode == "video" else None
    return await HeadlessSession.open(client, spec.pipeline_id, mode=spec.mode, via=spec.via, parameters=parameters,
                                      input_source=input_source, poll_hz=spec.poll_hz)


def _resolution(spec: TrialSpec, schema: PipelineSchema) -> tuple[int, int]:
    """(height, width): the spec's, else the load params', else the schema's for the mode."""
    if spec.resolution:
        return spec.resolution
    if "height" in spec.load_params and "width" in spec.load_params:
        return int(spec.load_params["height"]), int(spec.load_params["width"])
    return schema.resolution(spec.mode) or (512, 512)


def load_params(spec: TrialSpec, schema: PipelineSchema) -> dict[str, Any]:
    """The frontend's load parameters for the trial's size, under the spec's own."""
    return {**frontend_load_params(schema, spec.mode, resolution=_resolution(spec, schema)), **spec.load_params}


def _make_source(spec: TrialSpec, schema: PipelineSchema) -> VideoSource:
    height, width = _resolution(spec, schema)
    kind = spec.source
    if kind == "auto":
        kind = "step" if schema.is_generative else "stamped"
    options: dict[str, Any] = {"width": width, "height": height, "fps": spec.fps, **spec.source_options}
    if kind == "step":
        options.setdefault("stamp", True)
    if kind == "file":
        options.setdefault("path", resources.CLIP)  # the shipped looping clip, unless the spec names a file
    return make_source(kind, **options)


def _is_stamped(spec: TrialSpec) -> bool:
    return spec.source in ("auto", "stamped", "step") or bool(spec.source_options.get("stamp"))


async def _stream_segments(run: _SessionRun, client: ScopeClient, say: Callable[[str], None]) -> None:
    """Receive each segment for ``duration_s`` (after its settle), firing its stimuli."""
    session, spec = run.session, run.spec
    assert session is not None
    frames = session.frames(stall_timeout_s=FIRST_FRAME_TIMEOUT_S)
    await anext(frames)
    await frames.aclose()
    first_ns = session.timeline.first_frame_ns or time.perf_counter_ns()
    current = [run.results[0]]
    sampler = asyncio.create_task(_sample_server(client, current, first_ns))
    try:
        for k, result in enumerate(run.results):
            segment = result.segment
            current[0] = result
            if k == 0:
                window = _Window(start_ns=session.timeline.offer_sent_ns or first_ns)
                run.windows.append(window)
                measure_from = first_ns
            elif not segment.parameters:  # nothing to send: no response to wait for
                say(f"segment {k + 1}/{len(run.results)}: {segment.label or 'no new parameters'}")
                window = _Window(start_ns=time.perf_counter_ns())
                run.windows.append(window)
                measure_from = window.start_ns
            else:
                say(f"segment {k + 1}/{len(run.results)}: {segment.label or segment.parameters}")
                quiet_ns = run.windows[-1].quiet_ns
                if quiet_ns is not None:  # a step response just ended: let a clean baseline build up first
                    await _sleep_until(quiet_ns + int(SETTLE_BASELINE_S * 1e9))
                window = _Window(start_ns=time.perf_counter_ns())
                run.windows.append(window)
                window.sent_ns = await session.send(segment.parameters)
                window.settle = await _settle(session, run.recorder, window.sent_ns, spec, quiet_ns)
                measure_from = window.start_ns = (window.settle.arrival_ns
                                                  or window.sent_ns + int(spec.settle_timeout_s * 1e9))
            say(f"streaming {spec.duration_s:g} s")
            await _receive_window(session, spec, segment, window, measure_from, run.source, run.recorder)
            window.end_ns = time.perf_counter_ns()
            if run.recording_pending and k == len(run.results) - 1:
                await run.collect_recording(client, result)
            run.emit(k)
    finally:
        await cancel_and_wait(sampler)


async def _receive_window(session: Session, spec: TrialSpec, segment: Segment, window: _Window,
                          start_ns: int, source: VideoSource | None, recorder: _FrameRecorder) -> None:
    """Receive until ``start_ns + duration_s``; stimuli run beside, and a step in flight is finished."""
    tasks = [asyncio.create_task(_fire_controls(session, spec.controls + segment.controls, start_ns, window))]
    one_shot = {k: v for k, v in segment.parameters.items() if k in ONE_SHOT_KEYS}
    if one_shot and spec.reference_resend_s is not None:
        tasks.append(asyncio.create_task(_resend(session, one_shot, spec.reference_resend_s)))
    stop_steps = asyncio.Event()
    stepper = (asyncio.create_task(_switch_scenes(source, spec, start_ns, session, recorder, window, stop_steps))
               if isinstance(source, StepSource) else None)
    try:
        deadline = start_ns + int(spec.duration_s * 1e9)
        sample_at = [start_ns + int(spec.duration_s * 1e9 * q) for q in SAMPLE_POINTS]
        window.pairs = PairSampler(start_ns, recorder.inputs)
        async for frame in session.frames(stall_timeout_s=spec.stall_timeout_s):
            rgb = None
            if sample_at and frame.complete_ns >= sample_at[0]:
                rgb = frame.rgb()
                window.samples.append(rgb)
                sample_at.pop(0)
            window.pairs.offer(frame, recorder.stamp_id(frame), rgb)
            if frame.complete_ns >= deadline:
                break
        if stepper is not None:
            stop_steps.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(spec.step_timeout_s):
                    await asyncio.shield(stepper)
    finally:
        await cancel_and_wait(*tasks, stepper)


async def _settle(session: Session, recorder: _FrameRecorder, sent_ns: int, spec: TrialSpec,
                  quiet_ns: int | None) -> ChangeDetection:
    """Wait until the output responds to a parameter update (or the settle timeout passes).

    ``quiet_ns`` is when the previous stimulus's response ended: no earlier frame enters
    the detector's noise baseline, which is the last ``SETTLE_BASELINE_S`` before the
    update (never the stream's first moments, whose jumps would hide the response).
    """
    deadline = sent_ns + int(spec.settle_timeout_s * 1e9)
    while True:
        await asyncio.sleep(STEP_POLL_S)
        times = session.log.arrivals_ns()
        thumbs = np.array(recorder.thumbs[: times.size])
        detection = detect_change(times, thumbs, sent_ns, max_wait_s=spec.settle_timeout_s, not_before_ns=quiet_ns,
                                  baseline_s=SETTLE_BASELINE_S)
        if detection.detected or time.perf_counter_ns() >= deadline:
            return detection


async def _resend(session: Session, parameters: dict[str, Any], every_s: float) -> None:
    """Re-send one-shot keys (reference images) so that every chunk carries them, not just one."""
    while True:
        await asyncio.sleep(every_s)
        await session.send(parameters)


async def _fire_controls(session: Session, controls: tuple[ControlChange, ...], start_ns: int,
                         window: _Window) -> None:
    for control in sorted(controls, key=lambda c: c.at_s):
        await _sleep_until(start_ns + int(control.at_s * 1e9))
        window.controls.append((await session.send(control.parameters), control))


async def _sleep_until(ns: int) -> None:
    await asyncio.sleep(max((ns - time.perf_counter_ns()) / 1e9, 0.0))


async def _server_state(client: ScopeClient) -> dict[str, Any]:
    """What the server says once loaded: its pipeline status and GPU memory (stored beside our figures)."""
    status, hardware = await asyncio.gather(client.pipeline_status(), client.hardware_info())
    return {"pipeline_status": status.model_dump(), "vram_gb": hardware.vram_gb}


async def _switch_scenes(source: StepSource, spec: TrialSpec, start_ns: int, session: Session,
                         recorder: _FrameRecorder, window: _Window, stop: asyncio.Event) -> None:
    """Switch, watch for the response (the same detector as the analysis), settle, repeat until stopped."""
    await _sleep_until(start_ns + int(spec.step_start_s * 1e9))
    # The first baseline leaves out the stream's first moments (its jumps would hide the response).
    quiet_from: int | None = start_ns + int(spec.step_start_s * 1e9 / 2)
    while not stop.is_set():
        switched = len(source.switches)
        source.switch()  # takes effect on the next frame the source emits
        while len(source.switches) == switched:
            await asyncio.sleep(1 / source.fps / 4)
        stimulus = source.switches[-1].sent_ns
        window.switches.append(stimulus)
        seen: int | None = None
        while seen is None and time.perf_counter_ns() < stimulus + int(spec.step_timeout_s * 1e9):
            await asyncio.sleep(STEP_POLL_S)
            times = session.log.arrivals_ns()
            thumbs = np.array(recorder.thumbs[: times.size])
            if thumbs.size:
                seen = detect_change(times, thumbs, stimulus, not_before_ns=quiet_from).arrival_ns
        quiet_from = window.quiet_ns = (seen or stimulus) + int(2 * DEFAULT_WINDOW_S * 1e9)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max((quiet_from - time.perf_counter_ns()) / 1e9, 0) + spec.step_every_s):
                await stop.wait()


async def _sample_server(client: ScopeClient, current: list[TrialResult], first_ns: int) -> None:
    """What the server says about the session, once a second (its own fps, frame counts)."""
    while True:
        with contextlib.suppress(LabError):
            metrics = await client.session_metrics()
            current[0].server_gpu = dict(metrics.gpu)
            for session_id, values in metrics.sessions.items():
                current[0].server_samples.append({"t_s": (time.perf_counter_ns() - first_ns) / 1e9,
                                                  "session": session_id, **values})
        await asyncio.sleep(SERVER_SAMPLE_S)


def _frame_table(session: Session, recorder: _FrameRecorder) -> tuple[pd.DataFrame, np.ndarray]:
    """The whole session's frames (times relative to the offer, stamp ids) and thumbnails."""
    frames = session.log.to_dataframe()
    if frames.empty:
        return frames, np.empty((0,))
    origin = session.timeline.offer_sent_ns or int(frames["complete_ns"].iloc[0])
    frames["t_s"] = (frames["complete_ns"] - origin) / 1e9
    if recorder.read_stamps:
        frames["stamp_id"] = pd.array(recorder.stamp_ids[: len(frames)], dtype="Int64")
    frames["luma_change"] = np.array(recorder.luma_changes[: len(frames)], dtype=float)
    return frames, np.array(recorder.thumbs[: len(frames)])


def _analyse(result: TrialResult, window: _Window, session_frames: pd.DataFrame, session_thumbs: np.ndarray,
             source: VideoSource | None, *, first: bool, session: Session | None = None) -> None:
    """Figures of one segment, from the frames that arrived in its window."""
    base = _connection_figures(result, session) if first else [_settle_figure(window)]
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


def _steady_arrival_figures(arrivals: Any) -> list[Figure]:
    """A settled segment has no warm-up of its own: its whole window counts as steady."""
    return [f for f in arrivals.figures() if f.name != "warmup_s"]


def _settle_figure(window: _Window) -> Figure:
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
                   note="reported by the server (/api/v1/session/metrics), averaged since its stream began")]


def _connection_figures(result: TrialResult, session: Session | None = None) -> list[Figure]:
    timeline = result.timeline
    load = result.load
    notes = connection_notes(result.via)
    polls = session.polls if isinstance(session, HeadlessSession) else None
    return [
        Figure("load_s", load.load_s if load else None, "s", 1,
               note=f"resolution {load.poll_interval_s:g} s (status polling)" if load else None),
        Figure("signalling_s", timeline.signalling_s, "s", 1, note=notes["signalling_s"]),
        Figure("connect_s", timeline.connect_s, "s", 1, note=notes["connect_s"]),
        Figure("first_frame_s", timeline.first_frame_s, "s", 1, note=notes["first_frame_s"]),
        Figure("ttff_s", timeline.ttff_s, "s", 1, note=notes["ttff_s"]),
    ] + ([] if polls is None else poll_figures(result.via, result.spec.poll_hz, polls.polls, polls.empty,
                                               polls.new_frames))


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
