"""Run a sweep plan into the results store, resumably, one trial at a time per target.

Guarantees:

- every trial row is appended and fsync'ed as soon as its segment ends, so Ctrl-C or a
  killed process loses at most the trial in flight; ``resume=RUN_ID`` replans from the
  run's own manifest (trial ids are deterministic) and runs only what has no row yet;
- a failure is a row (error class, phase, message, and the server's log lines that explain it, see
  :func:`lab.measure.result.error_record`) and the sweep goes on: a failed load fails its group's
  trials, a stopped stream fails its segment and marks the rest of that session ``not run``;
- several targets run concurrently, each strictly one trial at a time;
- each trial's quality samples are stored (``quality/<trial>.npz``) and scored with the spec's
  ``quality_model`` once its session has ended (never while anything of that target streams), into
  ``quality.jsonl`` and ``quality/<trial>.parquet``; a sweep that sends reference images copies them
  into the run's ``references/`` first, and every trial of it (VACE off too) is compared with them;
- the spec's VACE reference images (its ``references``, else the shipped :func:`lab.resources.reference_images`)
  are uploaded once per run and target, and passed by the absolute paths the server returns. The manifest records
  both sides: the local files in ``spec.references`` (what quality scoring compares the output with) and the
  server's paths per target in ``references``;
- a pod target's $/h, pod time and dollars go into the manifest (``pods``, :mod:`lab.pods.cost`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lab.apifacts import api_facts
from lab.client import LoadResult, ScopeClient
from lab.connect import connect
from lab.errors import LabError
from lab.inputs import pod_inputs
from lab.measure.result import error_record
from lab.measure.run import run_session
from lab.measure.spec import ControlChange, Segment, TrialSpec, load_params
from lab.measure.transition import prompt_update
from lab.models import PipelineSchema
from lab.pods.cost import close_pod_bills
from lab.quality.embed import load_embedder
from lab.quality.stored import RunScorer
from lab.store import RESULTS_DIR, RunStore, git_commit
from lab.sweep.hosted import HostedTarget, add_hosted, open_hosted, run_hosted_target
from lab.sweep.planner import LoadGroup, Plan, PlannedTrial, ServerFacts, gather_facts, plan_sweep
from lab.sweep.recording import SweepOutcome, TargetTiming, record_session
from lab.sweep.rows import transition_of, trial_row, utc_now
from lab.sweep.spec import REF_KEY, TRANSITION_KEY, SweepSpec
from lab.target import is_hosted_target
from lab.versions import LAB_VERSION

__all__ = ["SweepOutcome", "run_sweep", "trial_row", "prompt_changes"]

log = logging.getLogger(__name__)


async def run_sweep(spec: SweepSpec, *, targets: list[str] | None = None, out_dir: Path | str = RESULTS_DIR,
                    resume: str | None = None, dry_run: bool = False, progress: bool = True,
                    say: Callable[[str], None] | None = None, stop_pod_when_done: bool = False) -> SweepOutcome:
    """Plan ``spec`` against its targets (or ``targets``), run it into ``out_dir``, then stop pods if asked."""
    say = say or (lambda text: log.info("%s", text))
    store = RunStore.resume(out_dir, resume) if resume else None
    if store is not None:
        manifest = store.manifest()
        spec = SweepSpec.model_validate(manifest["spec"])
        targets = list(manifest["targets"])
    targets = targets or list(spec.targets)
    clients = {target: connect(target) for target in targets if not is_hosted_target(target)}
    hosted: dict[str, HostedTarget] = {}
    try:
        hosted = await open_hosted(spec, [target for target in targets if is_hosted_target(target)])
        facts = {target: await gather_facts(client) for target, client in clients.items()}
        plan = plan_sweep(spec, facts)
        add_hosted(plan, spec, hosted)
        if dry_run:
            return SweepOutcome("(dry run)", None, plan)
        embedder = load_embedder(spec.quality_model)  # a model that cannot load stops the sweep before it starts
        if store is None:
            store = RunStore.create(out_dir, await _manifest(spec, clients, facts, plan, hosted))
        if any(t.runtime.get(REF_KEY) for t in plan.trials):
            store.copy_references(spec.reference_files())
        scorer = RunScorer(store, spec.quality_model, embedder)
        outcome = SweepOutcome(store.run_id, store.root, plan)
        done = store.finished_trial_ids()
        outcome.already_done = len(done & {t.trial_id for t in [*plan.trials, *plan.skipped]})
        for trial in plan.skipped:
            if trial.trial_id not in done:
                store.append_trial(trial_row(trial, store.run_id, facts[trial.target]))
                outcome.rows_written += 1
        todo = [t for t in plan.trials if t.trial_id not in done]
        store.update_manifest(status="running", resumed_at=utc_now() if resume else None)
        say(f"run {store.run_id}: {len(todo)} trials to run, {outcome.already_done} already recorded")
        bar = tqdm(total=len(todo), unit="trial", desc=spec.name, disable=not progress, dynamic_ncols=True)
        try:
            await asyncio.gather(*(
                _run_target(target, spec, clients[target], plan.groups_for(target), done, scorer, outcome, bar,
                            facts[target], say)
                for target in clients), *(
                run_hosted_target(target, spec, hosted[target], plan.groups_for(target), done, scorer, outcome, bar,
                                  say)
                for target in hosted))
        except (KeyboardInterrupt, asyncio.CancelledError):
            outcome.interrupted = True
            say(f"interrupted: the {outcome.rows_written + outcome.already_done} rows recorded are kept; "
                f"continue with --resume {store.run_id}")
            raise
        finally:
            bar.close()
            status = "interrupted" if outcome.interrupted else "complete"
            store.update_manifest(status=status, ended_at=utc_now(),
                                  timing={t: vars(v) | {"other_s": v.other_s} for t, v in outcome.timing.items()})
            await close_pod_bills(store, plan.prices, stop_pod_when_done, say)
        return outcome
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()),
                             *(target.client.aclose() for target in hosted.values()))


async def _manifest(spec: SweepSpec, clients: Mapping[str, ScopeClient], facts: Mapping[str, ServerFacts],
                    plan: Plan, hosted: Mapping[str, HostedTarget]) -> dict[str, Any]:
    servers = {target: dict(opened.server) for target, opened in hosted.items()}  # kind daydream
    for target, client in clients.items():
        health = await client.health()
        servers[target] = {
            "url": client.url, "health": health.model_dump(), "version": health.version,
            "simulated": health.is_simulator, "vram_gb": facts[target].vram_gb,
            "hardware": (await client.hardware_info()).model_dump(),
            "schemas": {k: v.model_dump() for k, v in facts[target].schemas.items()},
            "models_present": dict(facts[target].models_present),
            "api": await api_facts(client),  # OpenAPI shape, /docs, simulator speed (lab.apifacts)
            "inputs": (await pod_inputs(client)).as_dict(),  # plugins, LoRAs, input sources, Spout/NDI/Syphon
        }
    sent = spec.references if spec.references is not None or REF_KEY not in spec.runtime else \
        [str(path) for path in spec.reference_files()]
    return {
        "kind": "sweep", "spec": spec.model_dump() | {"references": sent}, "targets": [*clients, *hosted],
        "servers": servers,
        "simulated": any(s["simulated"] for s in servers.values()),
        "lab_version": LAB_VERSION, "git_commit": git_commit(), "started_at": utc_now(),
        "plan": {"trials": len(plan.trials), "skipped": len(plan.skipped), "loads": plan.loads,
                 "naive_loads": plan.naive_loads, "estimated_s": round(plan.estimated_s, 1)},
    }


async def _run_target(target: str, sweep: SweepSpec, client: ScopeClient, groups: list[LoadGroup], done: set[str],
                      scorer: RunScorer, outcome: SweepOutcome, bar: tqdm, facts: ServerFacts,
                      say: Callable[[str], None]) -> None:
    """One target's groups, strictly one trial at a time."""
    store = scorer.store
    timing = outcome.timing.setdefault(target, TargetTiming())
    started = time.perf_counter()
    references: list[str] | None = None
    try:
        for group in groups:
            pending = [[t for t in session if t.trial_id not in done] for session in group.sessions]
            if not any(pending):
                continue
            if references is None and _uses_references(group):
                references = await _upload_references(client, store, sweep)
            schema = facts.schemas[group.pipeline_id]
            spec = _trial_spec(sweep, group, schema)
            bar.set_postfix_str(f"loading {group.pipeline_id}")
            load_started = time.perf_counter()
            try:
                load = await client.load_pipeline(group.pipeline_id, load_params(spec, schema),
                                                  download_missing=spec.download_missing)
            except LabError as exc:
                error = error_record(exc, "load")
                for trial in (t for session in pending for t in session):
                    store.append_trial(trial_row(trial, store.run_id, facts, error=error))
                    outcome.rows_written += 1
                    bar.update()
                say(f"{group.pipeline_id}: load failed ({type(exc).__name__}); its trials are rows, going on")
                continue
            finally:
                timing.load_s += time.perf_counter() - load_started
                timing.loads += 1
            for session in (s for s in pending if s):
                await _run_one_session(client, sweep, spec, session, load, references or [], scorer, outcome, bar,
                                       facts)
                load = None  # only the first trial after a load carries it
    finally:
        timing.wall_s += time.perf_counter() - started


