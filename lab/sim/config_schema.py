"""Build a pipeline's ``config_schema``: the JSON Schema of its (emulated) config class.

Scope publishes each pipeline's pydantic config class as JSON Schema. The simulator builds an
equivalent pydantic model per pipeline (the properties every built-in shares, with that
pipeline's defaults, plus its extra properties) and lets pydantic write the schema, so the
shapes match what a real server sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = ["EXTRA_PROPERTIES", "build_config_schema"]


# These three classes carry no docstrings on purpose: pydantic would publish a docstring as
# the schema's "description", which Scope's schemas do not have.


class VaeType(str, Enum):  # VAE variants of the Wan-based pipelines (load param vae_type)
    WAN = "wan"
    LIGHTVAE = "lightvae"
    TAE = "tae"
    LIGHTTAE = "lighttae"


class Quantization(str, Enum):  # weight quantizations of the Wan-based pipelines
    FP8_E4M3FN = "fp8_e4m3fn"


class CtrlInput(BaseModel):  # controller state: held keys and mouse motion
    button: set[str] = Field(default_factory=set)
    mouse: tuple[float, float] = (0.0, 0.0)


# name -> (annotation, default, constraints); defaults here are Scope's base-class defaults.
_COMMON_PROPERTIES: dict[str, tuple[Any, Any, dict[str, float]]] = {
    "height": (int, 512, {"ge": 1}),
    "width": (int, 512, {"ge": 1}),
    "manage_cache": (bool, True, {}),
    "base_seed": (int, 42, {"ge": 0}),
    "denoising_steps": (list[int] | None, None, {}),
    "lora_merge_strategy": (Literal["permanent_merge", "runtime_peft"] | None, None, {}),
    "noise_scale": (float | None, None, {"ge": 0.0, "le": 1.0}),
    "noise_controller": (bool | None, None, {}),
    "input_size": (int | None, 1, {"ge": 1}),
    "ref_images": (list[str] | None, None, {}),
    "vace_context_scale": (float, 1.0, {"ge": 0.0, "le": 2.0}),
}

EXTRA_PROPERTIES: dict[str, tuple[Any, Any, dict[str, float]]] = {
    "vae_type": (VaeType, VaeType.WAN, {}),
    "quantization": (Quantization | None, None, {}),
    "ctrl_input": (CtrlInput | None, None, {}),
    "model_size": (Literal["small", "large"], "small", {}),
}
"""Extra config properties a profile may name, beyond the common ones."""


def build_config_schema(
    title: str, defaults: Mapping[str, Any], extras: Sequence[str]
) -> dict[str, Any]:
    """Return the JSON Schema of a pipeline config class.

    Parameters
    ----------
    title
        Name of the config class, e.g. ``"LongLiveConfig"``; it becomes the schema title.
    defaults
        Defaults that differ from the common ones, e.g. ``{"height": 320, "width": 576}``.
    extras
        Names of extra properties from :data:`EXTRA_PROPERTIES`, appended in this order.

    Returns
    -------
    dict
        ``{"$defs"?, "additionalProperties": false, "properties": {...}, "title", "type"}``.

    Raises
    ------
    ValueError
        If ``defaults`` or ``extras`` name a property that is not known.

    Examples
    --------
    >>> build_config_schema("GrayConfig", {}, [])["properties"]["height"]["default"]
    512
    """
    _require_known(title, "extras", extras, EXTRA_PROPERTIES)
    specs = {**_COMMON_PROPERTIES, **{name: EXTRA_PROPERTIES[name] for name in extras}}
    _require_known(title, "defaults for", defaults, specs)
    fields: dict[str, Any] = {
        name: (annotation, Field(defaults.get(name, default), **constraints))
        for name, (annotation, default, constraints) in specs.items()
    }
    model = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)
    return model.model_json_schema()


def _require_known(title: str, what: str, names: Iterable[str], known: Mapping[str, Any]) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"{title}: {what} {unknown} name no known config property; known: {sorted(known)}."
        )
