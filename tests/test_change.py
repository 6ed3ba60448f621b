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


def test_freeze_is_not_put_late_by_the_codec_refining_the_still_picture() -> None:
    # What a decoder shows after a pause: the last new frame carries its coding error, the
    # first copies refine it away (steps of 0.6 levels here, above the 0.5 that once counted
    # as still) and later copies wander by a few tenths. The freeze is the last new frame,
    # not the first copy whose successors happen to step less than 0.5 (two frames late).
    rng = np.random.default_rng(6)
    times, thumbs = noisy_stream(6, change_at_s=None, rng=rng)
    last_new = 4 * FPS
    yy, xx = np.mgrid[0:THUMB, 0:THUMB]
    coding_error = np.where((yy + xx) % 2, 1.2, -1.2)[:, :, None].astype(np.float32)
    source = thumbs[last_new].copy()
    thumbs[last_new] = source + coding_error
    for k, frame in enumerate(range(last_new + 1, len(thumbs)), start=1):
        left = 0.5 if k == 1 else 0.0  # half the coding error refined away, then the rest
        thumbs[frame] = source + left * coding_error + rng.normal(0, 0.2, source.shape).astype(np.float32)
    steps = np.abs(np.diff(thumbs[last_new:last_new + 4], axis=0)).mean(axis=(1, 2, 3))
    assert (steps[:2] > 0.5).all() and steps[2] < 0.5  # the copies' steps as the codec makes them
    result = detect_freeze(times, thumbs, stimulus_ns=int(3.9 * NS))
    assert result.detected and result.index == last_new, f"detected at frame {result.index}, froze at {last_new}"


def test_a_pause_after_the_last_new_frame_arrived_is_a_negative_latency() -> None:
    # The output had nothing new ready: its last new frame arrived before the stimulus.
    rng = np.random.default_rng(7)
    times, thumbs = noisy_stream(6, change_at_s=None, rng=rng)
    last_new = 4 * FPS
    thumbs[last_new + 1:] = thumbs[last_new]
    stimulus_ns = int(times[last_new]) + 10_000_000
    result = detect_freeze(times, thumbs, stimulus_ns=stimulus_ns)
    assert result.detected and result.index == last_new
    assert result.latency_s == pytest.approx(-0.010)


def test_a_still_stream_cannot_show_a_freeze() -> None:
    times = (np.arange(6 * FPS) * NS // FPS).astype(np.int64)
    thumbs = np.full((times.size, THUMB, THUMB, 3), 90.0, np.float32)
    thumbs += np.random.default_rng(8).normal(0, 0.1, thumbs.shape).astype(np.float32)
    result = detect_freeze(times, thumbs, stimulus_ns=3 * NS)
    assert not result.detected and "barely moved" in (result.reason or "")


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
