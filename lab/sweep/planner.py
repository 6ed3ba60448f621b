"""From a spec to a plan: few loads, many measurements, and a reason for everything skipped.

Pod time is spent mostly on loads (tens of seconds to minutes each) and warm-ups, so the
plan is built around them:

- a **load group** is (target, pipeline, load settings): loaded once;
- inside a group, each repeat (and each ``via``: the path the output is read through) is
  one **session**; a session runs every runtime
  combination in turn as a **segment**, sent over the data channel (the runner waits for
  the output to respond before measuring), so runtime settings never cost a reload;
- a trial is one segment: the unit of a result row.

What the server cannot run is not attempted but planned as a skipped row with its reason:
a mode the pipeline does not support, VACE (or LoRA, quantization) on a pipeline whose
schema lacks it, an estimated VRAM above the pod's, models not downloaded (unless the spec
allows downloading). The server's own schemas decide, never a table in this code.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lab.client import ScopeClient
from lab.models import PipelineSchema
from lab.pods.cost import HOSTED_UNPRICED, PodPrice, pod_price
from lab.sweep.spec import TRANSITION_KEY, SweepSpec
from lab.target import is_hosted_target

__all__ = ["PlannedTrial", "LoadGroup", "Plan", "ServerFacts", "plan_sweep", "gather_facts"]

# Rough costs for the pod-time estimate (seconds). Load times are not in any schema:
# these are typical of a 24-32 GB GPU pod with models on local disk.
LOAD_ESTIMATE_S = {True: 60.0, False: 5.0}  # requires_models: generative vs. CPU-light
SESSION_OVERHEAD_S = 5.0  # connect, first frame, close
SETTLE_ESTIMATE_S = 2.0


@dataclass(frozen=True)
class ServerFacts:
    """What the planner needs from a server: schemas, VRAM, and which models are present."""

    schemas: Mapping[str, PipelineSchema]
    vram_gb: float | None
    models_present: Mapping[str, bool]
    simulated: bool = False
    version: str | None = None
    price: PodPrice | None = None  # the pod's $/h, where the target is a pod (lab.pods.cost)


async def gather_facts(client: ScopeClient) -> ServerFacts:
    """Ask the server what it has (one schemas call, one hardware call, one status per pipeline)."""
    health = await client.health()
    price = await pod_price(client.target, simulated=health.is_simulator)  # first: the pod time starts here
    schemas = (await client.pipeline_schemas()).pipelines
    hardware = await client.hardware_info()
    present = {}
    for pipeline_id, schema in schemas.items():
        present[pipeline_id] = (await client.models_status(pipeline_id)).downloaded if schema.requires_models else True
    return ServerFacts(schemas, hardware.vram_gb, present, health.is_simulator, health.version, price)


@dataclass(frozen=True)
class PlannedTrial:
    """One row of the plan. ``skip`` says why it will not be attempted (None: it will)."""

    trial_id: str
    target: str
    pipeline_id: str
    mode: str
    load: dict[str, Any]
    runtime: dict[str, Any]
    repeat: int
    segment: int
    condition: str
    skip: str | None = None
    via: str = "webrtc"

    @property
    def group_key(self) -> str:
        return f"{self.target} | {self.pipeline_id} | {_canonical(self.load)}"


@dataclass
class LoadGroup:
    """One load and the sessions that share it (each a list of segments, in run order)."""

    target: str
    pipeline_id: str
    mode: str
    load: dict[str, Any]
    sessions: list[list[PlannedTrial]] = field(default_factory=list)

    @property
    def trials(self) -> list[PlannedTrial]:
        return [t for session in self.sessions for t in session]


@dataclass
class Plan:
    """The ordered work of a sweep: load groups per target, and the skipped rows."""

    spec: SweepSpec
    groups: list[LoadGroup]
    skipped: list[PlannedTrial]
    estimates_s: dict[str, float]
    prices: dict[str, PodPrice | None] = field(default_factory=dict)  # by target

    @property
    def trials(self) -> list[PlannedTrial]:
        return [t for g in self.groups for t in g.trials]

    @property
    def loads(self) -> int:
        return len(self.groups)

    @property
    def naive_loads(self) -> int:
        """Loads of a plan that reloads for every trial."""
        return len(self.trials)

    @property
    def estimated_s(self) -> float:
        """Pod time if targets run one after another (they run concurrently: see ``by_target``)."""
        return sum(self.estimates_s.values())

    def groups_for(self, target: str) -> list[LoadGroup]:
        return [g for g in self.groups if g.target == target]

    def table(self) -> pd.DataFrame:
        """Every planned row (run and skipped) in run order."""
        rows = [{"trial_id": t.trial_id, "target": t.target, "pipeline_id": t.pipeline_id, "mode": t.mode,
                 "load": _canonical(t.load), "condition": t.condition, "repeat": t.repeat, "segment": t.segment,
                 "skip": t.skip or ""} for t in [*self.trials, *self.skipped]]
        return pd.DataFrame(rows)

    def describe(self) -> str:
        """A short text: counts, loads versus the naive plan, estimated pod time, skips."""
        lines = [f"sweep {self.spec.name!r}: {len(self.trials)} trials in {self.loads} loads "
                 f"(a load per trial would be {self.naive_loads}), "
                 f"{sum(len(g.sessions) for g in self.groups)} sessions, {len(self.skipped)} skipped"]
        for target, seconds in self.estimates_s.items():
            price = self.prices.get(target)
            if is_hosted_target(target):
                lines.append(f"  {target}: about {seconds / 60:.1f} min of streams (no pod: {HOSTED_UNPRICED})")
                continue
            lines.append(f"  {target}: about {seconds / 60:.1f} min of pod time"
                         + (f", {price.describe(seconds)}" if price else ""))
        for group in self.groups:
            segments = len(group.sessions[0])
            lines.append(f"  load {group.pipeline_id} {_canonical(group.load)} ({group.mode}): "
                         f"{len(group.sessions)} session(s) x {segments} segment(s)")
        for reason, count in pd.Series([t.skip for t in self.skipped], dtype=object).value_counts().items():
            lines.append(f"  skipped x{count}: {reason}")
        return "\n".join(lines)


def plan_sweep(spec: SweepSpec, facts: Mapping[str, ServerFacts]) -> Plan:
    """Expand ``spec`` against what each target's server supports, in run order."""
    groups: list[LoadGroup] = []
    skipped: list[PlannedTrial] = []
    estimates: dict[str, float] = {}
    rng = random.Random(spec.seed)
    for target, server in facts.items():
        estimates[target] = 0.0
        for pipeline_id in _pipeline_ids(spec, server):
            schema = server.schemas.get(pipeline_id)
            mode = _mode(spec, schema)
            for load in _applicable_loads(spec, schema):
                vace_loaded = bool(schema and schema.supports_vace and load.get("vace_enabled", True))
                runtime = spec.runtime_grid(vace_loaded=vace_loaded)
                reason = _cannot_run(spec, pipeline_id, schema, mode, load, runtime, server)
                rows = [[_trial(target, pipeline_id, mode, load, r, repeat, k, reason, via)
                         for k, r in enumerate(runtime)] for repeat in range(spec.repeats) for via in spec.via]
                if reason:
                    skipped.extend(t for session in rows for t in session)
                    continue
                if spec.order == "random":
                    rows = [_renumbered(rng.sample(session, len(session))) for session in rows]
                group = LoadGroup(target, pipeline_id, mode, load, rows)
                groups.append(group)
                estimates[target] += _estimate_s(spec, schema, group)
    if spec.order == "random":
        rng.shuffle(groups)
    return Plan(spec, groups, skipped, estimates, {target: server.price for target, server in facts.items()})


