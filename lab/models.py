"""Typed views of Scope's HTTP responses.

Every model keeps fields it does not know (``extra="allow"``), so a newer Scope that adds
fields does not break the workbench, and what it added stays visible in ``model_extra``.
Field names are Scope's own; where Scope uses camelCase the model
has a snake_case field with an alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ScopeModel",
    "Health",
    "HardwareInfo",
    "PipelineSchema",
    "PipelineSchemas",
    "PipelineStatus",
    "DownloadProgress",
    "ModelsStatus",
    "AssetInfo",
    "IceServer",
    "LoraFile",
    "Plugin",
    "PluginList",
    "InputSourceType",
    "SessionMetrics",
    "GPU_UNKNOWN",
    "gpu_memory_text",
    "LogTail",
    "WebRtcAnswer",
    "LoadStatus",
    "VideoMode",
]

LoadStatus = Literal["not_loaded", "loading", "loaded", "error"]
VideoMode = Literal["text", "video"]


class ScopeModel(BaseModel):
    """Base for response models: unknown fields are kept, names may be given by alias."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Health(ScopeModel):
    """``GET /health``: liveness, version and start time (a change means a restart)."""

    status: str
    timestamp: str | None = None
    server_start_time: float | None = None
    version: str | None = None
    git_commit: str | None = None

    @property
    def is_simulator(self) -> bool:
        """True when the server says it is the scope-lab simulator, not a real Scope."""
        return bool((self.model_extra or {}).get("simulator")) or self.git_commit == "simulator"


class DeviceAvailability(ScopeModel):
    """One of Spout / NDI / Syphon in ``/hardware/info``."""

    available: bool = False
    reason: str | None = None
    install_hint: str | None = None


class HardwareInfo(ScopeModel):
    """``GET /api/v1/hardware/info``: total VRAM of CUDA device 0 in GiB (None without CUDA)."""

    vram_gb: float | None = None
    spout: DeviceAvailability | None = None
    ndi: DeviceAvailability | None = None
    syphon: DeviceAvailability | None = None


class PipelineSchema(ScopeModel):
    """One pipeline's metadata from ``/api/v1/pipelines/schemas``.

    Only ``id`` is certain: when Scope fails to build a schema it sends just id, name,
    description, version and ``schema_error``.
    """

    id: str
    name: str | None = None
    description: str | None = None
    version: str | None = None
    supported_modes: list[str] = Field(default_factory=list)
    default_mode: str | None = None
    supports_prompts: bool = False
    estimated_vram_gb: float | None = None
    requires_models: bool = False
    supports_lora: bool = False
    supports_vace: bool = False
    supports_quantization: bool = False
    supports_kv_cache_bias: bool = False
    min_dimension: int = 1
    recommended_quantization_vram_threshold: float | None = None
    produces_video: bool = True
    produces_audio: bool = False
    usage: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    config_schema: dict[str, Any] = Field(default_factory=dict)
    mode_defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    plugin_name: str | None = None
    schema_error: str | None = None

    @property
    def properties(self) -> dict[str, Any]:
        """The JSON-schema properties of the pipeline's config class."""
        props = self.config_schema.get("properties", {})
        return props if isinstance(props, dict) else {}

    def resolution(self, mode: str | None = None) -> tuple[int, int] | None:
        """Default ``(height, width)`` for ``mode`` (the default mode if None).

        Scope has no resolutions field: the schema's ``height``/``width`` defaults apply,
        overridden per mode by ``mode_defaults``.
        """
        height = self.properties.get("height", {}).get("default")
        width = self.properties.get("width", {}).get("default")
        override = self.mode_defaults.get(mode or self.default_mode or "", {})
        height = override.get("height", height)
        width = override.get("width", width)
        if height is None or width is None:
            return None
        return int(height), int(width)

    @property
    def is_generative(self) -> bool:
        """A main pipeline that makes new images (prompts), not a pre/post-processor."""
        return self.supports_prompts and not self.usage

    def fits_vram(self, vram_gb: float | None) -> bool | None:
        """Whether the estimated VRAM fits ``vram_gb`` (None when either is unknown)."""
        if self.estimated_vram_gb is None or vram_gb is None:
            return None
        return self.estimated_vram_gb <= vram_gb


class PipelineSchemas(ScopeModel):
    """``GET /api/v1/pipelines/schemas``: pipelines keyed by id, in registry order."""

    pipelines: dict[str, PipelineSchema]

    @property
    def ids(self) -> list[str]:
        """Pipeline ids in the server's order."""
        return list(self.pipelines)


