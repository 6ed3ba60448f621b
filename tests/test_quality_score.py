"""Quality scoring without streaming: samples with known properties, the store, `lab quality`.

Each sample set is built so that its figures are known by construction (a brightness step
of known size, repeats at known frames, frames blending a reference at a known share); the
streaming end, against the simulator's truth, is in ``test_quality_sim.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lab.cli import main
from lab.errors import ModelWeightsMissingError
from lab.quality import embed
from lab.quality.embed import load_embedder
from lab.quality.metrics import luma
from lab.quality.samples import (InputKeeper, LumaChange, PairSampler, QualitySamples, downscale, prompt_text,
                                 sample_size)
from lab.quality.score import QUALITY_FIGURES, SERIES_COLUMNS, score_trial
from lab.quality.stored import RunScorer, read_references, rescore_run
from lab.quality.synthetic import texture
from lab.sources.base import FrameRecord
from lab.store import RunStore, StoreError, load_runs

SIDE = 96
PIXELS = load_embedder("pixels")


def samples_of(frames: list[np.ndarray], next_frames: list[np.ndarray], *, times: list[float] | None = None,
               inputs: list[np.ndarray] | None = None, luma_change: list[float] | None = None,
               prompt: str | None = "a red fox", no_pairing: str | None = "text-to-video: no input") -> QualitySamples:
    n = len(frames)
    times = times if times is not None else [0.5 * i for i in range(n)]
    changes = np.array(luma_change if luma_change is not None else [np.nan] + [10.0] * (4 * n - 1))
    return QualitySamples(
        times_s=np.array(times, float), pts=np.arange(2 * n, dtype=np.int64).reshape(n, 2) * 3000,
        frames=np.stack(frames), next_frames=np.stack(next_frames),
        inputs=None if inputs is None else np.stack(inputs), paired=np.array([inputs is not None] * n),
        frame_times_s=np.arange(changes.size) / 8.0, luma_change=changes,
        prompt=prompt, no_pairing=None if inputs is not None else no_pairing)


def shifted(frame: np.ndarray, levels: float) -> np.ndarray:
    return np.clip(frame.astype(np.float32) + levels, 0, 255).astype(np.uint8)


def figures_of(samples: QualitySamples, **kwargs: object) -> dict[str, object]:
    options = {"references": [], "prompt": samples.prompt, "embedder": PIXELS} | kwargs
    figures, _ = score_trial(samples, **options)  # type: ignore[arg-type]
    return {f.name: f for f in figures}


BASE = texture(SIDE, SIDE, seed=1)


# --- the figures ----------------------------------------------------------------------------


def test_flicker_is_the_injected_brightness_step_and_zero_for_a_still_picture() -> None:
    still = figures_of(samples_of([BASE] * 6, [BASE] * 6))
    assert still["flicker"].value == 0 and still["flicker"].n == 6 and still["flicker"].unit == "levels"
    steps = figures_of(samples_of([BASE] * 6, [shifted(BASE, 6)] * 6))
    assert steps["flicker"].value == pytest.approx(6, abs=0.3)  # textured mid-tones: nothing clips


def test_flicker_trend_is_the_growth_of_the_step_per_second() -> None:
    times = [0.5 * i for i in range(10)]
    growing = samples_of([BASE] * 10, [shifted(BASE, 2 + 2 * t) for t in times], times=times)
    trend = figures_of(growing)["flicker_trend"]
    assert trend.unit == "levels/s" and trend.value == pytest.approx(2.0, abs=0.2)
    assert trend.ci_low <= trend.value <= trend.ci_high
    few = figures_of(samples_of([BASE] * 2, [BASE] * 2))["flicker_trend"]
    assert few.value is None and "at least 3 samples" in few.warnings[0]


def test_duplicates_and_freezes_come_from_every_frame_luma_change() -> None:
    # 8 fps: frames 1-3 new, 4 repeats, 5-6 new, 7-12 repeat (6 repeats: 0.75 s frozen from
    # frame 6 to frame 13, the next new picture), 13-15 new.
    changes = [np.nan, 9, 9, 9, 1.0, 9, 9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 9, 9, 9]
    figures = figures_of(samples_of([BASE] * 3, [BASE] * 3, luma_change=changes))
    duplicate, freeze = figures["duplicate_share"], figures["freeze_share"]
    assert duplicate.value == pytest.approx(100 * 7 / 15) and duplicate.n == 15 and duplicate.unit == "%"
    # times 1/8 .. 15/8 (the first frame has no change): frozen 6/8 .. 13/8 of 14/8 s
    assert freeze.value == pytest.approx(100 * (7 / 8) / (14 / 8)) and freeze.n == 15
    assert "2.5 levels" in duplicate.note


def test_fidelity_is_ssim_with_the_paired_input_or_says_why_not() -> None:
    other = texture(SIDE, SIDE, seed=2)
    same = figures_of(samples_of([BASE] * 4, [BASE] * 4, inputs=[BASE] * 4))["fidelity_ssim"]
    assert same.value == pytest.approx(1.0) and same.n == 4
    unrelated = figures_of(samples_of([BASE] * 4, [BASE] * 4, inputs=[other] * 4))["fidelity_ssim"]
    assert unrelated.value < 0.3
    skipped = figures_of(samples_of([BASE] * 4, [BASE] * 4, no_pairing="text-to-video: no input"))["fidelity_ssim"]
    assert skipped.value is None and skipped.note == "not scored: text-to-video: no input"


def blend(share: float, reference: np.ndarray, content: np.ndarray) -> np.ndarray:
    return np.clip((1 - share) * content.astype(np.float32) + share * reference, 0, 255).astype(np.uint8)


# A 4 x 4 grid of mid-tone blocks: strong layout, no clipping.
BLOCKS = np.random.default_rng(7).integers(40, 215, (4, 4, 3))
REFERENCE = np.kron(BLOCKS, np.ones((SIDE // 4, SIDE // 4, 1))).astype(np.uint8)


def test_reference_similarity_rises_with_the_share_and_drift_follows_its_decay() -> None:
    content = [texture(SIDE, SIDE, grain_px=12, seed=10 + i) for i in range(10)]
    times = [0.5 * i for i in range(10)]

    def trial(shares: list[float]) -> dict[str, object]:
        frames = [blend(s, REFERENCE, c) for s, c in zip(shares, content)]
        return figures_of(samples_of(frames, frames, times=times), references=[REFERENCE])

    levels = [trial([s] * 10)["ref_similarity"].value for s in (0.1, 0.3, 0.6)]
    assert levels[0] < levels[1] < levels[2]
    steady = trial([0.6] * 10)
    decaying = trial([0.6 * (1 - 0.15 * t) for t in times])
    assert decaying["identity_drift"].value < -0.02 and decaying["identity_drift"].unit == "cosine/s"
    assert abs(steady["identity_drift"].value) < 0.25 * abs(decaying["identity_drift"].value)
    assert "pixels" in steady["ref_similarity"].note and "1 reference images" in steady["ref_similarity"].note
    assert "ref_similarity" not in figures_of(samples_of([BASE] * 3, [BASE] * 3))  # no references: no figure


class MeanColour:
    """A stand-in embedder with a text side: an image is its mean colour, a text is red."""

    model_id = "test/mean-colour"

    def images(self, frames: list[np.ndarray]) -> np.ndarray:
        rows = np.array([f.reshape(-1, 3).mean(axis=0) for f in frames], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def texts(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0, 0.0]] * len(texts), np.float32)


def test_prompt_alignment_needs_a_text_side_and_says_so() -> None:
    frames = [np.full((SIDE, SIDE, 3), (200, 100, 100), np.uint8)] * 3
    aligned = figures_of(samples_of(frames, frames), embedder=MeanColour())["prompt_alignment"]
    assert aligned.value == pytest.approx(200 / np.sqrt(200**2 + 2 * 100**2)) and aligned.n == 3
    assert "test/mean-colour" in aligned.note
    pixels = figures_of(samples_of(frames, frames))["prompt_alignment"]
    assert pixels.value is None and "no text side" in pixels.note and "clip" in pixels.note.lower()
    silent = figures_of(samples_of(frames, frames, prompt=None), embedder=MeanColour())["prompt_alignment"]
    assert silent.value is None and "no text prompt" in silent.note


def test_without_a_model_the_model_free_figures_stay_and_the_others_say_why() -> None:
    figures, series = score_trial(samples_of([BASE] * 3, [BASE] * 3), references=[REFERENCE], prompt="a fox",
                                  embedder=None)
    named = {f.name: f for f in figures}
    assert list(named) == [name for name in QUALITY_FIGURES if name in named] and set(named) == set(QUALITY_FIGURES)
    for name in ("ref_similarity", "identity_drift", "prompt_alignment"):
        assert named[name].value is None and "no embedding model" in named[name].note
    assert named["flicker"].value == 0 and named["sharpness"].value > 0
    assert tuple(series.columns) == SERIES_COLUMNS and len(series) == 3


# --- what the receive path keeps -------------------------------------------------------------


def received(seq: int, t_s: float, picture: np.ndarray, pts: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, pts=seq * 3000 if pts is None else pts, complete_ns=int(t_s * 1e9),
                           rgb=lambda: picture)


def test_pairs_are_taken_twice_a_second_and_only_of_consecutive_frames() -> None:
    picture = np.zeros((512, 384, 3), np.uint8)
    sampler = PairSampler(start_ns=int(1e9), inputs=None)
    for seq in range(40):  # 10 fps from t = 0 s; the window starts at 1 s
        if seq != 26:  # the receive loop missed frame 26: the pair it would complete is dropped
            sampler.offer(received(seq, seq / 10, picture), stamp_id=None)
    kept = sampler.samples(np.array([int(s * 1e8) for s in range(40)]), np.zeros(40), steady_from_ns=0,
                           prompt=None, no_pairing="text-to-video: no input")
    assert kept.pts[:, 0].tolist() == [s * 3000 for s in (10, 15, 20, 30, 35)]
    assert (kept.pts[:, 1] - kept.pts[:, 0] == 3000).all()
    assert kept.times_s == pytest.approx([0.0, 0.5, 1.0, 2.0, 2.5])
    assert kept.frames.shape == (5, 256, 192, 3) == kept.next_frames.shape  # long side 256 px, aspect kept
    assert kept.frame_times_s.size == 30 and kept.inputs is None  # frames from the window's start on


def test_a_stamped_output_is_paired_with_the_input_that_carried_its_id() -> None:
    keeper = InputKeeper()
    pictures = [np.full((64, 64, 3), i, np.uint8) for i in range(30)]
    for i, picture in enumerate(pictures):  # sent at 10 fps: kept every 0.5 s (ids 0, 5, 10, ...)
        keeper(FrameRecord(frame_id=100 + i, pts=0, sent_ns=int(i * 1e8)), picture)
    assert list(keeper.pictures) == [100, 105, 110, 115, 120, 125]
    sampler = PairSampler(start_ns=0, inputs=keeper)
    for seq in range(25):  # the output carries ids 100.. with 3 frames of delay
        sampler.offer(received(seq, 0.3 + seq / 10, pictures[seq]), stamp_id=100 + seq)
    kept = sampler.samples(np.arange(25) * 10**8, np.zeros(25), steady_from_ns=0, prompt=None, no_pairing=None)
    assert kept.paired.all() and kept.inputs is not None
    assert [int(p[0, 0, 0]) for p in kept.inputs] == [0, 5, 10, 15, 20]
    assert (kept.inputs == kept.frames).all()


def test_the_luma_change_of_decoded_frames_is_the_metrics_luma_difference() -> None:
    a, b = texture(480, 640, seed=3), texture(480, 640, seed=4)
    change = LumaChange()
    first = av.VideoFrame.from_ndarray(a, format="rgb24").reformat(format="yuv420p")
    second = av.VideoFrame.from_ndarray(shifted(a, 3), format="rgb24").reformat(format="yuv420p")
    third = av.VideoFrame.from_ndarray(b, format="rgb24").reformat(format="yuv420p")
    assert np.isnan(change(first))
    assert sample_size(640, 480) == (256, 192)
    assert change(second) == pytest.approx(3.0, abs=0.3)
    expected = float(np.abs(luma(downscale(b)) - luma(downscale(shifted(a, 3)))).mean())
    assert change(third) == pytest.approx(expected, rel=0.05)


def test_prompt_text_is_the_heaviest_prompt() -> None:
    assert prompt_text({"prompts": [{"text": "a", "weight": 0.2}, {"text": "b", "weight": 0.8}]}) == "b"
    assert prompt_text({"prompts": []}) is None and prompt_text({}) is None


# --- the store and re-scoring ---------------------------------------------------------------


def new_store(tmp_path: Path, trial_ids: list[str]) -> RunStore:
    store = RunStore.create(tmp_path, {"kind": "sweep", "simulated": True})
    for trial_id in trial_ids:
        store.append_trial({"trial_id": trial_id, "pipeline_id": "p", "condition": "c", "status": "ok",
                            "figures": {"fps_out": {"value": 20.0, "unit": "fps", "n": 10}}})
    return store


def reference_png(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "ref.png"
    Image.fromarray(REFERENCE).save(path)
    return path


def test_samples_round_trip_through_the_store_written_once_with_text_redacted(tmp_path: Path) -> None:
    store = new_store(tmp_path, ["t1"])
    samples = samples_of([BASE] * 3, [shifted(BASE, 4)] * 3, inputs=[BASE] * 3,
                         prompt="a fox hf_abcdefghijklmnopqrstuvwxyz0123")
    store.write_quality_samples("t1", samples.to_arrays())
    back = QualitySamples.from_arrays(store.read_quality_samples("t1"))
    for name in ("times_s", "pts", "frames", "next_frames", "inputs", "paired", "frame_times_s", "luma_change"):
        np.testing.assert_array_equal(getattr(back, name), getattr(samples, name))
    assert back.prompt == "a fox <redacted>" and back.no_pairing is None
    with pytest.raises(StoreError, match="never overwritten"):
        store.write_quality_samples("t1", samples.to_arrays())
    assert store.quality_sample_ids() == ["t1"]


def test_references_are_copied_once_and_a_different_set_is_refused(tmp_path: Path) -> None:
    store = new_store(tmp_path, [])
    path = reference_png(tmp_path / "refs")
    assert [p.name for p in store.copy_references([path])] == ["ref.png"]
    assert store.copy_references([path]) == store.reference_paths()  # again: kept
    (tmp_path / "other.png").write_bytes(path.read_bytes())
    with pytest.raises(StoreError, match="one set"):
        store.copy_references([tmp_path / "other.png"])
    np.testing.assert_array_equal(read_references(store.reference_paths())[0], REFERENCE)


def test_quality_figures_join_the_trials_in_load_runs(tmp_path: Path) -> None:
    store = new_store(tmp_path, ["t1", "t2"])
    store.copy_references([reference_png(tmp_path / "refs")])
    scorer = RunScorer(store, "pixels", PIXELS)
    scorer.keep_and_score("t1", samples_of([BASE] * 4, [shifted(BASE, 5)] * 4))  # t2 kept no samples
    runs = load_runs(tmp_path)
    trials = runs.trials.set_index("trial_id")
    assert trials.loc["t1", "flicker"] == pytest.approx(5, abs=0.3) and trials.loc["t1", "fps_out"] == 20.0
    assert trials.loc["t1", "quality_model"] == "pixels" and pd.isna(trials.loc["t2", "quality_model"])
    assert np.isnan(trials.loc["t2", "flicker"])
    figures = runs.figures[runs.figures["trial_id"] == "t1"].set_index("figure")
    assert set(QUALITY_FIGURES) | {"fps_out"} == set(figures.index)
    assert figures.loc["ref_similarity", "unit"] == "cosine" and figures.loc["flicker", "n"] == 4
    assert figures.loc["flicker", "condition"] == "c" and figures.loc["flicker", "pipeline_id"] == "p"
    assert list(runs.quality_series(store.run_id, "t1").columns) == list(SERIES_COLUMNS)


def test_rescoring_is_idempotent_and_equals_the_sweep_scoring(tmp_path: Path) -> None:
    store = new_store(tmp_path, ["t1", "t2"])
    store.copy_references([reference_png(tmp_path / "refs")])
    scorer = RunScorer(store, "pixels", PIXELS)
    for trial_id, level in (("t1", 3), ("t2", 7)):
        scorer.keep_and_score(trial_id, samples_of([BASE] * 4, [shifted(BASE, level)] * 4))
    in_sweep = (store.root / "quality.jsonl").read_bytes()
    rescore_run(store, "pixels", PIXELS)
    assert (store.root / "quality.jsonl").read_bytes() == in_sweep
    rows = rescore_run(store, "pixels", PIXELS)
    assert (store.root / "quality.jsonl").read_bytes() == in_sweep
    assert [r["trial_id"] for r in rows] == ["t1", "t2"] and not list(store.root.glob("*.tmp"))


def test_lab_quality_rescores_a_run_and_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    empty = new_store(tmp_path, ["t0"])
    assert main(["quality", "20260101T000000Z-000000", "--results", str(tmp_path)]) == 2
    assert "No run '20260101T000000Z-000000'" in capsys.readouterr().err
    assert main(["quality", empty.run_id, "--results", str(tmp_path)]) == 2
    assert "has no quality samples" in capsys.readouterr().err
    store = new_store(tmp_path, ["t1"])
    RunScorer(store, "pixels", PIXELS).keep_and_score("t1", samples_of([BASE] * 4, [shifted(BASE, 5)] * 4))
    assert main(["quality", store.run_id, "--results", str(tmp_path)]) == 0
    assert "1 trials scored with pixels" in capsys.readouterr().out
    # A model that is not in the cache (and may not download): the error, then the model-free figures.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    embed._load_clip.cache_clear()
    assert main(["quality", store.run_id, "--results", str(tmp_path), "--model", "lab-tests/absent"]) == 2
    err = capsys.readouterr().err
    assert ModelWeightsMissingError.__name__ not in err and "not in the Hugging Face cache" in err
    assert "downloads are off" in err  # nothing tried the network
    assert "model-free quality figures are scored without it" in err
    [row] = [json.loads(line) for line in (store.root / "quality.jsonl").read_text().splitlines()]
    assert row["model"] == "lab-tests/absent" and row["figures"]["flicker"]["value"] == pytest.approx(5, abs=0.3)
    assert row["figures"]["prompt_alignment"]["value"] is None


def test_lab_compare_judges_quality_figures_like_the_others(tmp_path: Path) -> None:
    """Two copies of a stored run whose gray trials flicker more in B: a flicker regression, and only that."""
    from lab.report.compare import compare_runs
    from tests.fixtures import PIPELINES_RUN, copy_runs

    out = copy_runs(tmp_path / "a", PIPELINES_RUN)
    b_root = tmp_path / "b"
    shutil.copytree(out / PIPELINES_RUN, b_root / PIPELINES_RUN)
    for root, gray_flicker in ((out / PIPELINES_RUN, 2.0), (b_root / PIPELINES_RUN, 4.0)):
        store = RunStore(root)
        flicker = {row["trial_id"]: (gray_flicker if row["pipeline_id"] == "gray" else 2.0) + 0.01 * k
                   for k, row in enumerate(store.rows()) if row["status"] == "ok"}
        store.replace_quality({"trial_id": trial_id, "model": "pixels",
                               "figures": {"flicker": {"value": value, "unit": "levels", "n": 10}}}
                              for trial_id, value in flicker.items())
    result = compare_runs(str(out / PIPELINES_RUN), str(b_root / PIPELINES_RUN), tmp_path)
    flagged = result.regressions
    assert list(zip(flagged["pipeline_id"], flagged["figure"], strict=True)) == [("gray", "flicker")]
    assert set(result.table["figure"]) >= {"flicker", "fps_out"}
