"""Sweep specs: what to measure, as YAML (shipped ones in ``lab/data/sweeps/``) or built in Python.

A spec names targets, pipelines, a grid of load settings (each combination is one
pipeline load) and a grid of runtime settings (each combination is one segment, sent over
the data channel inside a session), plus trial length, repeats and order::

    name: vace
    pipelines: all                 # or a list of ids; "all" = what the server lists
    require: [vace]                # keep only pipelines whose schema supports these
    load:                          # grid: every combination is one load
      vace_enabled: [false, true]
    references: avatar             # the reference images: a folder, a list of image files, or a
                                   # shipped set (lab/data/ref/<name>/); none: lab/data/ref/*.png
    runtime:                       # grid: every combination is one segment of a session
      vace_ref_images: [0, 1, 2, 4]   # a count: the first that many references (uploaded once); all: every one
      vace_context_scale: [0.5, 1.0, 1.5]
    reference_resend_s: 0.5        # re-send references this often; null: once per segment (drift shows)
    parameters:                    # fixed runtime parameters of every session
      prompts: [{text: "a watercolor fox", weight: 1.0}]
    duration_s: 8
    repeats: 2                     # sessions per load; each runs every runtime combination
    order: grouped                 # or random: shuffled within a load group (seeded)
    mode: prefer_video             # video where supported, else the pipeline's default;
                                   # or default, video, text (others are skipped rows)
    quality_model: pixels          # embedding model of the quality figures: "pixels" (no
                                   # model) or a Hugging Face CLIP repo, e.g.
                                   # openai/clip-vit-base-patch32 (needs scope-lab[quality])
    transition_steps: [0, 4]       # measure prompt-change latency with these transitions (below)
    control_prompt: "a red lighthouse on a black cliff at night"
    control_every_s: 6             # one prompt change this often inside each segment
    via: [webrtc]                  # how output is read, one session per path and repeat:
                                   # webrtc, headless-ts (output.ts), headless-frame (polling)
    poll_hz: 30                    # headless-frame: polls of /session/frame per second
    controls:                      # parameter updates during each session (control latency)
      - {at_s: 3.0, parameters: {prompts: [{text: "a red fox", weight: 1.0}]}}
    record_server: false           # true: the server records each session too (recordings/)
    hosted:                        # what daydream: targets stream, in the hosted API's names
      params: {model_id: stabilityai/sd-turbo, prompt: "a watercolor fox"}
      runtime: {delta: [0.5, 0.7]} # each a segment, sent as a PATCH (lab.sweep.hosted)

``transition_steps`` measures what a prompt change costs and what Scope's transition adds
to it (Scope's frontend sends prompt changes as 4-step transitions by default). It is one
more runtime axis (``transition_steps=N`` in the condition): inside every segment of that
condition the prompt changes every ``control_every_s`` seconds (the first half that after the
segment starts), to ``control_prompt`` and back to the spec's own ``parameters.prompts``, an
even number of times so every segment starts from the same prompt; each change is sent as a
transition of N chunks (``{"transition": {"target_prompts": ..., "num_steps": N,
"temporal_interpolation_method": "linear"}}``); 0 sends a plain ``prompts`` update, applied
at once. Each change is a stimulus of the control-latency figures (``control_latency_p50``,
``_p95``: sent to the first visibly changed frame, i.e. the onset), and the trial row
records the transition it ran with (``transition``). Pipelines whose schema takes no prompts
are skipped. A segment needs room for a change there and back: ``duration_s`` at least
``2 * control_every_s``. ``control_every_s`` must cover the transition (N chunks) plus the
change detector's 3 s noise baseline, so 6 s suits 4-step transitions; use ``mode: text``
(or a ``source`` without scene steps), so that input scene switches do not mix with the
responses to the prompt.

Runtime keys starting with ``vace_`` only mean something with VACE loaded: under a load
with ``vace_enabled: false`` they are dropped (and the duplicates they leave merged), so
"VACE off" is measured once per session, not once per reference-image count. Likewise
``vace_context_scale`` weighs the reference images' conditioning, so it is dropped from
combinations with ``vace_ref_images: 0`` (the input video is not routed through VACE in
these sweeps).

``references`` is resolved when the spec is validated, to absolute paths of image files
(checked to be images), so a missing folder or a stray text file is an error before any
pod time is spent, and the run's manifest records exactly which images were used
(``manifest["spec"]["references"]``; quality scoring compares every trial with them).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab import resources
from lab.errors import LabError
from lab.headless import DEFAULT_POLL_HZ, Via

__all__ = ["SweepSpec", "SpecError", "ControlSpec", "HostedSpec", "load_spec", "grid", "overrides_from_strings",
           "resolve_references", "IMAGE_SUFFIXES", "ALL_REFERENCES", "TRANSITION_KEY"]

REF_KEY = "vace_ref_images"
TRANSITION_KEY = "transition_steps"  # a runtime axis of the plan, not a Scope parameter
ALL_REFERENCES = "all"  # vace_ref_images: all -> every reference image of the spec
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class SpecError(LabError):
    """A sweep spec that cannot be read or does not make sense."""


class ControlSpec(BaseModel):
    """A parameter update ``at_s`` seconds into each session's measured window (control latency)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_s: float = Field(ge=0)
    parameters: dict[str, Any] = Field(min_length=1)
    expect: Literal["change", "freeze"] = "change"


