"""Answers about performance: warm-up on a RunPod pod (a measured cold start,
:mod:`lab.logbook.cold_start`, where there is one), real-time viability, and generation
quality at 512x512.

Answers about generation (real-time viability, picture quality) are judged on pipelines
that generate video only (:mod:`lab.logbook.generative`): a CPU host's passthrough keeps
up, and says nothing about generating. Where no generative pipeline was measured, the
answer says so. Quality answers need scored runs (``lab quality``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lab.logbook.answering import Asked, Question, cited
from lab.logbook.cold_start import cold_start_answer
from lab.logbook.generative import Generation, split_by_generation
from lab.logbook.quality import condition_figure, plain_trials, show_figure, trial_resolution
from lab.logbook.realtime import INPUT_KEEPUP, realtime_verdicts
from lab.logbook.server_runs import ServerRuns
from lab.units import format_figure, format_value

__all__ = ["PERFORMANCE_QUESTIONS", "CONTACT_SHEET", "GENERATION_SIZE"]

GENERATION_SIZE = (512, 512)  # the log asks about quality at 512x512
CONTACT_SHEET = Path("plots") / "contact_sheet.png"  # in each run folder, written by `lab report`


def _runpod_warmup(server_runs: ServerRuns, _: Asked) -> str | None:
    """A measured cold start's whole breakdown if there is one (lab pod warmup), else load to steady output."""
    measured = cold_start_answer(server_runs)
    if measured is not None:
        return measured
    kind = (server_runs.server.api or {}).get("target_kind")
    if not (server_runs.simulated or kind == "runpod"):
        return None  # a local GPU box says nothing about RunPod
    parts = []
    runs: list[str] = []
    for pipeline_id in server_runs.pipelines():
        schema = server_runs.server.schemas.get(pipeline_id, {})
        if not schema.get("requires_models"):
            continue
        figures = {name: server_runs.figure(pipeline_id, name) for name in ("load_s", "ttff_s", "warmup_s")}
        if any(f is None or f.value is None for f in figures.values()):
            continue
        total = sum(f.value for f in figures.values() if f is not None and f.value is not None)
        parts.append(f"{pipeline_id} {format_value(total, 's')} (load {format_figure(figures['load_s'], n=False)}, "
                     f"first frame {format_figure(figures['ttff_s'], n=False)}, warm-up "
                     f"{format_figure(figures['warmup_s'], n=False)})")
        runs += server_runs.runs_of(server_runs.baseline(pipeline_id))
    if not parts:
        return None
    speed = server_runs.server.simulator_speed
    where = ("the simulator's emulated RTX 5090 pod" + (f", loads {speed:g}x faster than real time" if speed and speed != 1 else "")
             if server_runs.simulated else "the RunPod pod")
    return cited(server_runs, f"**Load request to steady output** on {where}: " + "; ".join(parts),
                 list(dict.fromkeys(runs)))


def _generation(server_runs: ServerRuns, pipeline_ids: list[str]) -> Generation:
    return split_by_generation(pipeline_ids, server_runs.server.schemas)


def _not_judged(generation: Generation) -> str:
    """`` | not judged, ...``: the measured pipelines an answer about generation leaves out."""
    return (f" | not judged, no video generation: {generation.describe_other()}"
            if generation.other or generation.unknown else "")


def _nothing_generates(server_runs: ServerRuns, generation: Generation, what: str, runs: list[str]) -> str:
    return cited(server_runs, f"**Not judged**: no generative pipeline was measured: {generation.describe_other()} "
                              f"do not generate video (their schemas), so they say nothing about {what}", runs)


