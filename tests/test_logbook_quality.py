"""Quality answers of the research log from scored runs (synthetic, written through lab.store),
checked cell by cell: the best VACE condition and its rule, drift verdicts, 512x512 quality
with the contact sheet, and generation judged on generative pipelines only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.logbook import TEMPLATE, ServerRuns, update_log
from lab.logbook.generative import is_generative, split_by_generation
from lab.logbook.quality import avatar_conditions, avatar_runs, best_condition
from lab.logbook.questions import answer_questions
from lab.logbook.vace import vace_conditions
from tests.avatar_runs import CPU_SCOPE_SCHEMAS, Trial, avatar_spec, write_run
from tests.fixtures import PIPELINES_RUN, copy_runs

RUN = "20261127T100000Z-a1a1a1"
ON = "vace_enabled=true vace_ref_images=3 vace_context_scale={}"


def _condition(pipeline: str, scale: float | None, similarity: tuple[float, float, float],
               drift: tuple[float, float, float], *, fps: float = 16.0, size: tuple[int, int] = (512, 512),
               flicker: tuple[float, float, float] = (2.0, 2.2, 2.4)) -> list[Trial]:
    """Three trials of one condition (their CI over trials is [min, max]: see _expected)."""
    condition = "vace_enabled=false" if scale is None else ON.format(scale)
    return [Trial(pipeline, condition, scale is not None, scale, 3 if scale is not None else 0, fps,
                  {"ref_similarity": (s, s - 0.01, s + 0.01), "identity_drift": (d, d - 0.001, d + 0.001),
                   "flicker": (f, None, None), "sharpness": (300.0 + 10 * k, None, None)}, size)
            for k, (s, d, f) in enumerate(zip(similarity, drift, flicker, strict=True))]


# With three distinct trial values the bootstrap CI of the median is [min, max]: a resample's
# median is the smallest value with probability 7/27, far above 2.5 %, and likewise the largest.
AVATAR = [
    *_condition("longlive", None, (0.40, 0.41, 0.42), (-0.0011, 0.0001, 0.0013), fps=18.0),
    *_condition("longlive", 0.5, (0.70, 0.71, 0.72), (0.0005, 0.0010, 0.0015)),    # drifts least, far below the top
    *_condition("longlive", 1.0, (0.84, 0.86, 0.88), (-0.0020, -0.0010, 0.0001)),  # tied with the top, holds
    *_condition("longlive", 1.5, (0.87, 0.88, 0.89), (-0.012, -0.010, -0.008)),    # the top, but fades
    *_condition("streamdiffusionv2", None, (0.30, 0.31, 0.32), (-0.0011, 0.0002, 0.0012), fps=22.0),
    *_condition("streamdiffusionv2", 1.0, (0.61, 0.62, 0.63), (-0.016, -0.015, -0.014), fps=20.0),
    *_condition("streamdiffusionv2", 1.5, (0.63, 0.64, 0.65), (-0.021, -0.020, -0.019), fps=20.0),
    *_condition("krea-realtime-video", None, (0.20, 0.21, 0.22), (-0.001, 0.0, 0.001), fps=9.0, size=(576, 320)),
]  # krea: VACE off only, at 576x320: no VACE condition to weigh, and no 512x512 figures


@pytest.fixture
def out(tmp_path: Path) -> Path:
    write_run(tmp_path / "results", RUN, AVATAR)
    return tmp_path / "results"


def _answers(server_runs: ServerRuns, log_dir: Path | None = None) -> dict[str, str]:
    return {a.key: a.answer for a in answer_questions(server_runs, log_dir=log_dir)}


def test_the_best_condition_is_tied_with_the_top_similarity_and_drifts_least(out: Path) -> None:
    server_runs = ServerRuns.load(None, out)
    assert avatar_runs(server_runs) == {RUN}
    conditions = avatar_conditions(server_runs)
    assert [c.label for c in conditions["longlive"]] == ["VACE off", "VACE on, 3 refs, scale 0.5",
                                                          "VACE on, 3 refs, scale 1.0", "VACE on, 3 refs, scale 1.5"]
    best = best_condition(conditions["longlive"])
    assert best is not None and best.label == "VACE on, 3 refs, scale 1.0"
    assert (best.similarity.value, best.similarity.ci_low, best.similarity.ci_high, best.similarity.n) == (
        pytest.approx(0.86), pytest.approx(0.84), pytest.approx(0.88), 3)
    assert best_condition(conditions["streamdiffusionv2"]).label == "VACE on, 3 refs, scale 1.0"
    overall = best_condition([c for items in conditions.values() for c in items])
    assert (overall.pipeline_id, overall.label) == ("longlive", "VACE on, 3 refs, scale 1.0")
    assert "krea-realtime-video" not in conditions  # VACE off only: nothing to weigh
    assert best_condition(conditions["longlive"][:1]) is None  # VACE off alone: no condition with references


def test_vace_answers_cell_by_cell(out: Path) -> None:
    answers = _answers(ServerRuns.load(None, out))
    cite = f"(run `{RUN}`, 2026-11-27, SIMULATED)"
    pixels = "embedding `pixels` (colour layout, not identity: score with a CLIP model for identity)"
    longlive = ("VACE on, 3 refs, scale 1.0: similarity 0.860 cosine [0.840–0.880] n=3 (VACE off: 0.410 cosine "
                "[0.400–0.420] n=3), drift -0.0010 cosine/s [-0.0020–0.0001] n=3: no drift measurable (CI spans 0)")
    sd = ("VACE on, 3 refs, scale 1.0: similarity 0.620 cosine [0.610–0.630] n=3 (VACE off: 0.310 cosine "
          "[0.300–0.320] n=3), drift -0.0150 cosine/s [-0.0160–-0.0140] n=3: fades, 0.900 cosine per minute")
    assert answers["vace-consistency"] == (
        f"**Measured** (reference similarity = mean cosine of output samples to the reference images, {pixels}; "
        f"drift = its slope over a trial, references sent once): longlive, best {longlive} | "
        f"streamdiffusionv2, best {sd} {cite}")
    assert answers["avatar-results"] == (
        f"**Best: `longlive`, {longlive}, 16.0 fps [16.0–16.0] n=3 out** (best = highest reference similarity, "
        "and of the conditions whose CI overlaps it the one that drifts least; 7 conditions on 2 pipeline(s); "
        "references: 3 images (dj-front.png, dj-left.png, dj-right.png), the shipped drawn stand-in set "
        "(lab/data/ref/avatar/), not the MetaDJ avatar: pass yours with `--set references=FOLDER/`; "
        f"{pixels}) {cite}")


def test_generation_quality_at_512_with_the_contact_sheet(out: Path) -> None:
    answer = _answers(ServerRuns.load(None, out), log_dir=out)["quality-512"]
    assert answer == (
        "**Measured** at 512×512 (generative pipelines at plain settings; flicker = median warp error between "
        "consecutive output frames after optical-flow alignment, lower is steadier; detail = variance of the "
        "Laplacian, higher is sharper): longlive flicker 2.20 levels [2.00–2.40] n=3, detail 310.0 levels² "
        "[300.0–320.0] n=3; streamdiffusionv2 flicker 2.20 levels [2.00–2.40] n=3, detail 310.0 levels² [300.0–320.0] n=3"
        " | not at 512×512: krea-realtime-video (576x320); look at the frames: "
        f"[contact sheet {RUN}]({RUN}/plots/contact_sheet.png) (run `{RUN}`, 2026-11-27, SIMULATED)")


def test_one_trial_per_condition_shows_its_own_ci_and_says_so(tmp_path: Path) -> None:
    trials = [Trial("longlive", "vace_enabled=false", False, None, 0, 18.0,
                    {"ref_similarity": (0.41, 0.40, 0.42), "identity_drift": (0.0001, -0.001, 0.0012)}),
              Trial("longlive", ON.format(1.0), True, 1.0, 3, 16.0,
                    {"ref_similarity": (0.86, 0.85, 0.87), "identity_drift": (-0.004, -0.005, -0.003)})]
    write_run(tmp_path, RUN, trials, spec=avatar_spec(repeats=1))
    answer = _answers(ServerRuns.load(None, tmp_path))["avatar-results"]
    assert answer.startswith(
        "**Best: `longlive`, VACE on, 3 refs, scale 1.0: similarity 0.860 cosine [0.850–0.870 cosine over its "
        "samples, 1 trial] (VACE off: 0.410 cosine [0.400–0.420 cosine over its samples, 1 trial]), drift "
        "-0.0040 cosine/s [-0.0050–-0.0030 cosine/s over its samples, 1 trial]: fades, 0.240 cosine per minute")


def test_without_an_avatar_run_the_vace_quality_questions_stay_open(tmp_path: Path) -> None:
    resent = avatar_spec(reference_resend_s=0.5)  # references re-sent every chunk: the VACE sweep's regime
    write_run(tmp_path, RUN, AVATAR, spec=resent)
    answers = _answers(ServerRuns.load(None, tmp_path))
    assert "vace-consistency" not in answers and "avatar-results" not in answers
    assert "quality-512" in answers  # flicker and detail need no avatar run
    assert set(vace_conditions(ServerRuns.load(None, tmp_path))) == {"longlive", "streamdiffusionv2"}  # what VACE costs


def test_an_avatar_run_is_not_mixed_into_what_vace_costs(out: Path) -> None:
    """References sent once cost less than re-sent every chunk: the two regimes stay apart."""
    server_runs = ServerRuns.load(None, out)
    assert "vace-consistency" in _answers(server_runs) and vace_conditions(server_runs) == {}


def test_the_log_ticks_the_quality_questions_and_marks_them_simulated(out: Path, tmp_path: Path) -> None:
    log = out / "research-log.md"
    log.write_bytes(TEMPLATE.read_bytes())
    result = update_log(log, ServerRuns.load(None, out))
    assert {"vace-consistency", "avatar-results", "quality-512"} <= set(result.answered)
    lines = {line.split(" → ")[0]: line for line in log.read_text().split("\n") if line.startswith("- [x]")}
    for question in ("Consistency quality?", "MetaDJ avatar reference test results?", "Generation quality at 512×512?"):
        assert lines[f"- [x] {question}"].endswith("SIMULATED) <!-- scope-lab:answer "
                                                    + {"Consistency quality?": "vace-consistency",
                                                       "MetaDJ avatar reference test results?": "avatar-results",
                                                       "Generation quality at 512×512?": "quality-512"}[question]
                                                    + " -->")
    assert f"]({RUN}/plots/contact_sheet.png)" in log.read_text()  # relative to the log, beside the run folders


# -- item 6: generation is judged on generative pipelines -------------------------------------

def test_generative_is_read_from_the_schema_snapshot() -> None:
    split = split_by_generation(list(CPU_SCOPE_SCHEMAS), CPU_SCOPE_SCHEMAS)
    assert split.generative == [] and not split.unknown
    assert split.other == {"passthrough": "no prompts and no models", "controller-viz": "no prompts and no models",
                           "rife": "a postprocessor", "scribble": "a preprocessor", "gray": "a preprocessor",
                           "optical-flow": "a preprocessor"}
    assert is_generative({"supports_prompts": True})  # a prompt-driven model
    assert is_generative({"requires_models": True, "usage": []})  # models, and not a pre/post-processor
    assert split_by_generation(["mystery"], {}).unknown == ["mystery"]


def test_a_real_cpu_only_scope_is_not_judged_real_time_or_for_quality(tmp_path: Path) -> None:
    """Real Scope 0.2.4 without a GPU: passthrough and gray keep up, and generate nothing."""
    out = copy_runs(tmp_path / "runs", PIPELINES_RUN)
    root = out / PIPELINES_RUN
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["simulated"] = False
    manifest["servers"]["sim"] |= {"simulated": False, "schemas": CPU_SCOPE_SCHEMAS}
    (root / "manifest.json").write_text(json.dumps(manifest))
    rows = [json.loads(line) for line in (root / "trials.jsonl").read_text().splitlines()]
    rows = [row | {"simulated": False} for row in rows if row["pipeline_id"] in ("passthrough", "gray")]
    (root / "trials.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    flicker = {"flicker": {"value": 0.1, "unit": "levels", "n": 40, "ci_low": 0.0, "ci_high": 0.2}}
    (root / "quality.jsonl").write_text("".join(json.dumps({"trial_id": row["trial_id"], "model": "pixels",
                                                            "figures": flicker}) + "\n" for row in rows))
    answers = _answers(ServerRuns.load(None, out))
    nothing = (f"**Not judged**: no generative pipeline was measured: passthrough (no prompts and no models), gray "
               f"(a preprocessor) do not generate video (their schemas), so they say nothing about {{}} "
               f"(run `{PIPELINES_RUN}`, 2026-11-25, Scope 0.2.4)")
    assert answers["realtime"] == nothing.format("real-time generation")
    assert answers["quality-512"] == nothing.format("generation quality")
