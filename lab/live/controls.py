"""What can be changed while a pipeline streams, read from the server's schema, and how it is sent.

Scope has no list of runtime parameters. The pipeline schema gives config properties
(``denoising_steps``, ``noise_scale``, ``noise_controller``, ``vace_context_scale``,
``manage_cache`` ...) and capability flags (``supports_prompts``, ``supports_vace``,
``supports_kv_cache_bias``, ``supports_cache_management``); :func:`runtime_controls`
turns them into :class:`ControlSpec` records for the mode being streamed:

- ``denoising_steps`` becomes the runtime ``denoising_step_list`` (the name differs at
  run time), with the mode's default from ``mode_defaults``;
- ``noise_scale`` and ``noise_controller`` only in video mode (text mode clears them);
- ``vace_context_scale`` only for VACE pipelines, ``kv_cache_attention_bias`` only with
  ``supports_kv_cache_bias`` (its server default is not published, so it is not sent
  until it is moved), ``manage_cache`` only with ``supports_cache_management``;
- any other property whose ``ui`` object says ``is_load_param: false`` (a newer Scope or a
  plugin), as a slider or checkbox, so such pipelines get their controls too.

Updates go over the data channel as one merged object holding only what changed since the
last send (:class:`UpdateTracker`): Scope applies one queued update per generated chunk
and keeps at most 8, so a burst of separate messages would be applied late or dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lab.measure.transition import AT_ONCE, Transition, prompt_update
from lab.protocol import ONE_SHOT_KEYS
from lab.models import PipelineSchema

__all__ = [
    "ControlKind",
    "ControlSpec",
    "Transition",
    "AT_ONCE",
    "UpdateTracker",
    "runtime_controls",
    "parse_steps",
    "prompt_items",
    "prompt_update",
]

ControlKind = Literal["float", "int", "bool", "steps"]

# Keys Scope acts on once and then forgets, resent on purpose and never diffed away: its
# one-chunk keys (lab.protocol) and the cache-reset trigger the panel's button sends.
_RESENT_KEYS = ONE_SHOT_KEYS | {"reset_cache"}
# Schema properties handled by name below (or load-time only), never offered generically.
_NAMED_PROPERTIES = frozenset({
    "height", "width", "base_seed", "denoising_steps", "noise_scale", "noise_controller",
    "vace_context_scale", "manage_cache", "input_size", "ref_images", "lora_merge_strategy",
    "vae_type", "quantization",
})


@dataclass(frozen=True)
class ControlSpec:
    """One runtime control: the data-channel key, how to show it, and its starting value.

    ``sent_at_start`` is False when the server's own default is unknown: the control then
    shows ``default`` but is sent only once the user changes it.
    """

    key: str
    label: str
    kind: ControlKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    sent_at_start: bool = True


def runtime_controls(schema: PipelineSchema, mode: str) -> list[ControlSpec]:
    """The controls ``schema``'s pipeline offers while streaming in ``mode`` ("text" or "video").

    Examples
    --------
    >>> from lab.models import PipelineSchema
    >>> schema = PipelineSchema(id="p", supports_vace=True, config_schema={"properties": {
    ...     "denoising_steps": {"default": [1000, 750]},
    ...     "vace_context_scale": {"default": 1.0, "minimum": 0.0, "maximum": 2.0}}})
    >>> [(c.key, c.default) for c in runtime_controls(schema, "text")]
    [('denoising_step_list', [1000, 750]), ('vace_context_scale', 1.0)]
    """
    properties = schema.properties
    overrides = schema.mode_defaults.get(mode, {})

    def default(name: str) -> Any:
        return overrides.get(name, properties.get(name, {}).get("default"))

    controls: list[ControlSpec] = []
    steps = default("denoising_steps")
    if steps:
        controls.append(ControlSpec("denoising_step_list", "denoising steps", "steps", [int(s) for s in steps]))
    if mode == "video":
        if default("noise_scale") is not None:
            low, high = _bounds(properties["noise_scale"])
            controls.append(ControlSpec("noise_scale", "noise scale", "float", float(default("noise_scale")),
                                        low, high, 0.01))
        if default("noise_controller") is not None:
            controls.append(ControlSpec("noise_controller", "noise controller", "bool",
                                        bool(default("noise_controller"))))
    if schema.supports_vace and "vace_context_scale" in properties:
        low, high = _bounds(properties["vace_context_scale"])
        controls.append(ControlSpec("vace_context_scale", "VACE context scale", "float",
                                    float(default("vace_context_scale") or 1.0), low, high, 0.05))
    if schema.supports_kv_cache_bias:
        controls.append(ControlSpec("kv_cache_attention_bias", "KV cache attention bias", "float", 1.0,
                                    0.01, 1.0, 0.01, sent_at_start=False))
    # Not a declared PipelineSchema field: Scope sends it, the model keeps it as an extra.
    if (schema.model_extra or {}).get("supports_cache_management") and "manage_cache" in properties:
        controls.append(ControlSpec("manage_cache", "manage cache", "bool", bool(default("manage_cache"))))
    controls.extend(_ui_runtime_controls(properties, mode))
    return controls


def _ui_runtime_controls(properties: Mapping[str, Any], mode: str) -> list[ControlSpec]:
    """Properties the schema's ``ui`` object marks as runtime ones (not load parameters)."""
    controls = []
    for name, prop in properties.items():
        ui = prop.get("ui") if isinstance(prop, dict) else None
        if name in _NAMED_PROPERTIES or not isinstance(ui, dict) or ui.get("is_load_param") is not False:
            continue
        if ui.get("modes") and mode not in ui["modes"]:
            continue
        kind = _kind(prop)
        if kind is None:
            continue
        label = str(ui.get("label") or prop.get("title") or name.replace("_", " "))
        low, high = _bounds(prop)
        value = prop.get("default")
        if kind == "bool":
            controls.append(ControlSpec(name, label, "bool", bool(value)))
        elif low is not None and high is not None:
            start = low if value is None else value
            step = 1.0 if kind == "int" else (high - low) / 100
            controls.append(ControlSpec(name, label, kind, start, low, high, step, sent_at_start=value is not None))
    return controls


