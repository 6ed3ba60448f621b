"""Answers about VACE: what it costs in latency (:mod:`lab.logbook.vace`), how reference
images are sent, and how well the character holds (reference similarity and drift,
:mod:`lab.logbook.quality`); the consistency answers need an avatar run (``lab sweep
avatar``) scored with ``lab quality``.
"""

from __future__ import annotations

from lab.logbook.answering import Asked, Question, cited
from lab.logbook.quality import (QualityCondition, avatar_conditions, avatar_runs, best_condition, embedding_models,
                                 reference_set, show_figure)
from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace import vace_effects
from lab.stats import Figure
from lab.units import format_figure, format_value

__all__ = ["VACE_QUESTIONS"]


def _vace_latency(server_runs: ServerRuns, _: Asked) -> str | None:
    parts = []
    runs: list[str] = []
    for pipeline_id, effects in vace_effects(server_runs).items():
        items = []
        for effect in effects:
            if effect.latency is None:
                continue
            c = effect.latency
            sign = "+" if c.difference >= 0 else "−"
            judged = (f" [{format_value(c.ci_low, c.unit)}, {format_value(c.ci_high, c.unit)}], "
                      f"{'significant' if c.significant else 'not significant'}" if effect.judged else ", few trials")
            items.append(f"{effect.condition.label} {sign}{format_value(abs(c.difference), c.unit)}{judged}")
            runs += server_runs.runs_of(effect.condition.trials)
        if items:
            parts.append(f"{pipeline_id} vs {effects[0].reference.label}: " + "; ".join(items))
    if not parts:
        return None
    return cited(server_runs, "**Measured** (frame latency p50): " + " | ".join(parts), list(dict.fromkeys(runs)))


def _reference_images(server_runs: ServerRuns, _: Asked) -> str | None:
    trials = server_runs.ok
    if "vace_ref_count" not in trials:
        return None
    with_refs = trials[trials["vace_ref_count"].fillna(0).astype(int) > 0]
    if with_refs.empty:
        return None
    counts = sorted({int(c) for c in with_refs["vace_ref_count"]})
    images = f"{counts[0]}–{counts[-1]}" if len(counts) > 1 else f"{counts[0]}"
    trials = f"{len(with_refs)} trial{'s' if len(with_refs) != 1 else ''}"
    return cited(server_runs, f"**Via the API**: upload each image (`POST /api/v1/assets`), then send the returned "
                              f"paths as `vace_ref_images` over the data channel, with the pipeline loaded with "
                              f"`vace_enabled`; {trials} ran with {images} images",
                 server_runs.runs_of(with_refs))


def _versus_off(conditions: list[QualityCondition]) -> str:
    off = next((c for c in conditions if not c.condition.vace_enabled and c.similarity is not None), None)
    return f" (VACE off: {show_figure(off.similarity)})" if off is not None and off.similarity else ""


def _drift_words(drift: Figure | None) -> str:
    """The drift with its CI, and what it means for holding the character."""
    if drift is None or drift.value is None:
        return "drift not measured"
    text = f"drift {show_figure(drift)}"
    if drift.ci_low is None or drift.ci_high is None:
        return text
    if drift.ci_high < 0:
        return f"{text}: fades, {format_value(-drift.value * 60, drift.unit.removesuffix('/s'))} per minute"
    if drift.ci_low > 0:
        return f"{text}: grows"
    return f"{text}: no drift measurable (CI spans 0)"


def _best_text(conditions: list[QualityCondition], best: QualityCondition) -> str:
    assert best.similarity is not None
    return (f"{best.label}: similarity {show_figure(best.similarity)}{_versus_off(conditions)}, "
            f"{_drift_words(best.drift)}")


def _quality_runs(server_runs: ServerRuns) -> list[str]:
    return sorted(avatar_runs(server_runs))


def _consistency(server_runs: ServerRuns, _: Asked) -> str | None:
    per_pipeline = avatar_conditions(server_runs)
    parts = []
    for pipeline_id, conditions in per_pipeline.items():
        best = best_condition(conditions)
        if best is not None:
            parts.append(f"{pipeline_id}, best {_best_text(conditions, best)}")
    if not parts:
        return None
    runs = _quality_runs(server_runs)
    trials = server_runs.ok[server_runs.ok["run_id"].isin(runs)]
    return cited(server_runs, f"**Measured** (reference similarity = mean cosine of output samples to the reference "
                              f"images, {embedding_models(trials)}; drift = its slope over a trial, references sent "
                              f"once): " + " | ".join(parts), runs)


def _avatar_results(server_runs: ServerRuns, _: Asked) -> str | None:
    per_pipeline = avatar_conditions(server_runs)
    conditions = [c for items in per_pipeline.values() for c in items]
    best = best_condition(conditions)
    if best is None:
        return None
    runs = _quality_runs(server_runs)
    trials = server_runs.ok[server_runs.ok["run_id"].isin(runs)]
    fps = best.condition.fps
    speed = f", {format_figure(fps)} out" if fps is not None and fps.value is not None else ""
    return cited(server_runs, f"**Best: `{best.pipeline_id}`, {_best_text(per_pipeline[best.pipeline_id], best)}"
                              f"{speed}** (best = highest reference similarity, and of the conditions whose CI "
                              f"overlaps it the one that drifts least; {len(conditions)} conditions on "
                              f"{len(per_pipeline)} pipeline(s); references: {reference_set(server_runs, runs)}; "
                              f"{embedding_models(trials)})", runs)


VACE_QUESTIONS: tuple[Question, ...] = (
    Question("vace-latency", "What's the latency impact of VACE?", "VACE", _vace_latency),
    Question("vace-latency-2", "Latency impact?", "VACE", _vace_latency),
    Question("vace-refs", "How to provide reference images?", "VACE", _reference_images),
    Question("vace-consistency", "Consistency quality?", "VACE", _consistency),
    Question("avatar-results", "MetaDJ avatar reference test results?", "VACE", _avatar_results),
)