async def _run_one_session(client: ScopeClient, sweep: SweepSpec, spec: TrialSpec, session: list[PlannedTrial],
                           load: LoadResult | None, references: list[str], scorer: RunScorer, outcome: SweepOutcome,
                           bar: tqdm, facts: ServerFacts) -> None:
    segments = [Segment(_runtime_parameters(t.runtime, references), t.condition,
                        prompt_changes(sweep, t.runtime.get(TRANSITION_KEY))) for t in session]
    spec = dataclasses.replace(spec, via=session[0].via)
    await record_session(spec, session, lambda on_result: run_session(client, spec, segments, load=load,
                                                                      on_result=on_result),
                         scorer, outcome, bar, facts)


def _trial_spec(sweep: SweepSpec, group: LoadGroup, schema: PipelineSchema) -> TrialSpec:
    parameters = dict(sweep.parameters)
    if not schema.supports_prompts:
        parameters.pop("prompts", None)
    return TrialSpec(group.pipeline_id, mode="text" if group.mode == "text" else "video", source=sweep.source,
                     fps=sweep.fps, duration_s=sweep.duration_s, load_params=dict(group.load),
                     parameters=parameters, settle_timeout_s=sweep.settle_timeout_s,
                     download_missing=sweep.allow_download, reference_resend_s=sweep.reference_resend_s,
                     record_server=sweep.record_server, poll_hz=sweep.poll_hz,
                     controls=tuple(ControlChange(c.at_s, dict(c.parameters), c.expect) for c in sweep.controls))


