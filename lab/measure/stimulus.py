"""What a trial shows the pipeline: its input source and size, and the stimuli fired in time.

The source is chosen from the spec and the pipeline's schema (:func:`trial_source`: stamped
for frame-preserving pipelines, scene steps for generative ones, at the trial's size). While
a segment streams, its parameter changes fire on schedule (:func:`fire_controls`), one-shot
keys are re-sent (:func:`resend`) and a step source switches scene each time the last
switch's response has passed (:func:`switch_scenes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np

from lab import resources
from lab.measure.change import DEFAULT_WINDOW_S, detect_change
from lab.measure.recorder import FrameRecorder, Session, Window
from lab.measure.spec import ControlChange, TrialSpec, resolution
from lab.models import PipelineSchema
from lab.sources import StepSource, VideoSource, make_source

__all__ = ["STEP_POLL_S", "fire_controls", "is_stamped", "resend", "sleep_until", "switch_scenes", "trial_source"]

STEP_POLL_S = 0.25  # how often the output is checked for a stimulus's response


def trial_source(spec: TrialSpec, schema: PipelineSchema) -> VideoSource:
    """The client-side input of a video-mode WebRTC trial (``source="auto"`` decides by the schema)."""
    height, width = resolution(spec, schema)
    kind = spec.source
    if kind == "auto":
        kind = "step" if schema.is_generative else "stamped"
    options: dict[str, Any] = {"width": width, "height": height, "fps": spec.fps, **spec.source_options}
    if kind == "step":
        options.setdefault("stamp", True)
    if kind == "file":
        options.setdefault("path", resources.CLIP)  # the shipped looping clip, unless the spec names a file
    return make_source(kind, **options)


def is_stamped(spec: TrialSpec) -> bool:
    """Whether the trial's source stamps its frames (so output frames can be read back by id)."""
    return spec.source in ("auto", "stamped", "step") or bool(spec.source_options.get("stamp"))


async def fire_controls(session: Session, controls: tuple[ControlChange, ...], start_ns: int,
                        window: Window) -> None:
    """Send each control at its time from ``start_ns``; the window keeps when each went out."""
    for control in sorted(controls, key=lambda c: c.at_s):
        await sleep_until(start_ns + int(control.at_s * 1e9))
        window.controls.append((await session.send(control.parameters), control))


async def resend(session: Session, parameters: dict[str, Any], every_s: float) -> None:
    """Re-send one-shot keys (reference images) so that every chunk carries them, not just one."""
    while True:
        await asyncio.sleep(every_s)
        await session.send(parameters)


async def switch_scenes(source: StepSource, spec: TrialSpec, start_ns: int, session: Session,
                        recorder: FrameRecorder, window: Window, stop: asyncio.Event) -> None:
    """Switch, watch for the response (the same detector as the analysis), settle, repeat until stopped."""
    await sleep_until(start_ns + int(spec.step_start_s * 1e9))
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


async def sleep_until(ns: int) -> None:
    """Sleep until ``time.perf_counter_ns()`` reaches ``ns`` (at once if it has)."""
    await asyncio.sleep(max((ns - time.perf_counter_ns()) / 1e9, 0.0))