def _applicable_loads(spec: SweepSpec, schema: PipelineSchema | None) -> list[dict[str, Any]]:
    """The load grid; ``vace_enabled: false`` means nothing to a pipeline without VACE (dropped, merged)."""
    loads = spec.load_grid()
    if schema is not None and not schema.supports_vace:
        loads = [{k: v for k, v in load.items() if not (k == "vace_enabled" and v is False)} for load in loads]
    return list({_canonical(load): load for load in loads}.values())


def _pipeline_ids(spec: SweepSpec, server: ServerFacts) -> Iterator[str]:
    ids = list(server.schemas) if spec.pipelines == "all" else list(spec.pipelines)
    for pipeline_id in ids:
        schema = server.schemas.get(pipeline_id)
        if pipeline_id in spec.exclude:
            continue
        if spec.pipelines == "all" and schema is not None and not schema.produces_video:
            continue
        if schema is not None and not all(_supports(schema, need) for need in spec.require):
            continue
        yield pipeline_id


def _supports(schema: PipelineSchema, capability: str) -> bool:
    return bool(getattr(schema, f"supports_{capability}"))


def _mode(spec: SweepSpec, schema: PipelineSchema | None) -> str:
    default = (schema.default_mode if schema else None) or "video"
    if spec.mode == "default":
        return default
    if spec.mode == "prefer_video":
        return "video" if schema is None or "video" in schema.supported_modes else default
    return spec.mode


