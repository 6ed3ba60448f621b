"""Running a trial: load a pipeline, stream through it, and hand out what came back.

A trial is the unit every figure in the research log comes from. :func:`run_trial` loads
the pipeline (timed) and runs one session; :func:`run_session` measures several runtime
settings (:class:`~lab.measure.spec.Segment`) in one session of a loaded pipeline. A
session opens over the trial's ``via`` (a WebRTC session by default, or a headless one read
through ``output.ts`` or ``/session/frame`` polling, :mod:`lab.headless`) with an input
source or none (text-to-video), streams while the stimuli fire (:mod:`lab.measure.stimulus`),
samples what the server reports, and records every frame (:mod:`lab.measure.recorder`).
Each segment's result is analysed (:mod:`lab.measure.analysis`) and handed out as soon as
its segment ends; a failure keeps the frames already received (:mod:`lab.measure.result`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from lab.client import LoadResult, ScopeClient
from lab.errors import LabError, ScopeError
from lab.headless import HeadlessSession, server_input, setup_steps
from lab.measure.analysis import analyse_window, connection_figures, quality_samples
from lab.measure.change import ChangeDetection, detect_change
from lab.measure.recorder import FrameRecorder, Session, Window, frame_table
from lab.measure.result import TrialResult, error_record
from lab.measure.server_recording import finish_recording, start_recording
from lab.measure.spec import Segment, TrialSpec, load_params
from lab.measure.stimulus import (STEP_POLL_S, fire_controls, is_stamped, resend, sleep_until, switch_scenes,
                                  trial_source)
from lab.protocol import ONE_SHOT_KEYS
from lab.quality.samples import InputKeeper, PairSampler
from lab.rtc import RtcSession
from lab.sources import StepSource, VideoSource
from lab.tasks import cancel_and_wait

__all__ = ["run_trial", "run_session", "SessionRun", "stream_segments"]

log = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT_S = 30.0
SERVER_SAMPLE_S = 1.0
SETTLE_BASELINE_S = 1.0  # quiet output before a parameter update, for the change detector's noise baseline
SAMPLE_POINTS = (0.1, 0.5, 0.95)  # where in a segment's measured span output frames are kept as samples
ServerSampler = Callable[[list[TrialResult], int], Awaitable[None]]


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
    source = trial_source(spec, schema) if spec.mode == "video" and spec.via == "webrtc" else None
    stamped = source is not None and is_stamped(spec)
    inputs = InputKeeper() if stamped else None
    if source is not None and inputs is not None:
        source.on_sent.append(inputs)
    run = SessionRun(spec, results, source, FrameRecorder(read_stamps=stamped, inputs=inputs),
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
        await stream_segments(run, say, lambda current, first_ns: _sample_server(client, current, first_ns), client)
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


class SessionRun:
    """One session's segments: their windows, and each result handed out as soon as it is final."""

    def __init__(self, spec: TrialSpec, results: list[TrialResult], source: VideoSource | None,
                 recorder: FrameRecorder, on_result: Callable[[TrialResult], None]) -> None:
        self.spec = spec
        self.results = results
        self.source = source
        self.recorder = recorder
        self.on_result = on_result
        self.session: Session | None = None
        self.windows: list[Window] = []
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
            frames, thumbs = frame_table(self.session, self.recorder)
            analyse_window(result, self.windows[k], frames, thumbs, self.source, first=k == 0, session=self.session)
            result.samples = self.windows[k].samples
            result.quality = quality_samples(self.results, k, self.windows[k], self.recorder.read_stamps)
        elif k == 0:
            result.figures = connection_figures(result)
        if result.server_recording is not None:
            result.figures = result.figures + result.server_recording.figures()
        self.emitted = k + 1
        self.on_result(result)

    def fail(self, exc: LabError, phase: str) -> None:
        """The segment in progress gets the error; later ones were not run because of it."""
        error = error_record(exc, phase)
        for k in range(self.emitted, len(self.results)):
            self.results[k].error = error if k == self.emitted else {
                **error, "phase": "not run", "message": f"the session ended in an earlier segment: {exc}"}

    def emit_remaining(self) -> None:
        for k in range(self.emitted, len(self.results)):
            self.emit(k)


