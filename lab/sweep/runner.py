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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lab.apifacts import api_facts
from lab.client import LoadResult, ScopeClient
from lab.connect import connect
from lab.errors import LabError
from lab.inputs import pod_inputs
from lab.headless import setup_steps
from lab.measure.result import TrialResult, error_record
from lab.measure.run import run_session
from lab.measure.spec import ControlChange, Segment, TrialSpec, load_params
from lab.measure.transition import Transition, prompt_update
from lab.models import PipelineSchema
from lab.pods.cost import close_pod_bills
from lab.quality.embed import load_embedder
from lab.quality.samples import QualitySamples
from lab.quality.stored import RunScorer
from lab.store import RESULTS_DIR, RunStore, git_commit
from lab.sweep.planner import LoadGroup, Plan, PlannedTrial, ServerFacts, gather_facts, plan_sweep
from lab.sweep.spec import REF_KEY, TRANSITION_KEY, SweepSpec
from lab.versions import LAB_VERSION

__all__ = ["SweepOutcome", "run_sweep", "trial_row", "prompt_changes"]

log = logging.getLogger(__name__)


@dataclass
class TargetTiming:
    """Where one target's wall time went: loading, measuring, and the rest (connect, settle, warm-up)."""

    wall_s: float = 0.0
    load_s: float = 0.0
    measure_s: float = 0.0
    loads: int = 0

    @property
    def other_s(self) -> float:
        return max(self.wall_s - self.load_s - self.measure_s, 0.0)


@dataclass
class SweepOutcome:
    """What a sweep did: its run folder, the plan, rows written now, and timing per target."""

    run_id: str
    root: Path | None
    plan: Plan
    rows_written: int = 0
    already_done: int = 0
    interrupted: bool = False
    timing: dict[str, TargetTiming] = field(default_factory=dict)


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
    clients = {target: connect(target) for target in targets}
    try:
        facts = {target: await gather_facts(client) for target, client in clients.items()}
        plan = plan_sweep(spec, facts)
        if dry_run:
            return SweepOutcome("(dry run)", None, plan)
        embedder = load_embedder(spec.quality_model)  # a model that cannot load stops the sweep before it starts
        if store is None:
            store = RunStore.create(out_dir, await _manifest(spec, clients, facts, plan))
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
        store.update_manifest(status="running", resumed_at=_now() if resume else None)
        say(f"run {store.run_id}: {len(todo)} trials to run, {outcome.already_done} already recorded")
        bar = tqdm(total=len(todo), unit="trial", desc=spec.name, disable=not progress, dynamic_ncols=True)
        try:
            await asyncio.gather(*(
                _run_target(target, spec, clients[target], plan.groups_for(target), done, scorer, outcome, bar,
                            facts[target], say)
                for target in targets))
        except (KeyboardInterrupt, asyncio.CancelledError):
            outcome.interrupted = True
            say(f"interrupted: the {outcome.rows_written + outcome.already_done} rows recorded are kept; "
                f"continue with --resume {store.run_id}")
            raise
        finally:
            bar.close()
            status = "interrupted" if outcome.interrupted else "complete"
            store.update_manifest(status=status, ended_at=_now(),
                                  timing={t: vars(v) | {"other_s": v.other_s} for t, v in outcome.timing.items()})
            await close_pod_bills(store, plan.prices, stop_pod_when_done, say)
        return outcome
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))


