"""What a trial measures: the pipeline, its input and path, and the stimuli it fires.

:class:`TrialSpec` is one trial's plan; :class:`Segment` is one runtime setting measured
inside a session (:func:`lab.measure.run.run_session` measures several in one stream);
:class:`ControlChange` is a parameter update fired at a set time, whose response the
analysis times. :func:`load_params` is what a spec asks the server to load, at the size
:func:`resolution` settles. What came back is a :class:`lab.measure.result.TrialResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lab.headless import DEFAULT_POLL_HZ, Via
from lab.models import PipelineSchema
from lab.protocol import frontend_load_params
from lab.rtc import InputMode

__all__ = ["ControlChange", "Segment", "SourceChoice", "TrialSpec", "REFERENCE_RESEND_S", "load_params", "resolution"]

SourceChoice = Literal["auto", "pattern", "stamped", "step", "file", "image"]
# Scope applies these keys to one chunk per send (VACE's one-shot semantics).
# A segment that sets one of them re-sends it this often, so that (about) every chunk is
# conditioned on it: at 12-frame chunks and 20 fps a chunk takes 0.6 s. On faster
# pipelines some chunks go without, so the cost measured is a lower bound.
REFERENCE_RESEND_S = 0.5


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


def resolution(spec: TrialSpec, schema: PipelineSchema) -> tuple[int, int]:
    """(height, width): the spec's, else the load params', else the schema's for the mode."""
    if spec.resolution:
        return spec.resolution
    if "height" in spec.load_params and "width" in spec.load_params:
        return int(spec.load_params["height"]), int(spec.load_params["width"])
    return schema.resolution(spec.mode) or (512, 512)


def load_params(spec: TrialSpec, schema: PipelineSchema) -> dict[str, Any]:
    """The frontend's load parameters for the trial's size, under the spec's own."""
    return {**frontend_load_params(schema, spec.mode, resolution=resolution(spec, schema)), **spec.load_params}