class HostedSpec(BaseModel):
    """What ``daydream:`` targets stream, in the hosted API's own names (see :mod:`lab.sweep.hosted`).

    ``params`` are ``POST /v1/streams``'s (``model_id`` required); ``load`` a grid over them
    (each combination its own streams); ``runtime`` a grid of segments, each sent as a
    ``PATCH``; ``controls`` PATCHes at set times in every segment (control latency).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    params: dict[str, Any]
    load: dict[str, list[Any]] = Field(default_factory=dict)
    runtime: dict[str, list[Any]] = Field(default_factory=dict)
    controls: list[ControlSpec] = Field(default_factory=list)
    ready_timeout_s: float = Field(default=300.0, gt=0)  # start-up allowed (real streams: seconds to minutes)
    poll_s: float = Field(default=0.5, gt=0)  # status and WHEP polls: load_s's resolution

    @field_validator("params")
    @classmethod
    def _names_a_model(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value.get("model_id"):
            raise ValueError("hosted.params needs a model_id, e.g. stabilityai/sd-turbo")
        return value


class SweepSpec(BaseModel):
    """A sweep, validated. Unknown keys are errors: a typo must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "sweep"
    description: str = ""
    targets: list[str] = Field(default_factory=lambda: ["sim"])
    pipelines: Literal["all"] | list[str] = "all"
    require: list[Literal["vace", "lora", "quantization", "prompts"]] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    mode: Literal["default", "prefer_video", "video", "text"] = "prefer_video"
    load: dict[str, list[Any]] = Field(default_factory=dict)
    runtime: dict[str, list[Any]] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    source: Literal["auto", "pattern", "stamped", "step", "file", "image"] = "auto"
    fps: float = Field(default=15.0, gt=0, le=120)
    duration_s: float = Field(default=8.0, gt=0)
    repeats: int = Field(default=1, ge=1)
    order: Literal["grouped", "random"] = "grouped"
    seed: int = 0
    allow_download: bool = False
    settle_timeout_s: float = Field(default=10.0, gt=0)
    quality_model: str = Field(default="pixels", min_length=1)
    references: list[str] | None = None  # absolute image paths once validated (see resolve_references)
    reference_resend_s: float | None = Field(default=0.5, gt=0)
    transition_steps: list[int] | None = None  # see the module docstring
    control_prompt: str = Field(default="a red lighthouse on a black cliff at night", min_length=1)
    control_every_s: float = Field(default=6.0, gt=0)
    record_server: bool = False  # the server records each session too: recordings/<trial>.mp4
    via: list[Via] = Field(default_factory=lambda: ["webrtc"], min_length=1)
    poll_hz: float = Field(default=DEFAULT_POLL_HZ, gt=0, le=120)
    controls: list[ControlSpec] = Field(default_factory=list)
    hosted: HostedSpec | None = None  # what daydream: targets stream (lab.sweep.hosted)

    @field_validator("references", mode="before")
    @classmethod
    def _resolved_references(cls, value: Any) -> list[str] | None:
        return None if value is None else [str(path) for path in resolve_references(value)]

    @field_validator("load", "runtime")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, options in value.items():
            if not options:
                raise ValueError(f"{key!r} has no values; give at least one or remove the key")
        return value

    @model_validator(mode="after")
    def _counts_fit_the_references(self) -> SweepSpec:
        available = len(self.reference_files())
        for count in self.runtime.get(REF_KEY, []):
            if count == ALL_REFERENCES:
                continue
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"{REF_KEY} values are counts of reference images (0, 1, 2, ...) or "
                                 f"{ALL_REFERENCES!r}, not {count!r}")
            if count > available:
                raise ValueError(f"{REF_KEY}: {count} asked for, but the references hold {available} "
                                 f"image(s); lower the count, use {ALL_REFERENCES!r}, or add images")
        return self

    @model_validator(mode="after")
    def _transitions_can_be_measured(self) -> SweepSpec:
        steps = self.transition_steps
        if steps is None:
            return self
        if not steps or any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in steps):
            raise ValueError(f"{TRANSITION_KEY} takes chunk counts (0 = at once, 4 = Scope's default), "
                             f"at least one, not {steps!r}")
        if not self.parameters.get("prompts"):
            raise ValueError(f"{TRANSITION_KEY} changes the prompt and back: give the prompt to return to in "
                             "parameters.prompts, e.g. [{text: 'a watercolor fox', weight: 1.0}]")
        if TRANSITION_KEY in self.runtime or "prompts" in self.runtime:
            raise ValueError(f"give {TRANSITION_KEY} as its own key, and no runtime prompts axis beside it "
                             "(its segments change the prompt themselves)")
        if self.duration_s < 2 * self.control_every_s:
            raise ValueError(f"{TRANSITION_KEY}: duration_s {self.duration_s:g} leaves no room for a prompt "
                             f"change and back every control_every_s {self.control_every_s:g} s; make "
                             f"duration_s at least {2 * self.control_every_s:g}")
        return self

    def reference_files(self) -> list[Path]:
        """The reference images this sweep sends: its ``references``, else the shipped flat set."""
        return [Path(p) for p in self.references] if self.references is not None else resources.reference_images()

    def load_grid(self) -> list[dict[str, Any]]:
        return grid(self.load)

    def runtime_grid(self, *, vace_loaded: bool) -> list[dict[str, Any]]:
        """Runtime combinations; meaningless VACE keys dropped, ``all`` counted, the duplicates merged."""
        axes = self.runtime if vace_loaded else {k: v for k, v in self.runtime.items() if not k.startswith("vace_")}
        if self.transition_steps is not None:
            axes = {**axes, TRANSITION_KEY: list(self.transition_steps)}
        if axes.get(REF_KEY):
            count = len(self.reference_files())
            axes = {**axes, REF_KEY: [count if c == ALL_REFERENCES else c for c in axes[REF_KEY]]}
        combos = [_meaningful(c) for c in grid(axes)]
        return list({json.dumps(c, sort_keys=True, default=str): c for c in combos}.values())