async def _manifest(spec: SweepSpec, clients: Mapping[str, ScopeClient], facts: Mapping[str, ServerFacts],
                    plan: Plan) -> dict[str, Any]:
    servers = {}
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
        "kind": "sweep", "spec": spec.model_dump() | {"references": sent}, "targets": list(clients),
        "servers": servers,
        "simulated": any(s["simulated"] for s in servers.values()),
        "lab_version": LAB_VERSION, "git_commit": git_commit(), "started_at": _now(),
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
    planned = iter(session)
    timing = outcome.timing[session[0].target]
    store = scorer.store
    kept: list[tuple[str, QualitySamples]] = []

    def record(result: TrialResult) -> None:
        trial = next(planned)
        store.append_trial(trial_row(trial, store.run_id, facts, result=result))
        if not result.frames.empty:
            store.write_frames(trial.trial_id, result.frames)
        if result.samples:
            store.write_samples(trial.trial_id, result.samples)
        if result.server_recording is not None and result.server_recording.path is not None:
            store.keep_recording(trial.trial_id, result.server_recording.path)
        if result.error is None:
            timing.measure_s += spec.duration_s
            if result.quality is not None:
                kept.append((trial.trial_id, result.quality))
        outcome.rows_written += 1
        bar.update()

    bar.set_postfix_str(f"{session[0].pipeline_id}: {len(session)} segment(s)")
    await run_session(client, spec, segments, load=load, on_result=record)
    for trial_id, samples in kept:  # the session is over: scoring cannot slow its receive path
        await asyncio.to_thread(scorer.keep_and_score, trial_id, samples)


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
    transition = _transition(steps)
    every_s = sweep.control_every_s
    targets = [[{"text": sweep.control_prompt, "weight": 1.0}], sweep.parameters["prompts"]]
    count = 2 * int(sweep.duration_s // (2 * every_s))
    return tuple(ControlChange(every_s * (k + 0.5), prompt_update(targets[k % 2], transition)) for k in range(count))


def _transition(steps: int) -> Transition:
    return Transition(enabled=steps > 0, num_steps=steps)


def _runtime_parameters(runtime: Mapping[str, Any], references: list[str]) -> dict[str, Any]:
    """A runtime combination as Scope parameters: a reference-image count becomes that many paths."""
    parameters = {k: v for k, v in runtime.items() if k != TRANSITION_KEY}  # the segment's controls carry it
    count = parameters.pop(REF_KEY, None)
    if count:
        if count > len(references):
            raise ValueError(f"{REF_KEY}: {count} asked for, but only {len(references)} reference images were uploaded")
        parameters[REF_KEY] = references[:count]
    return parameters


def trial_row(trial: PlannedTrial, run_id: str, facts: ServerFacts, *, result: TrialResult | None = None,
              error: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stored row of one planned trial: its keys, settings, status and figures."""
    status = "skipped" if trial.skip else "error" if (error or (result and result.error)) else "ok"
    row: dict[str, Any] = {
        "trial_id": trial.trial_id, "run_id": run_id, "target": trial.target, "pipeline_id": trial.pipeline_id,
        "mode": trial.mode, "condition": trial.condition, "load_params": trial.load, "runtime": trial.runtime,
        "vace_enabled": _vace_loaded(trial, facts), "vace_ref_count": int(trial.runtime.get(REF_KEY) or 0),
        "vace_context_scale": trial.runtime.get("vace_context_scale"),
        "transition": _transition_settings(trial.runtime),
        "repeat": trial.repeat, "segment": trial.segment, "status": status, "skip_reason": trial.skip,
        "via": trial.via, "setup_steps": result.setup_steps if result else setup_steps(trial.via, trial.mode),
        "error": dict(error) if error else (result.error if result else None), "ended_at": _now(),
        "simulated": facts.simulated, "server_version": facts.version,
    }
    if result is not None:
        row |= {
            "url": result.url,
            "started_at": datetime.fromtimestamp(result.started_at, UTC).isoformat(),
            "frames": len(result.frames), "vram_gb": result.server_state.get("vram_gb"),
            "gpu_memory": result.server_gpu,  # {} = unknown: Scope 0.2.4 fills no GPU block (lab.models.gpu_memory_text)
            "load": _load_summary(result.load),
            "figures": {f.name: {k: v for k, v in f.as_dict().items() if k != "name"} for f in result.figures},
        }
    return row


def _transition_settings(runtime: Mapping[str, Any]) -> dict[str, Any] | None:
    """How this trial's prompt changes were sent (None: it changed no prompt), beside its control latency."""
    if TRANSITION_KEY in runtime:
        return _transition(int(runtime[TRANSITION_KEY])).settings()
    if "prompts" in runtime:  # the segment itself sends new prompts, at once
        return _transition(0).settings()
    return None


def _vace_loaded(trial: PlannedTrial, facts: ServerFacts) -> bool | None:
    schema = facts.schemas.get(trial.pipeline_id)
    if schema is None:
        return None
    return bool(schema.supports_vace and trial.load.get("vace_enabled", True))


def _load_summary(load: LoadResult | None) -> dict[str, Any] | None:
    if load is None:
        return None
    return {"load_s": load.load_s, "poll_interval_s": load.poll_interval_s,
            "stages": [dataclasses.asdict(stage) for stage in load.stages],
            "download_s": load.download.download_s if load.download else None}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
