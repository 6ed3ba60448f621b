"""Check load parameters against what the server's schema says a pipeline accepts.

Scope silently ignores load-parameter keys it does not know (a ``seed`` typo for
``base_seed`` just loads with seed 42), and a wrong value often surfaces only as a failed
load with no message. Checking before sending turns both into a clear error.

What is checked:

- keys: each must be a property of the pipeline's ``config_schema`` or one of the load
  keys Scope's loaders read (``vace_enabled``, ``loras``, ``lora_merge_mode``, ...);
- values: against the property's JSON schema (type, minimum, maximum, enum);
- capabilities: VACE, LoRA and quantization only where the schema says the pipeline
  supports them; height and width a multiple of ``min_dimension`` where it is above 1.
"""

from __future__ import annotations

import difflib
from typing import Any

from lab.models import PipelineSchema

__all__ = ["load_param_problems", "EXTRA_LOAD_KEYS"]

# Load keys read by Scope's built-in loaders that are not config_schema properties.
EXTRA_LOAD_KEYS: dict[str, dict[str, Any]] = {
    "vace_enabled": {"type": "boolean"},
    "lora_merge_mode": {"enum": ["permanent_merge", "runtime_peft"]},
    "loras": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["path"],
            "properties": {
                "path": {"type": "string"},
                "scale": {"type": "number", "minimum": -10, "maximum": 10},
                "merge_mode": {"enum": ["permanent_merge", "runtime_peft"]},
            },
        },
    },
}


def load_param_problems(schema: PipelineSchema, params: dict[str, Any]) -> list[str]:
    """Return one sentence per problem with ``params`` for ``schema``'s pipeline (empty if fine).

    Examples
    --------
    >>> from lab.models import PipelineSchema
    >>> s = PipelineSchema(id="p", config_schema={"properties": {"base_seed": {"type": "integer"}}})
    >>> load_param_problems(s, {"seed": 1})
    ["unknown key 'seed' (did you mean 'base_seed'?)"]
    """
    from jsonschema import Draft202012Validator  # imported here: it takes ~2 s to import

    properties = schema.properties
    defs = schema.config_schema.get("$defs", {})
    known = {**EXTRA_LOAD_KEYS, **properties}
    problems: list[str] = []
    for key, value in params.items():
        if key not in known:
            problems.append(_unknown_key(key, list(known)))
            continue
        validator = Draft202012Validator({**known[key], "$defs": defs})
        for error in validator.iter_errors(value):
            problems.append(f"{key}={value!r}: {error.message}")
    problems.extend(_capability_problems(schema, params))
    return problems


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (accepted: {', '.join(sorted(known))})"
    return f"unknown key {key!r}{hint}"


def _capability_problems(schema: PipelineSchema, params: dict[str, Any]) -> list[str]:
    problems = []
    wants_vace = params.get("vace_enabled") is True or bool(params.get("ref_images"))
    if wants_vace and not schema.supports_vace:
        problems.append(f"{schema.id} does not support VACE (its schema says supports_vace=false)")
    if params.get("quantization") and not schema.supports_quantization:
        problems.append(f"{schema.id} does not support quantization")
    if params.get("loras") and not schema.supports_lora:
        problems.append(f"{schema.id} does not support LoRA")
    step = schema.min_dimension
    for side in ("height", "width"):
        value = params.get(side)
        if step > 1 and isinstance(value, int) and value % step:
            problems.append(f"{side}={value} is not a multiple of {step} (this pipeline works in blocks of {step} pixels)")
    return problems
