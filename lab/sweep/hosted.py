"""Sweeps on Daydream's hosted API: ``daydream:`` targets beside Scope's, in one spec and one run.

A spec's ``targets`` may mix Scope servers and hosted APIs (``[sim, "daydream:sim"]``);
each target runs concurrently, one trial at a time. Scope targets run the spec's
pipelines and grids; a hosted target runs the spec's ``hosted`` block, in the API's own
names (:class:`lab.sweep.spec.HostedSpec`):

- a **load group** is one combination of ``hosted.load`` over ``hosted.params``: the
  hosted "load" is a stream's creation and start-up, so each session is a new stream;
- each repeat is one stream, and each combination of ``hosted.runtime`` one segment of it,
  sent as a ``PATCH`` and measured once the output has responded, as Scope's segments are;
- ``hosted.controls`` are PATCHes at set times in every segment (control latency); the
  input's scene switches (step latency) then start 3 s after the last of them;
- the spec's ``duration_s``, ``repeats``, ``fps``, ``source`` and ``settle_timeout_s`` apply.

Rows are Scope's (:func:`lab.sweep.rows.trial_row`), figures under Scope's names: pipeline
``streamdiffusion``, path (``via``) ``whip``, the target in the ``target`` column; the
manifest's ``servers`` block of the target says ``kind: daydream``. Every stream is named
``scope-lab <run-id> <trial-id>`` and deleted when its session ends (after a failure or a
Ctrl-C too); a resumed run first deletes any its earlier attempt left (a killed process
cannot delete its stream), so none is left behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from lab.apifacts import simulator_speed_at
from lab.connect import target_url
from lab.hosted import HostedClient, is_simulator, offered_models
from lab.measure.hosted import HOSTED_PIPELINE, hosted_schema, run_hosted_session
from lab.measure.paths import WHIP
from lab.measure.result import TrialResult
from lab.measure.spec import ControlChange, Segment, TrialSpec
from lab.quality.stored import RunScorer
from lab.sweep.planner import LoadGroup, Plan, PlannedTrial, ServerFacts, condition_label
from lab.sweep.recording import Measure, SweepOutcome, TargetTiming, record_session
from lab.sweep.spec import HostedSpec, SpecError, SweepSpec, grid

__all__ = ["STREAM_NAME", "HostedTarget", "add_hosted", "delete_left_streams", "open_hosted",
           "run_hosted_target"]

STREAM_NAME = "scope-lab"  # streams are named "scope-lab <run-id> <trial-id>"
READY_ESTIMATE_S = 60.0  # a stream's start-up, for the plan's time estimate (real ones: seconds to minutes)
SESSION_OVERHEAD_S = 5.0
STEP_START_S = 3.0  # the input's first scene switch, after the first frame (TrialSpec's default)
AFTER_CONTROL_S = 3.0  # with controls, switches start this long after the last: responses never mix


@dataclass
class HostedTarget:
    """An open hosted API: its client, what the planner and rows need, and its manifest block."""

    client: HostedClient
    facts: ServerFacts
    server: dict[str, Any]


async def open_hosted(spec: SweepSpec, targets: list[str]) -> dict[str, HostedTarget]:
    """Open each hosted target and prove its key (``GET /v1/streams``) before anything is planned.

    Raises :class:`SpecError` when the spec has no ``hosted`` block, and the hosted API's
    errors (a missing or refused key) as they come; the caller closes the clients.
    """
    if targets and spec.hosted is None:
        raise SpecError(f"{', '.join(targets)}: a hosted target streams the spec's `hosted` block, and this spec "
                        "has none. Add one, e.g. hosted: {params: {model_id: stabilityai/sd-turbo, prompt: ...}} "
                        "(see lab/data/sweeps/nexus.yaml).")
    opened: dict[str, HostedTarget] = {}
    try:
        for target in targets:
            opened[target] = await _open_one(spec, target)
    except BaseException:
        for hosted in opened.values():
            await hosted.client.aclose()
        raise
    return opened


async def _open_one(spec: SweepSpec, target: str) -> HostedTarget:
    assert spec.hosted is not None
    client = HostedClient(target, url_for=target_url)
    await client.__aenter__()
    try:
        await client.list_streams()
        simulated = await is_simulator(client.target, client.url)
    except BaseException:
        await client.aclose()
        raise
    schema = hosted_schema(spec.hosted.params)
    return HostedTarget(client, ServerFacts({HOSTED_PIPELINE: schema}, None, {}, simulated, None), {
        "url": client.url, "kind": "daydream", "simulated": simulated, "version": None, "vram_gb": None,
        "schemas": {HOSTED_PIPELINE: schema.model_dump()}, "models_present": {},
        "api": {"kind": "daydream", "target_kind": "daydream", "models": offered_models(),
                "simulator_speed": await simulator_speed_at(client.url) if simulated else None},
    })


def add_hosted(plan: Plan, spec: SweepSpec, hosted: Mapping[str, HostedTarget]) -> None:
    """Add each hosted target's load groups (streams) to ``plan``, with their time estimate."""
    for target in hosted:
        assert spec.hosted is not None
        runtime = grid(spec.hosted.runtime)
        for load in grid(spec.hosted.load):
            sessions = [[_trial(target, load, combo, repeat, k) for k, combo in enumerate(runtime)]
                        for repeat in range(spec.repeats)]
            plan.groups.append(LoadGroup(target, HOSTED_PIPELINE, "video", load, sessions))
        streams = len(grid(spec.hosted.load)) * spec.repeats
        plan.estimates_s[target] = streams * (READY_ESTIMATE_S + SESSION_OVERHEAD_S) + \
            streams * len(runtime) * spec.duration_s


