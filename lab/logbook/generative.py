"""Which pipelines generate video: the log judges generation (speed, quality) on those only.

A real Scope 0.2.4 without a GPU lists only CPU pipelines (passthrough, gray, optical-flow,
controller-viz) and model-backed pre/post-processors (rife, scribble). They all keep up
with their input, so judging "real-time viability" on them would answer "yes" about
pipelines that draw nothing new.

The facts come from the schema snapshot in each run's manifest (what the server itself
said at run start), never from a list of names here. A pipeline **generates** when its
schema says it takes prompts (``supports_prompts``), or it needs model weights
(``requires_models``) and is not a pre/post-processor (``usage`` empty). On the Scope
0.2.4 snapshot (``tests/fixtures/scope-0.2.4``) none of the six CPU-host pipelines does;
on the simulator's profile the five Wan-based pipelines do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["is_generative", "Generation", "split_by_generation", "why_not_generative"]


def is_generative(schema: Mapping[str, Any]) -> bool:
    """A video-generation model, from its schema: prompts, or models without a pre/post-processor role."""
    return bool(schema.get("supports_prompts")) or (bool(schema.get("requires_models")) and not schema.get("usage"))


def why_not_generative(schema: Mapping[str, Any]) -> str:
    """In words, why a schema does not describe a generator (for answers that leave it out)."""
    usage = ", ".join(schema.get("usage") or [])
    if usage:
        return f"a {usage}"
    return "no prompts and no models"


@dataclass(frozen=True)
class Generation:
    """Pipelines split by whether they generate; ``unknown``: no schema in the runs' manifests."""

    generative: list[str]
    other: dict[str, str]  # pipeline id -> why it does not generate
    unknown: list[str]

    def describe_other(self) -> str:
        """``passthrough (no prompts and no models), gray (a preprocessor)``."""
        parts = [f"{p} ({why})" for p, why in self.other.items()] + [f"{p} (no schema)" for p in self.unknown]
        return ", ".join(parts)


def split_by_generation(pipeline_ids: Iterable[str], schemas: Mapping[str, Mapping[str, Any]]) -> Generation:
    """``pipeline_ids`` in order, split by their schemas (as the runs' manifests recorded them)."""
    generative, other, unknown = [], {}, []
    for pipeline_id in pipeline_ids:
        schema = schemas.get(pipeline_id)
        if schema is None:
            unknown.append(pipeline_id)
        elif is_generative(schema):
            generative.append(pipeline_id)
        else:
            other[pipeline_id] = why_not_generative(schema)
    return Generation(generative, other, unknown)
