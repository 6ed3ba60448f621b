"""Each parameter of the hosted API's StreamDiffusion stream, mapped to Scope's (the log's "Can we
reuse Nexus patterns?").

Both sides come from schemas. Hosted: the properties of the create body's ``params``
(every model's variant, in order) in the hosted document. Scope: its runtime
``Parameters`` (the body of ``POST /api/v1/session/parameters``, which the data channel
carries too) in Scope's document, the load parameters of Scope's pipelines (their
``config_schema``, :class:`~lab.logbook.api_docs.ApiDocuments`), and the load keys Scope's loaders read
(:data:`lab.params.EXTRA_LOAD_KEYS`).

A hosted parameter maps to the Scope parameter of the same name; else to its equivalent
in :data:`EQUIVALENTS` (a kept table, each with its reason) when Scope has it; else "none".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.logbook.api_docs import ApiDocuments, body_schema, properties
from lab.logbook.markdown import Rows
from lab.params import EXTRA_LOAD_KEYS

__all__ = ["PARAMS_HEADER", "EQUIVALENTS", "ParamMapping", "param_mapping", "scope_params", "hosted_params"]

PARAMS_HEADER = ("Daydream param", "Scope param", "Match", "Daydream's description")
HOSTED_CREATE = "POST /v1/streams"
SCOPE_RUNTIME = "POST /api/v1/session/parameters"
NONE = "none"

# Hosted name -> (Scope name, why they mean the same). Only listed where Scope has the name.
EQUIVALENTS: dict[str, tuple[str, str]] = {
    "prompt": ("prompts", "the text to generate from: a string or weighted (prompt, weight) list vs a list of "
                          "{text, weight}"),
    "t_index_list": ("denoising_step_list", "the denoising steps run on each frame: indices into the "
                                            "num_inference_steps schedule vs Scope's own step values"),
    "seed": ("base_seed", "the random seed (a load parameter in Scope)"),
    "lora_dict": ("loras", "LoRA weights: {path: scale} vs a list of {path, scale} (at load in Scope)"),
    "model_id": ("pipeline_ids", "which model generates: a model id vs Scope's pipeline ids"),
    "ip_adapter_style_image_url": ("vace_ref_images", "an image that conditions the output: an IP-Adapter style "
                                                      "image vs VACE reference images (different mechanisms)"),
}


def hosted_params(docs: ApiDocuments) -> dict[str, Mapping[str, Any]]:
    """The hosted create body's ``params`` properties, every model's variant merged, in order."""
    body = properties(docs.hosted, body_schema(docs.hosted, HOSTED_CREATE))
    return properties(docs.hosted, body.get("params"))


def scope_params(docs: ApiDocuments) -> dict[str, str]:
    """Scope's parameter names -> where they are set (runtime, or at load and by which pipelines)."""
    where: dict[str, str] = {}
    for name in properties(docs.scope, body_schema(docs.scope, SCOPE_RUNTIME)):
        where[name] = "runtime (`Parameters`)"
    by_pipeline: dict[str, list[str]] = {}
    for pipeline_id, schema in docs.pipeline_schemas.items():
        for name in ((schema.get("config_schema") or {}).get("properties") or {}):
            by_pipeline.setdefault(name, []).append(pipeline_id)
    for name, pipelines in by_pipeline.items():
        shown = ", ".join(pipelines[:3]) + (f" and {len(pipelines) - 3} more" if len(pipelines) > 3 else "")
        where.setdefault(name, f"load (`config_schema` of {shown})")
    for name in EXTRA_LOAD_KEYS:
        where.setdefault(name, "load (read by Scope's loaders)")
    return where


@dataclass(frozen=True)
class ParamMapping:
    """The rows, and the hosted parameters by how they map (same name, equivalent, none)."""

    rows: Rows
    same: list[str]
    equivalent: dict[str, str]
    unmatched: list[str]
    caption: str


def _description(prop: Mapping[str, Any]) -> str:
    text = str(prop.get("description") or "").split("\n")[0]
    return text if len(text) <= 140 else text[:139].rstrip() + "…"


def param_mapping(docs: ApiDocuments) -> ParamMapping:
    """Every hosted parameter with its Scope counterpart or "none"."""
    scope = scope_params(docs)
    rows: Rows = []
    same: list[str] = []
    equivalent: dict[str, str] = {}
    unmatched: list[str] = []
    for name, prop in hosted_params(docs).items():
        if name in scope:
            same.append(name)
            rows.append([f"`{name}`", f"`{name}`: {scope[name]}", "same name", _description(prop)])
        elif name in EQUIVALENTS and EQUIVALENTS[name][0] in scope:
            target, reason = EQUIVALENTS[name]
            equivalent[name] = target
            rows.append([f"`{name}`", f"`{target}`: {scope[target]}", f"equivalent: {reason}", _description(prop)])
        else:
            unmatched.append(name)
            rows.append([f"`{name}`", NONE, NONE, _description(prop)])
    caption = (f"*Daydream: the `params` of `{HOSTED_CREATE}` in {docs.hosted_source}. Scope: runtime `Parameters` "
               f"in {docs.scope_source}; load parameters from the pipelines' `config_schema` in "
               f"{docs.pipelines_source}, and the loaders' keys. Equivalents by meaning: "
               f"`lab.logbook.api_params.EQUIVALENTS`.*")
    return ParamMapping(rows, same, equivalent, unmatched, caption)
