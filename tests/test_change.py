"""Change detection on synthetic noisy streams whose change times are known."""

from __future__ import annotations

import numpy as np
import pytest

from lab.measure.change import THUMB, detect_change, detect_freeze, detect_sequence, false_positive_rate, thumbnail

FPS = 20
NS = 1_000_000_000


def noisy_stream(seconds: float, change_at_s: float | None, rng: np.random.Generator, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Frames of a textured scene with strong per-frame noise; scene B from change_at_s on."""
    yy, xx = np.mgrid[0:size, 0:size]
    scene_a = np.stack([120 + 60 * np.sin(xx / 9), 100 + 50 * np.cos(yy / 7), 140 + 0 * xx], axis=-1)
    scene_b = np.stack([200 - 0 * xx, 80 + 40 * np.sin((xx + yy) / 5), 60 + 0 * yy], axis=-1)
    n = int(seconds * FPS)
    times = (np.arange(n) * NS // FPS).astype(np.int64)
    thumbs = []
    for i, t in enumerate(times):
        scene = scene_b if change_at_s is not None and t >= change_at_s * NS else scene_a
        drift = 8 * np.sin(i / 15)  # slow generative wandering
        frame = np.clip(scene + drift + rng.normal(0, 25, scene.shape), 0, 255).astype(np.uint8)
        thumbs.append(thumbnail(frame))
    return times, np.array(thumbs)


def test_thumbnail_shape_and_mean() -> None:
    frame = np.full((320, 576, 3), 77, np.uint8)
    thumb = thumbnail(frame)
    assert thumb.shape == (THUMB, THUMB, 3) and np.allclose(thumb, 77, atol=1)


def test_change_is_found_one_frame_after_it_happens() -> None:
    rng = np.random.default_rng(0)
    times, thumbs = noisy_stream(8, change_at_s=5.3, rng=rng)
    result = detect_change(times, thumbs, stimulus_ns=5 * NS)
    assert result.detected
    assert result.latency_s == pytest.approx(0.3, abs=1 / FPS + 1e-9)


def test_noise_alone_is_not_a_change() -> None:
    rng = np.random.default_rng(1)
    times, thumbs = noisy_stream(30, change_at_s=None, rng=rng)
    nulls = [int((2 + 1.3 * i) * NS) for i in range(20)]
    assert false_positive_rate(times, thumbs, nulls, max_wait_s=1.0) == 0.0


def test_missing_baseline_is_reported_not_guessed() -> None:
    rng = np.random.default_rng(2)
    times, thumbs = noisy_stream(3, change_at_s=1.0, rng=rng)
    result = detect_change(times, thumbs, stimulus_ns=50_000_000)
    assert not result.detected and "frames in the" in (result.reason or "")


def test_freeze_marks_the_last_new_frame() -> None:
    rng = np.random.default_rng(3)
    times, thumbs = noisy_stream(6, change_at_s=None, rng=rng)
    frozen_from = 4 * FPS  # frame 80 is the last new picture; repeats follow
    thumbs[frozen_from + 1:] = thumbs[frozen_from]
    result = detect_freeze(times, thumbs, stimulus_ns=int(3.5 * NS))
    assert result.detected and result.index == frozen_from
    assert not detect_freeze(*noisy_stream(6, None, rng), stimulus_ns=int(3.5 * NS), max_wait_s=2).detected


def test_chunk_boundary_jumps_are_not_changes_but_a_scene_step_is() -> None:
    rng = np.random.default_rng(4)
    times, thumbs = noisy_stream(20, change_at_s=15.2, rng=rng)
    offsets = np.repeat(rng.uniform(-6, 6, size=thumbs.shape[0] // 12 + 1), 12)[: thumbs.shape[0]]
    thumbs = thumbs + offsets[:, None, None, None].astype(np.float32)  # each 12-frame chunk shifts a little
    nulls = [int((3 + 0.9 * i) * NS) for i in range(12)]
    assert false_positive_rate(times, thumbs, nulls, max_wait_s=0.8) == 0.0
    step = detect_change(times, thumbs, stimulus_ns=15 * NS)
    assert step.detected and step.latency_s == pytest.approx(0.2, abs=1 / FPS + 1e-9)


def test_sequence_keeps_each_response_out_of_the_next_baseline() -> None:
    rng = np.random.default_rng(5)
    size = 64
    n = 20 * FPS
    times = (np.arange(n) * NS // FPS).astype(np.int64)
    switch_s = [3.0, 5.0, 7.0, 9.0, 11.0]  # every 2 s, with a 0.4 s response delay
    scenes = [np.full((size, size, 3), v, np.float64) for v in (60, 190)]
    thumbs = []
    for t in times:
        which = sum(t >= (s + 0.4) * NS for s in switch_s) % 2
        thumbs.append(thumbnail(np.clip(scenes[which] + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)))
    detections = detect_sequence(times, np.array(thumbs), [int(s * NS) for s in switch_s])
    assert [d.detected for d in detections] == [True] * 5
    assert all(d.latency_s == pytest.approx(0.4, abs=1 / FPS + 1e-9) for d in detections)
    # without the quiet period, the previous response inflates the threshold
    assert not detect_change(times, np.array(thumbs), int(5 * NS)).detected