def _trial(target: str, load: dict[str, Any], runtime: dict[str, Any], repeat: int, segment: int) -> PlannedTrial:
    """A planned hosted trial; its id is deterministic (so ``--resume`` finds it), as Scope trials' are."""
    key = json.dumps({"target": target, "pipeline": HOSTED_PIPELINE, "load": load, "runtime": runtime,
                      "repeat": repeat, "via": WHIP}, sort_keys=True, default=str)
    trial_id = f"{HOSTED_PIPELINE}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    return PlannedTrial(trial_id, target, HOSTED_PIPELINE, "video", dict(load), dict(runtime), repeat, segment,
                        condition_label(load, runtime), None, WHIP)


async def run_hosted_target(target: str, sweep: SweepSpec, hosted: HostedTarget, groups: list[LoadGroup],
                            done: set[str], scorer: RunScorer, outcome: SweepOutcome, bar: tqdm,
                            say: Callable[[str], None]) -> None:
    """One hosted target's streams, one at a time; each session's rows stored as its segments end."""
    assert sweep.hosted is not None
    timing = outcome.timing.setdefault(target, TargetTiming())
    started = time.perf_counter()
    controls = tuple(ControlChange(c.at_s, dict(c.parameters), c.expect) for c in sweep.hosted.controls)
    spec = TrialSpec(HOSTED_PIPELINE, source=sweep.source, fps=sweep.fps, duration_s=sweep.duration_s,
                     settle_timeout_s=sweep.settle_timeout_s, controls=controls,
                     step_start_s=max((c.at_s + AFTER_CONTROL_S for c in controls), default=STEP_START_S))
    try:
        await delete_left_streams(hosted.client, scorer.store.run_id, say)
        for group in groups:
            params = {**sweep.hosted.params, **group.load}
            for session in group.sessions:
                pending = [t for t in session if t.trial_id not in done]
                if pending:
                    name = f"{STREAM_NAME} {scorer.store.run_id} {pending[0].trial_id}"
                    measure = _measure(hosted, spec, params, pending, name, sweep.hosted)
                    await record_session(spec, pending, measure, scorer, outcome, bar, hosted.facts)
    finally:
        timing.wall_s += time.perf_counter() - started


def _measure(hosted: HostedTarget, spec: TrialSpec, params: dict[str, Any], session: list[PlannedTrial],
             name: str, block: HostedSpec) -> Measure:
    """The call that measures one planned session as one stream (its segments PATCHed in turn)."""
    segments = [Segment(dict(t.runtime), t.condition) for t in session]

    async def measure(on_result: Callable[[TrialResult], None]) -> list[TrialResult]:
        return await run_hosted_session(hosted.client, spec, params, segments, simulated=hosted.facts.simulated,
                                        name=name, ready_timeout_s=block.ready_timeout_s, poll_s=block.poll_s,
                                        on_result=on_result)
    return measure


async def delete_left_streams(client: HostedClient, run_id: str, say: Callable[[str], None]) -> int:
    """Delete the streams an earlier attempt of this run left (named ``scope-lab <run-id> ...``); how many."""
    prefix = f"{STREAM_NAME} {run_id} "
    left = [s for s in await client.list_streams() if str(_field(s, "name") or "").startswith(prefix)]
    for stream in left:
        await client.delete_stream(str(_field(stream, "id")))
        say(f"deleted stream {_field(stream, 'id')}, left by an earlier attempt of run {run_id}")
    return len(left)


def _field(stream: Any, name: str) -> Any:
    return stream.get(name) if isinstance(stream, dict) else getattr(stream, name, None)