class PipelineStatus(ScopeModel):
    """``GET /api/v1/pipeline/status``.

    ``error`` is reported once: the read that returns it resets the server to
    ``not_loaded``, and its ``error`` text is normally null.
    """

    status: LoadStatus
    pipeline_id: str | None = None
    load_params: dict[str, Any] | None = None
    loaded_lora_adapters: list[dict[str, Any]] | None = None
    error: str | None = None
    loading_stage: str | None = None
    produces_video: bool = True
    produces_audio: bool = False


class DownloadProgress(ScopeModel):
    """Progress of the artifact being downloaded (``percentage`` is per artifact)."""

    is_downloading: bool = False
    percentage: float | None = None
    current_artifact: str | None = None
    error: str | None = None


class ModelsStatus(ScopeModel):
    """``GET /api/v1/models/status?pipeline_id=``."""

    downloaded: bool
    progress: DownloadProgress | None = None


class AssetInfo(ScopeModel):
    """One asset file; ``path`` is absolute on the server and is what parameters take."""

    name: str
    path: str
    size_mb: float | None = None
    folder: str | None = None
    type: str | None = None
    created_at: float | None = None


class IceServer(ScopeModel):
    """One ICE server entry; ``credential`` is secret and must never be printed or stored."""

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None

    @property
    def url_list(self) -> list[str]:
        """``urls`` as a list, whichever form the server used."""
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)

    @property
    def is_turn(self) -> bool:
        """True for a TURN relay (``turn:``/``turns:``), which remote WebRTC usually needs."""
        return any(u.startswith(("turn:", "turns:")) for u in self.url_list)

    def redacted(self) -> dict[str, Any]:
        """The entry with secrets replaced, safe to print, log or store."""
        return {
            "urls": self.url_list,
            "username": "***" if self.username else None,
            "credential": "***" if self.credential else None,
        }


class LoraFile(ScopeModel):
    """One LoRA file from ``GET /api/v1/loras``."""

    name: str
    path: str
    size_mb: float | None = None
    folder: str | None = None
    sha256: str | None = None
    provenance: dict[str, Any] | None = None
    read_only: bool = False


class PluginPipeline(ScopeModel):
    """A pipeline a plugin registers."""

    pipeline_id: str
    pipeline_name: str | None = None


class Plugin(ScopeModel):
    """One installed plugin from ``GET /api/v1/plugins``."""

    name: str
    version: str | None = None
    source: str | None = None  # pypi, git or local
    editable: bool = False
    pipelines: list[PluginPipeline] = Field(default_factory=list)
    update_available: bool | None = None
    bundled: bool | None = None


class PluginList(ScopeModel):
    """``GET /api/v1/plugins``: installed plugins, and those that failed to load (with why)."""

    plugins: list[Plugin] = Field(default_factory=list)
    failed_plugins: list[dict[str, Any]] = Field(default_factory=list)


class InputSourceType(ScopeModel):
    """One server-side input source type from ``GET /api/v1/input-sources`` (NDI, Spout, a file...)."""

    source_id: str
    source_name: str | None = None
    source_description: str | None = None
    available: bool = False


GPU_UNKNOWN = "unknown (server reports none)"


def gpu_memory_text(gpu: Mapping[str, Any] | None) -> str:
    """The metrics' GPU block in words; an empty block is unknown, never zero.

    Scope 0.2.4 reads the GPU's total memory under a name PyTorch does not have and
    swallows the error, so its ``gpu`` block is probably always ``{}``.

    Examples
    --------
    >>> gpu_memory_text({})
    'unknown (server reports none)'
    >>> gpu_memory_text({"vram_allocated_mb": 9216.0, "vram_reserved_mb": 10240.0, "vram_total_mb": 32768.0})
    '9216 MB allocated, 10240 MB reserved of 32768 MB'
    """
    if not gpu:
        return GPU_UNKNOWN
    parts = [f"{gpu[key]:.0f} MB {what}" for key, what in (("vram_allocated_mb", "allocated"),
                                                           ("vram_reserved_mb", "reserved"))
             if isinstance(gpu.get(key), int | float)]
    total = gpu.get("vram_total_mb")
    text = ", ".join(parts) or "no allocation figures"
    return text + (f" of {total:.0f} MB" if isinstance(total, int | float) else "")


class SessionMetrics(ScopeModel):
    """``GET /api/v1/session/metrics``: per-session frame counts and GPU memory (see :func:`gpu_memory_text`)."""

    sessions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gpu: dict[str, Any] = Field(default_factory=dict)


class LogTail(ScopeModel):
    """``GET /api/v1/logs/tail``: the last lines after a byte offset, and the offset to resume from."""

    lines: list[str] = Field(default_factory=list)
    offset: int


class WebRtcAnswer(ScopeModel):
    """``POST /api/v1/webrtc/offer``: the answer SDP and the new session's id."""

    sdp: str
    type: str
    session_id: str = Field(alias="sessionId")
