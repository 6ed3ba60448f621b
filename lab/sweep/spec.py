"""Sweep specs: what to measure, as YAML (shipped ones in ``lab/data/sweeps/``) or built in Python.

A spec names targets, pipelines, a grid of load settings (each combination is one
pipeline load) and a grid of runtime settings (each combination is one segment, sent over
the data channel inside a session), plus trial length, repeats and order::

    name: vace
    pipelines: all                 # or a list of ids; "all" = what the server lists
    require: [vace]                # keep only pipelines whose schema supports these
    load:                          # grid: every combination is one load
      vace_enabled: [false, true]
    runtime:                       # grid: every combination is one segment of a session
      vace_ref_images: [0, 1, 2, 4]   # a count: that many shipped images (uploaded once)
      vace_context_scale: [0.5, 1.0, 1.5]
    parameters:                    # fixed runtime parameters of every session
      prompts: [{text: "a watercolor fox", weight: 1.0}]
    duration_s: 8
    repeats: 2                     # sessions per load; each runs every runtime combination
    order: grouped                 # or random: shuffled within a load group (seeded)
    mode: prefer_video             # video where supported, else the pipeline's default;
                                   # or default, video, text (others are skipped rows)

Runtime keys starting with ``vace_`` only mean something with VACE loaded: under a load
with ``vace_enabled: false`` they are dropped (and the duplicates they leave merged), so
"VACE off" is measured once per session, not once per reference-image count. Likewise
``vace_context_scale`` weighs the reference images' conditioning, so it is dropped from
combinations with ``vace_ref_images: 0`` (the input video is not routed through VACE in
these sweeps).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lab import resources
from lab.errors import LabError

__all__ = ["SweepSpec", "SpecError", "load_spec", "grid", "overrides_from_strings"]


class SpecError(LabError):
    """A sweep spec that cannot be read or does not make sense."""


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

    @field_validator("load", "runtime")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, options in value.items():
            if not options:
                raise ValueError(f"{key!r} has no values; give at least one or remove the key")
        return value

    def load_grid(self) -> list[dict[str, Any]]:
        return grid(self.load)

    def runtime_grid(self, *, vace_loaded: bool) -> list[dict[str, Any]]:
        """Runtime combinations; meaningless VACE keys dropped and the duplicates merged."""
        axes = self.runtime if vace_loaded else {k: v for k, v in self.runtime.items() if not k.startswith("vace_")}
        combos = [_meaningful(c) for c in grid(axes)]
        return list({json.dumps(c, sort_keys=True, default=str): c for c in combos}.values())


def _meaningful(combo: dict[str, Any]) -> dict[str, Any]:
    """The context scale weighs reference conditioning: without reference images it is dropped."""
    if "vace_context_scale" in combo and "vace_ref_images" in combo and not combo["vace_ref_images"]:
        return {k: v for k, v in combo.items() if k != "vace_context_scale"}
    return combo


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