def _meaningful(combo: dict[str, Any]) -> dict[str, Any]:
    """The context scale weighs reference conditioning: without reference images it is dropped."""
    if "vace_context_scale" in combo and "vace_ref_images" in combo and not combo["vace_ref_images"]:
        return {k: v for k, v in combo.items() if k != "vace_context_scale"}
    return combo


def resolve_references(value: str | Path | list[str | Path]) -> list[Path]:
    """Reference images as absolute paths: from a folder, a list of files, or a shipped set's name.

    A string is a path if it exists, else the name of a shipped set (a folder of
    ``lab/data/ref/``). A folder gives its image files (by suffix, sorted); every file must
    open as an image. Raises ValueError (a spec error) saying what is wrong and what to do.
    """
    if isinstance(value, str | Path):
        path = Path(value).expanduser()
        if not path.exists():
            shipped = resources.REF_DIR / str(value)
            if not str(value) or not shipped.is_dir():
                sets = ", ".join(sorted(p.name for p in resources.REF_DIR.iterdir() if p.is_dir())) or "none"
                raise ValueError(f"references: {str(value)!r} is neither a folder or file that exists nor a "
                                 f"shipped set ({sets}); give a folder of images (--set references=path/) or a "
                                 "list of image files")
            path = shipped
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                found = ", ".join(sorted(p.name for p in path.iterdir())[:5]) or "nothing"
                raise ValueError(f"references: the folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)}; "
                                 f"found {found}); put your reference images there")
            return [_image(p) for p in files]
        return [_image(path)]
    if isinstance(value, list) and value:
        return [p for item in value for p in _listed(item)]
    raise ValueError(f"references must be a folder, an image file or a non-empty list of image files, not {value!r}")


def _listed(item: Any) -> list[Path]:
    if not isinstance(item, str | Path):
        raise ValueError(f"references: {item!r} in the list is not a file path")
    path = Path(item).expanduser()
    if not path.is_file():
        raise ValueError(f"references: no image file at {path}; list image files that exist (or give a folder)")
    return [_image(path)]


def _image(path: Path) -> Path:
    """``path`` made absolute, if it opens as an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"references: {path} is not an image PIL can read ({exc}); use PNG or JPEG files") from None
    return path.resolve()


def grid(axes: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, first axis slowest; ``[{}]`` for no axes."""
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(axes[k] for k in keys))]


def load_spec(source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """A spec from a YAML file, a shipped spec's name (``"vace"``), or a dict.

    ``overrides`` replace top-level keys (``None`` values are ignored, so notebook
    parameters left at None keep the spec's own settings).
    """
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if changes:
        return _validated({**load_spec(source).model_dump(), **changes}, f"{source} with {changes}")
    if isinstance(source, Mapping):
        return _validated(dict(source), "the spec")
    path = Path(source)
    if not path.exists():
        path = resources.shipped_spec(str(source)) or path
    if not path.is_file():
        shipped = ", ".join(resources.shipped_specs())
        raise SpecError(f"No sweep spec at {path}. Give a YAML file or one of the shipped specs: {shipped}.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold a mapping of spec keys (name, pipelines, load, runtime, ...).")
    return _validated(data, str(path))


def _validated(data: dict[str, Any], where: str) -> SweepSpec:
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors())
        raise SpecError(f"{where} is not a valid sweep spec: {problems}.") from exc


def overrides_from_strings(items: list[str]) -> dict[str, Any]:
    """``["duration_s=5", "pipelines=[longlive]"]`` -> ``{"duration_s": 5, "pipelines": ["longlive"]}``."""
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"Override {item!r} is not KEY=VALUE (for example duration_s=5).")
        try:
            overrides[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"Override {item!r}: the value is not valid YAML ({exc}).") from exc
    return overrides
