"""Check a create or update body as the hosted API does, and list every problem by field.

Field names and types are those of ``daydream-sdk`` 0.1.0's ``CreateStreamRequest`` (the
``streamdiffusion`` pipeline; its ``params`` are chosen by ``model_id``). Only the fields a
benchmark sets are typed here; the SDK's other optional fields are accepted as they come.
A refusal is a 400 with the API's error body, its ``details`` a list of
``{"path": "params.guidance_scale", "message": ...}``, one per problem.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["MODELS", "ParamsProblem", "check_create", "check_update"]

# The public models of the SDK's params union (CreateStreamParamsRequest's discriminator).
MODELS: tuple[str, ...] = (
    "stabilityai/sd-turbo",
    "stabilityai/sdxl-turbo",
    "Lykon/dreamshaper-8",
    "prompthero/openjourney-v4",
)

# The SDK's other optional params fields: accepted without a check.
_UNCHECKED = frozenset({
    "prompt_interpolation_method", "normalize_prompt_weights", "normalize_seed_weights",
    "use_safety_checker", "lora_dict", "use_lcm_lora", "lcm_lora_id", "acceleration",
    "use_denoising_batch", "do_add_noise", "seed_interpolation_method",
    "enable_similar_image_filter", "similar_image_filter_threshold",
    "similar_image_filter_max_skip_frame", "skip_diffusion", "image_postprocessing",
    "latent_preprocessing", "latent_postprocessing", "ip_adapter", "ip_adapter_style_image_url",
    "cached_attention",
})

Weighted = list[tuple[str | float, float]]


class _ControlNet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: str
    conditioning_scale: float
    preprocessor: str
    enabled: bool
    preprocessor_params: dict[str, Any] | None = None
    control_guidance_start: float | None = None
    control_guidance_end: float | None = None


class _Preprocessing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    processors: list[dict[str, Any]]
    enabled: bool | None = None


class _Params(BaseModel):
    model_config = ConfigDict(extra="allow")
    model_id: str | None = None
    prompt: str | Weighted | None = None
    negative_prompt: str | None = None
    guidance_scale: float | None = Field(default=None, ge=0)
    delta: float | None = Field(default=None, ge=0, le=1)
    num_inference_steps: int | None = Field(default=None, ge=1)
    t_index_list: list[int] | None = None
    width: int | None = Field(default=None, ge=64, le=1024)
    height: int | None = Field(default=None, ge=64, le=1024)
    seed: int | list[tuple[int, float]] | None = None
    controlnets: list[_ControlNet] | None = None
    image_preprocessing: _Preprocessing | None = None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pipeline: Literal["streamdiffusion"]
    params: _Params
    name: str | None = None
    output_rtmp_url: str | None = None


ParamsProblem = dict[str, str]


def check_create(body: Any) -> list[ParamsProblem]:
    """Problems of a ``POST /v1/streams`` body (empty when it is accepted)."""
    return _check(body, model_required=True)


def check_update(body: Any) -> list[ParamsProblem]:
    """Problems of a ``PATCH /v1/streams/{id}`` body: only the params sent are changed."""
    return _check(body, model_required=False)


def _check(body: Any, *, model_required: bool) -> list[ParamsProblem]:
    problems: list[ParamsProblem] = []
    try:
        _Body.model_validate(body)
    except ValidationError as exc:
        problems += [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                     for e in exc.errors() if e["loc"][:2] != ("params", "model_id")]
    params = body.get("params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        return problems
    known = set(_Params.model_fields) | _UNCHECKED
    problems += [{"path": f"params.{key}", "message": "Unknown field"}
                 for key in sorted(params) if key not in known]
    model_id = params.get("model_id")
    if model_id is None and model_required:
        problems.append({"path": "params.model_id", "message": "Field required"})
    elif model_id is not None and model_id not in MODELS:
        problems.append({"path": "params.model_id",
                         "message": f"Model {model_id!r} is not offered; offered: {', '.join(MODELS)}"})
    return problems