def _cannot_run(spec: SweepSpec, pipeline_id: str, schema: PipelineSchema | None, mode: str,
                load: Mapping[str, Any], runtime: list[dict[str, Any]], server: ServerFacts) -> str | None:
    """Why this load group cannot run on this server, or None."""
    if schema is None:
        return f"the server does not list pipeline {pipeline_id!r}"
    if schema.supported_modes and mode not in schema.supported_modes:
        return f"mode {mode!r} not supported (the schema lists {', '.join(schema.supported_modes)})"
    uses_vace = load.get("vace_enabled") is True or any(k.startswith("vace_") for r in runtime for k in r)
    if uses_vace and not schema.supports_vace:
        return "no VACE support (schema supports_vace is false)"
    if any(TRANSITION_KEY in r for r in runtime) and not schema.supports_prompts:
        return f"{TRANSITION_KEY} changes prompts, and the schema says supports_prompts is false"
    if load.get("quantization") and not schema.supports_quantization:
        return "no quantization support (schema supports_quantization is false)"
    if load.get("loras") and not schema.supports_lora:
        return "no LoRA support (schema supports_lora is false)"
    if schema.fits_vram(server.vram_gb) is False:
        return (f"estimated VRAM {schema.estimated_vram_gb:g} GB exceeds the pod's {server.vram_gb:g} GB")
    if not server.models_present.get(pipeline_id, True) and not spec.allow_download:
        return "models not downloaded (set allow_download: true in the spec, or download them first)"
    return None


def _trial(target: str, pipeline_id: str, mode: str, load: dict[str, Any], runtime: dict[str, Any],
           repeat: int, segment: int, skip: str | None, via: str = "webrtc") -> PlannedTrial:
    fields = {"target": target, "pipeline": pipeline_id, "mode": mode, "load": load, "runtime": runtime,
              "repeat": repeat}
    key = _canonical(fields if via == "webrtc" else {**fields, "via": via})  # WebRTC ids as before paths existed
    trial_id = f"{pipeline_id}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    path = {} if via == "webrtc" else {"via": via}  # other paths are other conditions, never pooled with WebRTC
    return PlannedTrial(trial_id, target, pipeline_id, mode, dict(load), dict(runtime), repeat, segment,
                        condition_label(load, {**runtime, **path}), skip, via)


def _renumbered(session: list[PlannedTrial]) -> list[PlannedTrial]:
    return [PlannedTrial(t.trial_id, t.target, t.pipeline_id, t.mode, t.load, t.runtime, t.repeat, k,
                         t.condition, t.skip, t.via) for k, t in enumerate(session)]


def condition_label(load: Mapping[str, Any], runtime: Mapping[str, Any]) -> str:
    """``"vace_enabled=true vace_ref_images=2"``: the settings that vary, for tables."""
    parts = [f"{k}={_short(v)}" for k, v in {**load, **runtime}.items()]
    return " ".join(parts) or "default"


def _short(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) and "text" in v for v in value):
        return "+".join(repr(str(v["text"])) for v in value)  # prompts: their texts
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 24 else text[:21] + "..."


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _estimate_s(spec: SweepSpec, schema: PipelineSchema | None, group: LoadGroup) -> float:
    load_s = LOAD_ESTIMATE_S[bool(schema and schema.requires_models)]
    segments = len(group.trials)
    settles = segments - len(group.sessions)
    return load_s + len(group.sessions) * SESSION_OVERHEAD_S + segments * spec.duration_s + settles * SETTLE_ESTIMATE_S
