"""A trial on Daydream's hosted API: a Scope trial's figures, from a hosted stream.

:func:`run_hosted_session` is :func:`lab.measure.run.run_session` for a ``daydream:``
target. The stream is created with hosted params (the API's names: ``model_id``,
``prompt``, ``num_inference_steps``, ``controlnets``, ...); each later segment's params go
out as one ``PATCH``; the spec's controls are ``PATCH``\\ es too. Everything after the
stream is Scope's code: the input (:func:`lab.measure.stimulus.trial_source`, scene steps
for this generative video-to-video pipeline), the per-frame recorder, the segments and
their stimuli (:class:`~lab.measure.run.SessionRun`, :func:`~lab.measure.run.stream_segments`)
and the analysis, so every figure has its Scope name and definition where it applies;
:mod:`lab.measure.paths` says what differs. Beside the client's figures, the service's own
from its status route (:func:`status_figures`). The stream is always deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lab.client import LoadResult, StageTiming
from lab.errors import LabError
from lab.hosted import HostedClient, HostedSession
from lab.measure.paths import CREATED_STAGE, WHIP
from lab.measure.recorder import FrameRecorder
from lab.measure.result import TrialResult
from lab.measure.run import SERVER_SAMPLE_S, SessionRun, stream_segments
from lab.measure.spec import Segment, TrialSpec
from lab.measure.stimulus import is_stamped, trial_source
from lab.models import PipelineSchema
from lab.quality.samples import InputKeeper
from lab.stats import Figure

__all__ = ["HOSTED_PIPELINE", "SETUP_STEPS", "hosted_schema", "run_hosted_session", "run_hosted_trial",
           "status_figures"]

log = logging.getLogger(__name__)

HOSTED_PIPELINE = "streamdiffusion"  # the one pipeline of POST /v1/streams
DEFAULT_SIZE = 512  # the input's size when the params set none
SETUP_STEPS = ["POST /v1/streams (pipeline streamdiffusion, params)",
               "WHIP: POST the SDP offer to whip_url (client sends its video track)",
               "GET /v1/streams/{id}/status until the output plays",
               "WHEP: POST an SDP offer to the WHIP answer's Livepeer-Playback-Url",
               "PATCH /v1/streams/{id} for updates", "DELETE /v1/streams?id= at the end"]
_STATUS_NOTE = "reported by the service (GET /v1/streams/{id}/status)"


def hosted_schema(params: Mapping[str, Any]) -> PipelineSchema:
    """The hosted pipeline as a Scope schema would put it: generative, video in, at the stream's size.

    It lets a hosted trial pick its input as a Scope trial does (scene steps, stamped).
    """
    size = {key: {"default": int(params.get(key) or DEFAULT_SIZE)} for key in ("height", "width")}
    return PipelineSchema(id=HOSTED_PIPELINE, name=f"StreamDiffusion ({params.get('model_id')}, hosted)",
                          supported_modes=["video"], default_mode="video", supports_prompts=True,
                          config_schema={"properties": size})


async def run_hosted_trial(client: HostedClient, spec: TrialSpec, params: Mapping[str, Any], *, simulated: bool,
                           **options: Any) -> TrialResult:
    """One hosted stream, one segment: :func:`run_hosted_session` with the stream's own params."""
    (result,) = await run_hosted_session(client, spec, params, [Segment()], simulated=simulated, **options)
    return result