def _variants(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The property itself and its ``anyOf`` alternatives (Pydantic writes Optional so)."""
    return [prop, *[v for v in prop.get("anyOf", []) if isinstance(v, dict)]]


def _kind(prop: Mapping[str, Any]) -> ControlKind | None:
    types = {v.get("type") for v in _variants(prop)}
    if "boolean" in types:
        return "bool"
    if "integer" in types:
        return "int"
    if "number" in types:
        return "float"
    return None


def _bounds(prop: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(minimum, maximum)`` from the property or its first alternative that has them."""
    low = next((float(v["minimum"]) for v in _variants(prop) if "minimum" in v), None)
    high = next((float(v["maximum"]) for v in _variants(prop) if "maximum" in v), None)
    return low, high


def parse_steps(text: str) -> list[int]:
    """``"1000, 750, 500"`` as a denoising step list; raises ValueError with the reason.

    Examples
    --------
    >>> parse_steps("1000, 750 500")
    [1000, 750, 500]
    """
    parts = text.replace(",", " ").split()
    try:
        steps = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"Denoising steps must be whole numbers, e.g. 1000, 750; got {text!r}.") from None
    if not steps:
        raise ValueError("Give at least one denoising step, e.g. 1000, 750.")
    if any(b >= a for a, b in itertools.pairwise(steps)) or not 0 <= steps[-1] <= steps[0] <= 1000:
        raise ValueError(f"Denoising steps must be descending timesteps between 1000 and 0; got {steps}.")
    return steps


def prompt_items(entries: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """Scope's ``prompts`` list from ``(text, weight)`` pairs, leaving out empty or unweighted ones.

    Examples
    --------
    >>> prompt_items([("a red fox", 1.0), ("", 0.5), ("snow", 0.3)])
    [{'text': 'a red fox', 'weight': 1.0}, {'text': 'snow', 'weight': 0.3}]
    """
    return [{"text": text.strip(), "weight": float(weight)} for text, weight in entries
            if text.strip() and weight > 0]


class UpdateTracker:
    """Remembers what the server was last told, so that each update carries only changes.

    Parameters
    ----------
    initial:
        The parameters the session started with (its ``initialParameters``).

    Examples
    --------
    >>> tracker = UpdateTracker({"noise_scale": 0.7, "prompts": [{"text": "a", "weight": 1.0}]})
    >>> tracker.changes({"noise_scale": 0.7, "prompts": [{"text": "b", "weight": 1.0}]})
    {'prompts': [{'text': 'b', 'weight': 1.0}]}
    """

    def __init__(self, initial: Mapping[str, Any]) -> None:
        self._sent: dict[str, Any] = {}
        self.mark_sent(initial)

    def changes(self, wanted: Mapping[str, Any]) -> dict[str, Any]:
        """The part of ``wanted`` that differs from what was sent (one-shot keys always)."""
        return {key: value for key, value in wanted.items()
                if key in _RESENT_KEYS or key not in self._sent or self._sent[key] != value}

    def mark_sent(self, update: Mapping[str, Any]) -> None:
        """Record an update as sent; a transition counts as sending its target prompts."""
        for key, value in update.items():
            if key == "transition":
                self._sent["prompts"] = value["target_prompts"]
            elif key not in _RESENT_KEYS:
                self._sent[key] = value

    @property
    def sent(self) -> dict[str, Any]:
        """What the server was last told, key by key (one-shot keys left out)."""
        return dict(self._sent)