async def _open(client: ScopeClient, spec: TrialSpec, source: VideoSource | None,
                parameters: dict[str, Any]) -> Session:
    """The trial's session over its path; a headless one in video mode plays a clip on the server."""
    if spec.via == "webrtc":
        return await RtcSession.open(client, [spec.pipeline_id], source=source, mode=spec.mode, parameters=parameters)
    clip = spec.source_options.get("path") if spec.source == "file" else None
    input_source = await server_input(client, clip) if spec.mode == "video" else None
    return await HeadlessSession.open(client, spec.pipeline_id, mode=spec.mode, via=spec.via, parameters=parameters,
                                      input_source=input_source, poll_hz=spec.poll_hz)


async def stream_segments(run: SessionRun, say: Callable[[str], None], sample: ServerSampler,
                          client: ScopeClient | None = None) -> None:
    """Receive each segment for ``duration_s`` (after its settle), firing its stimuli.

    ``sample(current, first_ns)`` runs beside, keeping what the server says about the
    stream in ``current[0]`` (the segment's result); ``client`` collects a server recording.
    """
    session, spec = run.session, run.spec
    assert session is not None
    frames = session.frames(stall_timeout_s=FIRST_FRAME_TIMEOUT_S)
    await anext(frames)
    await frames.aclose()
    first_ns = session.timeline.first_frame_ns or time.perf_counter_ns()
    current = [run.results[0]]
    sampler = asyncio.create_task(sample(current, first_ns))
    try:
        for k, result in enumerate(run.results):
            segment = result.segment
            current[0] = result
            if k == 0:
                window = Window(start_ns=session.timeline.offer_sent_ns or first_ns)
                run.windows.append(window)
                measure_from = first_ns
            elif not segment.parameters:  # nothing to send: no response to wait for
                say(f"segment {k + 1}/{len(run.results)}: {segment.label or 'no new parameters'}")
                window = Window(start_ns=time.perf_counter_ns())
                run.windows.append(window)
                measure_from = window.start_ns
            else:
                say(f"segment {k + 1}/{len(run.results)}: {segment.label or segment.parameters}")
                quiet_ns = run.windows[-1].quiet_ns
                if quiet_ns is not None:  # a step response just ended: let a clean baseline build up first
                    await sleep_until(quiet_ns + int(SETTLE_BASELINE_S * 1e9))
                window = Window(start_ns=time.perf_counter_ns())
                run.windows.append(window)
                window.sent_ns = await session.send(segment.parameters)
                window.settle = await _settle(session, run.recorder, window.sent_ns, spec, quiet_ns)
                measure_from = window.start_ns = (window.settle.arrival_ns
                                                  or window.sent_ns + int(spec.settle_timeout_s * 1e9))
            say(f"streaming {spec.duration_s:g} s")
            await _receive_window(session, spec, segment, window, measure_from, run.source, run.recorder)
            window.end_ns = time.perf_counter_ns()
            if run.recording_pending and client is not None and k == len(run.results) - 1:
                await run.collect_recording(client, result)
            run.emit(k)
    finally:
        await cancel_and_wait(sampler)


async def _receive_window(session: Session, spec: TrialSpec, segment: Segment, window: Window,
                          start_ns: int, source: VideoSource | None, recorder: FrameRecorder) -> None:
    """Receive until ``start_ns + duration_s``; stimuli run beside, and a step in flight is finished."""
    tasks = [asyncio.create_task(fire_controls(session, spec.controls + segment.controls, start_ns, window))]
    one_shot = {k: v for k, v in segment.parameters.items() if k in ONE_SHOT_KEYS}
    if one_shot and spec.reference_resend_s is not None:
        tasks.append(asyncio.create_task(resend(session, one_shot, spec.reference_resend_s)))
    stop_steps = asyncio.Event()
    stepper = (asyncio.create_task(switch_scenes(source, spec, start_ns, session, recorder, window, stop_steps))
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


async def _settle(session: Session, recorder: FrameRecorder, sent_ns: int, spec: TrialSpec,
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


async def _server_state(client: ScopeClient) -> dict[str, Any]:
    """What the server says once loaded: its pipeline status and GPU memory (stored beside our figures)."""
    status, hardware = await asyncio.gather(client.pipeline_status(), client.hardware_info())
    return {"pipeline_status": status.model_dump(), "vram_gb": hardware.vram_gb}


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
