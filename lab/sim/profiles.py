"""Pipeline profiles: what the simulator knows about each pipeline, loaded from a YAML file.

A profile file (``profiles/scope-<version>.yaml`` next to this module) lists the pipelines in
Scope's registry order. Each profile holds the metadata Scope reports for the pipeline in
``GET /api/v1/pipelines/schemas`` and an ``emulation`` block with what the simulator needs to
act like it (load time, loading stages, model downloads, and how its video behaves: chunking,
compute time, warm-up, VACE overhead, reference share, identity drift, flicker; see
:mod:`lab.sim.media`). Unknown keys are kept rather than rejected, so a newer profile file
still loads.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from lab.sim.config_schema import build_config_schema

__all__ = [
    "DEFAULT_PROFILE_PATH",
    "INPUT_QUEUE_FRAMES",
    "MAX_REF_SHARE",
    "ConfigSpec",
    "DriftPerSecond",
    "Emulation",
    "FlickerLevels",
    "MediaKind",
    "PipelineProfile",
    "ProfileFile",
    "RefShare",
    "load_profiles",
]

DEFAULT_PROFILE_PATH = Path(__file__).with_name("profiles") / "scope-0.2.4.yaml"

Mode = Literal["text", "video"]
Interpolation = Literal["linear", "slerp"]
Usage = Literal["preprocessor", "postprocessor"]


class ConfigSpec(BaseModel):
    """How to build a pipeline's ``config_schema`` (see :mod:`lab.sim.config_schema`)."""

    model_config = ConfigDict(extra="allow")

    title: str
    defaults: dict[str, Any] = Field(default_factory=dict)
    extras: list[str] = Field(default_factory=list)


MediaKind = Literal["passthrough", "gray", "generative"]

MAX_REF_SHARE = 0.9  # the prompts keep at least a tenth of a frame, whatever the context scale
RefShare = Annotated[float, Field(ge=0, le=MAX_REF_SHARE)]
"""Share of a frame the VACE reference picture takes at context scale 1."""
DriftPerSecond = Annotated[float, Field(ge=0, le=10)]
"""Fraction of the initial reference share lost per second (linear decay)."""
FlickerLevels = Annotated[float, Field(ge=0, le=100)]
"""Amplitude of the per-frame brightness offset, in levels of 0-255."""


INPUT_QUEUE_FRAMES = 30  # Scope 0.2.4's bounded input queue (its rules: lab.sim.media.queues)


class Emulation(BaseModel):
    """Simulator-only data about a pipeline; none of it is part of Scope's API.

    The media fields drive :mod:`lab.sim.media` (the profile file's header explains each).
    Media times are real seconds: :attr:`lab.sim.config.SimConfig.speed` never scales them.
    """

    model_config = ConfigDict(extra="allow")

    load_s: float = Field(ge=0)
    loading_stages: list[str] = Field(default_factory=list)
    model_download_gb: float = Field(default=0.0, ge=0)
    artifacts: list[str] = Field(default_factory=list)
    chunk_frames: int = Field(ge=1)
    input_queue_frames: int = Field(default=INPUT_QUEUE_FRAMES, ge=1)
    cuda_only: bool = False
    media: MediaKind = "passthrough"
    output_frames_per_chunk: int | None = Field(default=None, ge=1)
    chunk_compute_s: float = Field(default=0.0, ge=0)
    chunk_compute_cv: float = Field(default=0.0, ge=0, lt=1)
    denoise_share: float = Field(default=0.0, ge=0, le=1)
    warmup_chunks: int = Field(default=0, ge=0)
    warmup_factor: float = Field(default=1.0, ge=1)
    vace_overhead_s: float = Field(default=0.0, ge=0)
    vace_ref_overhead_s: float = Field(default=0.0, ge=0)
    pipeline_delay_s: float = Field(default=0.0, ge=0)
    loader_height: int | None = Field(default=None, ge=1)
    loader_width: int | None = Field(default=None, ge=1)
    vace_ref_share: RefShare = 0.6
    identity_drift_per_s: DriftPerSecond = 0.0
    flicker_amplitude: FlickerLevels = 0.0

    @model_validator(mode="after")
    def _check_media(self) -> Emulation:
        if self.media == "generative" and self.chunk_compute_s <= 0:
            raise ValueError("a generative pipeline needs a positive chunk_compute_s")
        return self

    @property
    def frames_per_chunk(self) -> int:
        """Output frames per chunk (``output_frames_per_chunk``, else ``chunk_frames``)."""
        return self.output_frames_per_chunk or self.chunk_frames


