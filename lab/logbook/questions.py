"""Answers to the log's open questions, where the runs hold the data that answers them.

Each answerer looks at the evidence and returns an answer or None; None leaves the
question unticked and untouched. An answer names its runs and date, and SIMULATED when the
server was the simulator. What the data cannot judge (ease of integration) is never
ticked by judgement: the integration path is answered with each path's measured figures and
set-up steps (:mod:`lab.logbook.integration`), leaving the judgement of ease to the reader.
Spout is answered as far as the API can: whether the server can use it, the server's reason
when not, and its install hint (the manifest's ``hardware`` block, from
``/api/v1/hardware/info``, and its ``inputs`` block, :mod:`lab.inputs`).

Answers about generation (real-time viability, picture quality) are judged on pipelines
that generate video only (:mod:`lab.logbook.generative`): a CPU host's passthrough keeps
up, and says nothing about generating. Where no generative pipeline was measured, the
answer says so. Quality answers (:mod:`lab.logbook.quality`) need scored runs (``lab
quality``); the VACE consistency ones need an avatar run (``lab sweep avatar``).

The API questions need the manifest's ``api`` block (:mod:`lab.apifacts`); runs made
before it existed answer them not at all rather than from guesses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lab.logbook.evidence import Evidence, format_figure, format_value
from lab.logbook.generative import Generation, split_by_generation
from lab.logbook.integration import integration_answer
from lab.logbook.markdown import AnswerLine
from lab.logbook.quality import (QualityCondition, avatar_conditions, avatar_runs, best_condition, condition_figure,
                                 embedding_models, plain_trials, reference_set, show_figure, trial_resolution)
from lab.logbook.vace import vace_effects
from lab.stats import Figure

__all__ = ["Question", "QUESTIONS", "Asked", "answer_questions", "realtime_verdicts", "Realtime",
           "DEFAULT_REALTIME_FPS", "answers_table", "CONTACT_SHEET", "GENERATION_SIZE"]

DEFAULT_REALTIME_FPS = 15.0
INPUT_KEEPUP = 0.95  # v2v output at this share of the input rate keeps up with it
GENERATION_SIZE = (512, 512)  # the log asks about quality at 512x512
CONTACT_SHEET = Path("plots") / "contact_sheet.png"  # in each run folder, written by `lab report`


@dataclass(frozen=True)
class Asked:
    """What answers depend on besides the runs: the real-time threshold, and where the log is.

    Links in answers (the contact sheet) are written relative to ``log_dir``, so they work
    from the log (or report) that holds them; None: relative to the working directory.
    """

    realtime_fps: float = DEFAULT_REALTIME_FPS
    log_dir: Path | None = None

    def link(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.log_dir)).as_posix() if self.log_dir is not None else path.as_posix()


@dataclass(frozen=True)
class Question:
    """A checkbox question of the log, where it is, and how data answers it."""

    key: str
    text: str
    section: str
    answer: Callable[[Evidence, Asked], str | None]


def _cited(evidence: Evidence, text: str, run_ids: list[str] | None = None) -> str:
    return f"{text} ({evidence.cite(run_ids)})"


def _api(evidence: Evidence) -> dict | None:
    api = evidence.server.api
    return dict(api) if api and "scope_local" in api else None


def _hosted_api(evidence: Evidence, _: Asked) -> str | None:
    api = _api(evidence)
    if api is None:
        return None
    if api["hosted_streams"]:
        return _cited(evidence, "**Partly**: the server's OpenAPI lists Daydream's hosted `/v1/streams` routes")
    local = "it serves Scope's own local API instead: `/api/v1/pipeline/load`, `/api/v1/webrtc/offer`, " \
            "parameters over the WebRTC data channel" if api["scope_local"] else "nor Scope's local API"
    return _cited(evidence, f"**No**: the server's OpenAPI has no `/v1/streams` routes; {local}")


def _whip(evidence: Evidence, _: Asked) -> str | None:
    api = _api(evidence)
    if api is None:
        return None
    if api["whip_paths"]:
        paths = ", ".join(f"`{p}`" for p in api["whip_paths"])
        return _cited(evidence, f"**WHIP offered** at {paths}")
    return _cited(evidence, "**No WHIP**: no WHIP route in the OpenAPI; WebRTC is an SDP offer/answer at "
                            "`POST /api/v1/webrtc/offer`, pipeline and input mode in `initialParameters`")


def _docs(evidence: Evidence, _: Asked) -> str | None:
    api = _api(evidence)
    if api is None or not api.get("docs_served"):
        return None
    groups = ", ".join(f"{name} ({count})" for name, count in list(api["groups"].items())[:8])
    more = f" and {len(api['groups']) - 8} more groups" if len(api["groups"]) > 8 else ""
    simulator = (f"; plus {api['simulator_operations']} simulator control routes under `/sim/`"
                 if api.get("simulator_operations") else "")
    return _cited(evidence, f"**FastAPI Swagger UI of \"{api['title']}\" {api['api_version']}**: "
                            f"{api['operations']} operations, by group: {groups}{more}{simulator}")


def _vace_latency(evidence: Evidence, _: Asked) -> str | None:
    parts = []
    runs: list[str] = []
    for pipeline_id, effects in vace_effects(evidence).items():
        items = []
        for effect in effects:
            if effect.latency is None:
                continue
            c = effect.latency
            sign = "+" if c.difference >= 0 else "−"
            judged = (f" [{format_value(c.ci_low, c.unit)}, {format_value(c.ci_high, c.unit)}], "
                      f"{'significant' if c.significant else 'not significant'}" if effect.judged else ", few trials")
            items.append(f"{effect.condition.label} {sign}{format_value(abs(c.difference), c.unit)}{judged}")
            runs += evidence.runs_of(effect.condition.trials)
        if items:
            parts.append(f"{pipeline_id} vs {effects[0].reference.label}: " + "; ".join(items))
    if not parts:
        return None
    return _cited(evidence, "**Measured** (frame latency p50): " + " | ".join(parts), list(dict.fromkeys(runs)))


def _reference_images(evidence: Evidence, _: Asked) -> str | None:
    trials = evidence.ok
    if "vace_ref_count" not in trials:
        return None
    with_refs = trials[trials["vace_ref_count"].fillna(0).astype(int) > 0]
    if with_refs.empty:
        return None
    counts = sorted({int(c) for c in with_refs["vace_ref_count"]})
    images = f"{counts[0]}–{counts[-1]}" if len(counts) > 1 else f"{counts[0]}"
    trials = f"{len(with_refs)} trial{'s' if len(with_refs) != 1 else ''}"
    return _cited(evidence, f"**Via the API**: upload each image (`POST /api/v1/assets`), then send the returned "
                            f"paths as `vace_ref_images` over the data channel, with the pipeline loaded with "
                            f"`vace_enabled`; {trials} ran with {images} images",
                  evidence.runs_of(with_refs))


def _runpod_warmup(evidence: Evidence, _: Asked) -> str | None:
    kind = (evidence.server.api or {}).get("target_kind")
    if not (evidence.simulated or kind == "runpod"):
        return None  # a local GPU box says nothing about RunPod
    parts = []
    runs: list[str] = []
    for pipeline_id in evidence.pipelines():
        schema = evidence.server.schemas.get(pipeline_id, {})
        if not schema.get("requires_models"):
            continue
        figures = {name: evidence.figure(pipeline_id, name) for name in ("load_s", "ttff_s", "warmup_s")}
        if any(f is None or f.value is None for f in figures.values()):
            continue
        total = sum(f.value for f in figures.values() if f is not None and f.value is not None)
        parts.append(f"{pipeline_id} {format_value(total, 's')} (load {format_figure(figures['load_s'], n=False)}, "
                     f"first frame {format_figure(figures['ttff_s'], n=False)}, warm-up "
                     f"{format_figure(figures['warmup_s'], n=False)})")
        runs += evidence.runs_of(evidence.baseline(pipeline_id))
    if not parts:
        return None
    speed = evidence.server.simulator_speed
    where = ("the simulator's emulated RTX 5090 pod" + (f", loads {speed:g}x faster than real time" if speed and speed != 1 else "")
             if evidence.simulated else "the RunPod pod")
    return _cited(evidence, f"**Load request to steady output** on {where}: " + "; ".join(parts), list(dict.fromkeys(runs)))


def _input_fps(evidence: Evidence, trials: pd.DataFrame) -> float | None:
    """The input frame rate of video-to-video trials (their output cannot exceed it)."""
    if trials.empty or not trials["mode"].eq("video").all():
        return None
    rates = {float((evidence.manifests[r].get("spec") or {}).get("fps", 0)) for r in evidence.runs_of(trials)}
    return min(rates) if rates and min(rates) > 0 else None


@dataclass(frozen=True)
class Realtime:
    """Is a pipeline fast enough: its steady fps against the fps it needs."""

    pipeline_id: str
    fps: Figure
    needed_fps: float
    capped_by_input: bool
    verdict: str  # "yes", "no" or "borderline" (the CI spans the threshold)


def realtime_verdicts(evidence: Evidence, threshold_fps: float = DEFAULT_REALTIME_FPS) -> list[Realtime]:
    """Per measured pipeline: steady fps (median, CI over trials) against ``threshold_fps``.

    Video-to-video output cannot exceed its input rate: a pipeline fed below the threshold
    counts as real time when it keeps up with its input (within 5 %).
    """
    verdicts = []
    for pipeline_id in evidence.pipelines():
        figure = evidence.figure(pipeline_id, "fps_out")
        if figure is None or figure.value is None:
            continue
        needed, capped = threshold_fps, False
        input_fps = _input_fps(evidence, evidence.baseline(pipeline_id))
        if input_fps is not None and input_fps * INPUT_KEEPUP <= threshold_fps:
            needed, capped = input_fps * INPUT_KEEPUP, True
        low = figure.ci_low if figure.ci_low is not None and figure.n > 1 else figure.value
        high = figure.ci_high if figure.ci_high is not None and figure.n > 1 else figure.value
        verdict = "yes" if low >= needed else "no" if high < needed else "borderline"
        verdicts.append(Realtime(pipeline_id, figure, needed, capped, verdict))
    return verdicts


def _generation(evidence: Evidence, pipeline_ids: list[str]) -> Generation:
    return split_by_generation(pipeline_ids, evidence.server.schemas)


def _not_judged(generation: Generation) -> str:
    """`` | not judged, ...``: the measured pipelines an answer about generation leaves out."""
    return (f" | not judged, no video generation: {generation.describe_other()}"
            if generation.other or generation.unknown else "")


def _nothing_generates(evidence: Evidence, generation: Generation, what: str, runs: list[str]) -> str:
    return _cited(evidence, f"**Not judged**: no generative pipeline was measured: {generation.describe_other()} "
                            f"do not generate video (their schemas), so they say nothing about {what}", runs)


def _realtime(evidence: Evidence, asked: Asked) -> str | None:
    threshold_fps = asked.realtime_fps
    measured = realtime_verdicts(evidence, threshold_fps)
    if not measured:
        return None
    generation = _generation(evidence, [v.pipeline_id for v in measured])
    verdicts = [v for v in measured if v.pipeline_id in generation.generative]
    if not verdicts:
        runs = list(dict.fromkeys(r for v in measured for r in evidence.runs_of(evidence.baseline(v.pipeline_id))))
        return _nothing_generates(evidence, generation, "real-time generation", runs)
    groups = {kind: [f"{v.pipeline_id} {format_figure(v.fps)}" for v in verdicts if v.verdict == kind]
              for kind in ("yes", "no", "borderline")}
    head = ("**Yes**" if not groups["no"] and not groups["borderline"]
            else "**No**" if not groups["yes"] and not groups["borderline"] else "**Depends on the pipeline**")
    parts = [f"{label}: {'; '.join(groups[kind])}" for kind, label in
             (("yes", "real-time"), ("no", "too slow"), ("borderline", "borderline (CI spans it)")) if groups[kind]]
    cap = (f"; video-to-video output cannot exceed its input rate, so keeping up with it "
           f"(≥ {INPUT_KEEPUP:.0%} of it) counts" if any(v.capped_by_input for v in verdicts) else "")
    others = _not_judged(generation)
    runs = list(dict.fromkeys(r for v in verdicts for r in evidence.runs_of(evidence.baseline(v.pipeline_id))))
    return _cited(evidence, f"{head} at a {threshold_fps:g} fps threshold (generative pipelines, steady output fps, "
                            f"95 % CI{cap}): " + " | ".join(parts) + others, runs)


# -- picture quality -------------------------------------------------------------------------

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


def _quality_runs(evidence: Evidence) -> list[str]:
    return sorted(avatar_runs(evidence))


def _consistency(evidence: Evidence, _: Asked) -> str | None:
    per_pipeline = avatar_conditions(evidence)
    parts = []
    for pipeline_id, conditions in per_pipeline.items():
        best = best_condition(conditions)
        if best is not None:
            parts.append(f"{pipeline_id}, best {_best_text(conditions, best)}")
    if not parts:
        return None
    runs = _quality_runs(evidence)
    trials = evidence.ok[evidence.ok["run_id"].isin(runs)]
    return _cited(evidence, f"**Measured** (reference similarity = mean cosine of output samples to the reference "
                            f"images, {embedding_models(trials)}; drift = its slope over a trial, references sent "
                            f"once): " + " | ".join(parts), runs)


def _avatar_results(evidence: Evidence, _: Asked) -> str | None:
    per_pipeline = avatar_conditions(evidence)
    conditions = [c for items in per_pipeline.values() for c in items]
    best = best_condition(conditions)
    if best is None:
        return None
    runs = _quality_runs(evidence)
    trials = evidence.ok[evidence.ok["run_id"].isin(runs)]
    fps = best.condition.fps
    speed = f", {format_figure(fps)} out" if fps is not None and fps.value is not None else ""
    return _cited(evidence, f"**Best: `{best.pipeline_id}`, {_best_text(per_pipeline[best.pipeline_id], best)}"
                            f"{speed}** (best = highest reference similarity, and of the conditions whose CI "
                            f"overlaps it the one that drifts least; {len(conditions)} conditions on "
                            f"{len(per_pipeline)} pipeline(s); references: {reference_set(evidence, runs)}; "
                            f"{embedding_models(trials)})", runs)


def _generation_quality(evidence: Evidence, asked: Asked) -> str | None:
    scored = evidence.ok[evidence.ok["flicker"].notna()] if "flicker" in evidence.ok else evidence.ok.iloc[0:0]
    if scored.empty:
        return None
    generation = _generation(evidence, list(dict.fromkeys(scored["pipeline_id"])))
    if not generation.generative:
        return _nothing_generates(evidence, generation, "generation quality", evidence.runs_of(scored))
    parts, elsewhere, used = [], [], []
    for pipeline_id in generation.generative:
        trials = plain_trials(scored[scored["pipeline_id"].eq(pipeline_id)])
        sizes = [trial_resolution(evidence, r, t) for r, t in zip(trials["run_id"], trials["trial_id"], strict=True)]
        at_size = trials[[size == GENERATION_SIZE for size in sizes]]
        if at_size.empty:
            other = sorted({f"{w}x{h}" for w, h in filter(None, sizes)})
            elsewhere.append(f"{pipeline_id} ({', '.join(other) or 'resolution not recorded'})")
            continue
        figures = [(label, condition_figure(evidence, name, at_size))
                   for label, name in (("flicker", "flicker"), ("detail", "sharpness"))]
        parts.append(f"{pipeline_id} " + ", ".join(f"{label} {show_figure(f)}" for label, f in figures
                                                    if f is not None and f.value is not None))
        used.append(at_size)
    if not parts:
        return None
    runs = evidence.runs_of(pd.concat(used))
    sheets = ", ".join(f"[contact sheet {r}]({asked.link(evidence.runs.roots[r] / CONTACT_SHEET)})" for r in runs)
    skipped = f" | not at 512×512: {'; '.join(elsewhere)}" if elsewhere else ""
    others = _not_judged(generation)
    return _cited(evidence, "**Measured** at 512×512 (generative pipelines at plain settings; flicker = median "
                            "warp error between consecutive output frames after optical-flow alignment, lower is "
                            "steadier; detail = variance of the Laplacian, higher is sharper): " + "; ".join(parts)
                            + f"{skipped}{others}; look at the frames: {sheets}", runs)


def _sam3(evidence: Evidence, _: Asked) -> str | None:
    schemas = evidence.server.schemas
    if not schemas:
        return None
    found = [p for p, s in schemas.items() if "sam" in p.lower().split("-") or "sam3" in p.lower()
             or "sam" in str(s.get("name", "")).lower().split()]
    if found:
        return _cited(evidence, "**Yes**: the server lists " + ", ".join(f"`{p}`" for p in found))
    return _cited(evidence, f"**Not listed**: none of the server's {len(schemas)} pipelines is SAM3")


def _alpha(evidence: Evidence, _: Asked) -> str | None:
    schemas = evidence.server.schemas
    if not schemas or not all("outputs" in s for s in schemas.values()):
        return None
    other = {p: s["outputs"] for p, s in schemas.items() if set(s["outputs"]) - {"video"}}
    if other:
        listed = "; ".join(f"`{p}`: {', '.join(o)}" for p, o in other.items())
        return _cited(evidence, f"**Yes, some pipelines**: {listed}")
    return _cited(evidence, f"**No**: all {len(schemas)} pipelines declare `outputs: [video]` only "
                            "(no mask or alpha output)")


def _spout(evidence: Evidence, _: Asked) -> str | None:
    spout = (evidence.server.hardware or {}).get("spout")
    if not isinstance(spout, dict):
        return None
    how = ("output is one runtime parameter, `output_sinks: {\"spout\": {\"enabled\": true, \"name\": ...}}`, and "
           "input a session's `input_source` of type `spout`")
    sources = (evidence.server.inputs or {}).get("input_sources") or []
    source = next((s for s in sources if s.get("source_id") == "spout"), None)
    as_input = "" if source is None else f"; its input source type `spout` is {'' if source.get('available') else 'not '}available"
    if spout.get("available"):
        return _cited(evidence, f"**Available on this server** (`/api/v1/hardware/info`): {how}{as_input}")
    hint = f"; the server's install hint: \"{spout['install_hint']}\"" if spout.get("install_hint") else ""
    return _cited(evidence, f"**Not available on this server**: \"{spout.get('reason') or 'no reason given'}\""
                            f"{hint}{as_input} (`/api/v1/hardware/info`). Where it is available, {how}")
def _integration(evidence: Evidence, _: Asked) -> str | None:
    answer = integration_answer(evidence)
    return None if answer is None else _cited(evidence, *answer)


QUESTIONS: tuple[Question, ...] = (
    Question("api-hosted", "Is the API structure identical to Daydream hosted API?", "API", _hosted_api),
    Question("whip", "Does WHIP work the same way?", "API", _whip),
    Question("docs", "What's in the Swagger UI (`/docs`)?", "API", _docs),
    Question("vace-latency", "What's the latency impact of VACE?", "VACE", _vace_latency),
    Question("vace-latency-2", "Latency impact?", "VACE", _vace_latency),
    Question("vace-refs", "How to provide reference images?", "VACE", _reference_images),
    Question("vace-consistency", "Consistency quality?", "VACE", _consistency),
    Question("avatar-results", "MetaDJ avatar reference test results?", "VACE", _avatar_results),
    Question("runpod-warmup", "RunPod warm-up time?", "Performance", _runpod_warmup),
    Question("quality-512", "Generation quality at 512×512?", "Performance", _generation_quality),
    Question("realtime", "Real-time viability for demo?", "Performance", _realtime),
    Question("spout", "Spout output complexity (future, optional)?", "Integration", _spout),
    Question("integration", "Simplest web UI integration path?", "Integration", _integration),
    Question("sam3", "Is SAM3 available as a pipeline module?", "Masking", _sam3),
    Question("alpha", "Does Scope expose segmentation or alpha output?", "Masking", _alpha),
)


def answer_questions(evidence: Evidence, realtime_fps: float = DEFAULT_REALTIME_FPS, *,
                     log_dir: Path | str | None = None) -> list[AnswerLine]:
    """The questions the evidence answers, as lines for :func:`lab.logbook.markdown.update_file`.

    ``log_dir``: the folder of the file the answers go into (links are relative to it).
    """
    asked = Asked(realtime_fps, Path(log_dir) if log_dir is not None else None)
    answers = []
    for question in QUESTIONS:
        text = question.answer(evidence, asked)
        if text is not None:
            answers.append(AnswerLine(question.key, question.text, text, question.section))
    return answers


def answers_table(evidence: Evidence, realtime_fps: float = DEFAULT_REALTIME_FPS, *,
                  log_dir: Path | str | None = None) -> pd.DataFrame:
    """Every question of the log with its answer from the data, or "open" (notebook 06)."""
    answers = {a.key: a.answer for a in answer_questions(evidence, realtime_fps, log_dir=log_dir)}
    return pd.DataFrame([{"section": q.section, "question": q.text, "answer": answers.get(q.key, "open")}
                         for q in QUESTIONS])