def _realtime(server_runs: ServerRuns, asked: Asked) -> str | None:
    threshold_fps = asked.realtime_fps
    measured = realtime_verdicts(server_runs, threshold_fps)
    if not measured:
        return None
    generation = _generation(server_runs, [v.pipeline_id for v in measured])
    verdicts = [v for v in measured if v.pipeline_id in generation.generative]
    if not verdicts:
        runs = list(dict.fromkeys(r for v in measured
                                  for r in server_runs.runs_of(server_runs.baseline(v.pipeline_id))))
        return _nothing_generates(server_runs, generation, "real-time generation", runs)
    groups = {kind: [f"{v.pipeline_id} {format_figure(v.fps)}" for v in verdicts if v.verdict == kind]
              for kind in ("yes", "no", "borderline")}
    head = ("**Yes**" if not groups["no"] and not groups["borderline"]
            else "**No**" if not groups["yes"] and not groups["borderline"] else "**Depends on the pipeline**")
    parts = [f"{label}: {'; '.join(groups[kind])}" for kind, label in
             (("yes", "real-time"), ("no", "too slow"), ("borderline", "borderline (CI spans it)")) if groups[kind]]
    cap = (f"; video-to-video output cannot exceed its input rate, so keeping up with it "
           f"(≥ {INPUT_KEEPUP:.0%} of it) counts" if any(v.capped_by_input for v in verdicts) else "")
    others = _not_judged(generation)
    runs = list(dict.fromkeys(r for v in verdicts for r in server_runs.runs_of(server_runs.baseline(v.pipeline_id))))
    return cited(server_runs, f"{head} at a {threshold_fps:g} fps threshold (generative pipelines, steady output fps, "
                              f"95 % CI{cap}): " + " | ".join(parts) + others, runs)


def _generation_quality(server_runs: ServerRuns, asked: Asked) -> str | None:
    ok = server_runs.ok
    scored = ok[ok["flicker"].notna()] if "flicker" in ok else ok.iloc[0:0]
    if scored.empty:
        return None
    generation = _generation(server_runs, list(dict.fromkeys(scored["pipeline_id"])))
    if not generation.generative:
        return _nothing_generates(server_runs, generation, "generation quality", server_runs.runs_of(scored))
    parts, elsewhere, used = [], [], []
    for pipeline_id in generation.generative:
        trials = plain_trials(scored[scored["pipeline_id"].eq(pipeline_id)])
        sizes = [trial_resolution(server_runs, r, t) for r, t in zip(trials["run_id"], trials["trial_id"], strict=True)]
        at_size = trials[[size == GENERATION_SIZE for size in sizes]]
        if at_size.empty:
            other = sorted({f"{w}x{h}" for w, h in filter(None, sizes)})
            elsewhere.append(f"{pipeline_id} ({', '.join(other) or 'resolution not recorded'})")
            continue
        figures = [(label, condition_figure(server_runs, name, at_size))
                   for label, name in (("flicker", "flicker"), ("detail", "sharpness"))]
        parts.append(f"{pipeline_id} " + ", ".join(f"{label} {show_figure(f)}" for label, f in figures
                                                    if f is not None and f.value is not None))
        used.append(at_size)
    if not parts:
        return None
    runs = server_runs.runs_of(pd.concat(used))
    sheets = ", ".join(f"[contact sheet {r}]({asked.link(server_runs.runs.roots[r] / CONTACT_SHEET)})" for r in runs)
    skipped = f" | not at 512×512: {'; '.join(elsewhere)}" if elsewhere else ""
    others = _not_judged(generation)
    return cited(server_runs, "**Measured** at 512×512 (generative pipelines at plain settings; flicker = median "
                              "warp error between consecutive output frames after optical-flow alignment, lower is "
                              "steadier; detail = variance of the Laplacian, higher is sharper): " + "; ".join(parts)
                              + f"{skipped}{others}; look at the frames: {sheets}", runs)


PERFORMANCE_QUESTIONS: tuple[Question, ...] = (
    Question("runpod-warmup", "RunPod warm-up time?", "Performance", _runpod_warmup),
    Question("quality-512", "Generation quality at 512×512?", "Performance", _generation_quality),
    Question("realtime", "Real-time viability for demo?", "Performance", _realtime),
)