def _uses_references(group: LoadGroup) -> bool:
    return any(t.runtime.get(REF_KEY) for t in group.trials)


async def _upload_references(client: ScopeClient, store: RunStore, sweep: SweepSpec) -> list[str]:
    """Upload the sweep's reference images once; the manifest keeps the server paths."""
    paths = [(await client.upload_asset(path)).path for path in sweep.reference_files()]
    references = store.manifest().get("references", {})
    store.update_manifest(references={**references, client.target.raw: paths})
    return paths


def prompt_changes(sweep: SweepSpec, steps: int | None) -> tuple[ControlChange, ...]:
    """A ``transition_steps`` segment's stimuli: to the control prompt and back, each as an N-chunk transition.

    Changes at ``control_every_s`` intervals from half of one on, an even number of them, so
    the prompt ends where it began (see :mod:`lab.sweep.spec`).
    """
    if steps is None:
        return ()
    transition = transition_of(steps)
    every_s = sweep.control_every_s
    targets = [[{"text": sweep.control_prompt, "weight": 1.0}], sweep.parameters["prompts"]]
    count = 2 * int(sweep.duration_s // (2 * every_s))
    return tuple(ControlChange(every_s * (k + 0.5), prompt_update(targets[k % 2], transition)) for k in range(count))


def _runtime_parameters(runtime: Mapping[str, Any], references: list[str]) -> dict[str, Any]:
    """A runtime combination as Scope parameters: a reference-image count becomes that many paths."""
    parameters = {k: v for k, v in runtime.items() if k != TRANSITION_KEY}  # the segment's controls carry it
    count = parameters.pop(REF_KEY, None)
    if count:
        if count > len(references):
            raise ValueError(f"{REF_KEY}: {count} asked for, but only {len(references)} reference images were uploaded")
        parameters[REF_KEY] = references[:count]
    return parameters