class PipelineProfile(BaseModel):
    """One pipeline: Scope's schema metadata (fields in Scope's key order) plus emulation data.

    Defaults are what Scope's CPU pipelines report, so a profile only lists what differs.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    description: str
    version: str = "1.0.0"
    supported_modes: list[Mode]
    default_mode: Mode
    supports_prompts: bool = False
    default_temporal_interpolation_method: Interpolation | None = "slerp"
    default_temporal_interpolation_steps: int | None = 0
    default_spatial_interpolation_method: Interpolation | None = "linear"
    docs_url: str | None = None
    estimated_vram_gb: float | None = None
    requires_models: bool = False
    supports_lora: bool = False
    supports_vace: bool = False
    supports_cache_management: bool = False
    supports_kv_cache_bias: bool = False
    supports_quantization: bool = False
    min_dimension: int = 1
    recommended_quantization_vram_threshold: float | None = None
    modified: bool = False
    produces_video: bool = True
    produces_audio: bool = False
    usage: list[Usage] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=lambda: ["video"])
    outputs: list[str] = Field(default_factory=lambda: ["video"])
    config: ConfigSpec
    mode_defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    emulation: Emulation

    _config_schema: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> PipelineProfile:
        if self.default_mode not in self.supported_modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not in supported_modes")
        if self.emulation.cuda_only != (self.estimated_vram_gb is not None):
            raise ValueError("emulation.cuda_only must be true exactly when VRAM is estimated")
        self._config_schema = build_config_schema(
            self.config.title, self.config.defaults, self.config.extras
        )
        return self

    def schema_meta(self) -> dict[str, Any]:
        """Return the pipeline's entry of ``/api/v1/pipelines/schemas``, in Scope's key order.

        Examples
        --------
        >>> gray = next(p for p in load_profiles().pipelines if p.id == "gray")
        >>> list(gray.schema_meta())[:3]
        ['id', 'name', 'description']
        """
        meta = self.model_dump(mode="json", include=set(_META_FIELDS))
        meta["config_schema"] = copy.deepcopy(self.config_schema)
        if self.mode_defaults:
            meta["mode_defaults"] = copy.deepcopy(self.mode_defaults)
        meta["plugin_name"] = None
        return meta

    @property
    def config_schema(self) -> dict[str, Any]:
        """The JSON Schema of the pipeline's config class."""
        return self._config_schema

    @property
    def vram_need_gb(self) -> float:
        """Estimated VRAM of a plain load; 0 for pipelines that run on the CPU."""
        return self.estimated_vram_gb or 0.0


# Scope's meta keys that come straight from profile fields, in the order of the model fields.
_META_FIELDS = [
    name for name in PipelineProfile.model_fields
    if name not in ("config", "mode_defaults", "emulation")
]


class ProfileFile(BaseModel):
    """A whole profile file: the Scope version it describes and its pipelines in order."""

    model_config = ConfigDict(extra="allow")

    scope_version: str
    pipelines: list[PipelineProfile]

    @model_validator(mode="after")
    def _check_unique_ids(self) -> ProfileFile:
        ids = [profile.id for profile in self.pipelines]
        duplicates = sorted({pid for pid in ids if ids.count(pid) > 1})
        if duplicates:
            raise ValueError(f"pipeline ids appear more than once: {duplicates}")
        return self


def load_profiles(path: Path | str = DEFAULT_PROFILE_PATH) -> ProfileFile:
    """Load and check a pipeline profile file.

    The result is cached until the file changes, so treat it as read-only.

    Parameters
    ----------
    path
        The YAML file; defaults to the packaged Scope 0.2.4 profiles.

    Returns
    -------
    ProfileFile
        The pipelines in registry order.

    Raises
    ------
    ValueError
        If the file cannot be read, is not YAML, or does not describe valid profiles. The
        message names the file and the offending entry.

    Examples
    --------
    >>> [p.id for p in load_profiles().pipelines][:2]
    ['streamdiffusionv2', 'longlive']
    """
    path = Path(path).resolve()
    try:
        return _load_profiles(path, path.stat().st_mtime_ns)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"Cannot load pipeline profiles from {path}: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _load_profiles(path: Path, mtime_ns: int) -> ProfileFile:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    return ProfileFile.model_validate(data)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