async def run_hosted_session(client: HostedClient, spec: TrialSpec, params: Mapping[str, Any],
                             segments: Sequence[Segment], *, simulated: bool, name: str | None = None,
                             ready_timeout_s: float = 300.0, poll_s: float = 0.5,
                             on_event: Callable[[str], None] | None = None,
                             on_result: Callable[[TrialResult], None] | None = None) -> list[TrialResult]:
    """Measure several settings in one hosted stream; one result per segment (errors kept in them).

    The stream starts with ``params`` and the first segment's; each later segment's params
    are a ``PATCH`` (hosted names), measured once the output has responded, as a Scope
    session's segments are. ``poll_s`` is the status and WHEP poll interval (``load_s``'s
    resolution); ``ready_timeout_s`` how long the stream may take to play.
    """
    say = on_event or (lambda text: log.info("%s", text))
    results = [TrialResult(spec, client.url, simulated, None, time.time(), segment=segment, via=WHIP,
                           setup_steps=list(SETUP_STEPS)) for segment in segments]
    stamped = is_stamped(spec)
    inputs = InputKeeper() if stamped else None
    run = SessionRun(spec, results, None, FrameRecorder(read_stamps=stamped, inputs=inputs),
                     _with_status_figures(on_result or (lambda result: None)))
    session = HostedSession(client, {**params, **segments[0].parameters}, name=name)
    run.session = session
    for result in results:
        result.timeline = session.timeline
    session.on_frame(run.recorder)
    try:
        say(f"creating a stream ({params.get('model_id')})")
        await session.create()  # the API judges the params before anything is made of them
        run.source = trial_source(spec, hosted_schema(session.params))
        if inputs is not None:
            run.source.on_sent.append(inputs)
        await session.connect(run.source, ready_timeout_s=ready_timeout_s, poll_s=poll_s)
        results[0].load = _load_result(session)
        for result in results:
            result.server_state = {"stream_id": session.session_id, "params": session.params}
        await stream_segments(run, say, lambda current, first_ns: _sample_status(session, current, first_ns))
    except LabError as exc:
        run.fail(exc, session.phase)
        say(f"{session.phase} failed: {type(exc).__name__}")
    finally:
        await session.close()  # deletes the stream
        if run.source is not None:
            run.source.stop()
    run.emit_remaining()
    return results


def _load_result(session: HostedSession) -> LoadResult | None:
    """The hosted "load": stream created, then ready (accurate to the status poll interval)."""
    times = session.times
    if times.ready_s is None:
        return None
    stages = (StageTiming(CREATED_STAGE, times.create_s),) if times.create_s is not None else ()
    return LoadResult(HOSTED_PIPELINE, dict(session.params), times.ready_s, times.poll_s, 0, stages)


async def _sample_status(session: HostedSession, current: list[TrialResult], first_ns: int) -> None:
    """What the service says about the stream, once a second, into the current segment's result."""
    while True:
        with contextlib.suppress(LabError):
            status = await session.status()
            current[0].server_samples.append({
                "t_s": (time.perf_counter_ns() - first_ns) / 1e9, "session": session.session_id,
                "state": status.state, "fps_out": status.output_fps, "fps_in": status.input_fps,
                "restarts": status.restarts, "ingest_jitter_ms": _ms(status.ingest_jitter_s),
                "ingest_rtt_ms": _ms(status.ingest_rtt_s), "ingest_loss_pct": status.ingest_loss_pct})
        await asyncio.sleep(SERVER_SAMPLE_S)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def status_figures(result: TrialResult) -> list[Figure]:
    """The service's own figures beside the client's (``server_fps_out`` is the analysis's, as for Scope).

    Input fps as last reported (the service's average), restarts at most, the ingest's
    jitter and RTT as medians over the samples, its loss as last reported.
    """
    def values(key: str) -> list[float]:
        return [float(s[key]) for s in result.server_samples if isinstance(s.get(key), int | float)]

    def figure(name: str, key: str, unit: str, pick: Callable[[list[float]], float], what: str) -> Figure:
        found = values(key)
        return Figure(name, pick(found) if found else None, unit, len(found), note=f"{what}, {_STATUS_NOTE}")

    return [figure("server_fps_in", "fps_in", "fps", lambda v: v[-1], "input_status.fps"),
            figure("server_restarts", "restarts", "count", max, "inference_status.restart_count"),
            figure("server_ingest_jitter_ms", "ingest_jitter_ms", "ms", statistics.median, "ingest video jitter"),
            figure("server_ingest_rtt_ms", "ingest_rtt_ms", "ms", statistics.median, "ingest RTT"),
            figure("server_ingest_loss_pct", "ingest_loss_pct", "%", lambda v: v[-1], "ingest packet loss")]


def _with_status_figures(on_result: Callable[[TrialResult], None]) -> Callable[[TrialResult], None]:
    def hand_out(result: TrialResult) -> None:
        result.figures = result.figures + status_figures(result)
        on_result(result)
    return hand_out
