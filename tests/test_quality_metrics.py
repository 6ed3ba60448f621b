"""Model-free quality figures on synthetic clips whose truth is known by construction.

Clips are cut from smoothed-noise textures (:func:`lab.quality.synthetic.texture`, levels
20-235, so brightness offsets up to 16 levels never clip): a pan is a window moving over a
larger texture (no wrap-around), flicker is a brightness offset added to all three channels,
which moves luma by exactly that offset (the BT.601 weights sum to 1).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import stats as sps

from lab.quality import (
    DUPLICATE_TOLERANCE,
    duplicate_share,
    flicker_series,
    freeze_share,
    luma,
    repeat_flags,
    sharpness,
    structural_similarity,
    trend,
    warp_error,
)
from lab.quality.synthetic import texture, vp8_round_trip

SIZE = 128
PAN_BOUND = 0.25
"""Warp error allowed on a pure pan (levels). DIS leaves 0.03-0.07 on these textures; the
bound stays well under the 4-16 levels of plain frame difference the pan causes, and under
the ~0.7 levels a 5 px border strip would add if pixels pulled in from outside were counted."""


def pan_clip(frames: int, step: tuple[int, int], size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    """A window of ``size`` moving ``step`` (dy, dx) px per frame over a larger texture."""
    dy, dx = step
    big = texture(size + frames * abs(dy) + 1, size + frames * abs(dx) + 1, seed=seed)
    return [big[i * abs(dy):i * abs(dy) + size, i * abs(dx):i * abs(dx) + size] for i in range(frames)]


def brighten(frame: np.ndarray, offset: int) -> np.ndarray:
    """``frame`` with ``offset`` levels added to every channel (luma moves by exactly ``offset``)."""
    return (frame.astype(np.int16) + offset).astype(np.uint8)


def blur(frame: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), sigma)


def sampled(frames: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Decoded frames downscaled as the caller samples them (area averaging)."""
    return [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames]


# --- luma and input checks ---------------------------------------------------------------

def test_luma_is_bt601_in_levels_and_grayscale_is_its_own_luma() -> None:
    colours = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    picture = np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)
    assert luma(picture)[0, ::16] == pytest.approx([76.245, 149.685, 29.07, 255.0], abs=1e-3)
    gray = texture(SIZE, SIZE)[..., 0]
    assert np.array_equal(luma(gray), gray.astype(np.float32))
    assert np.array_equal(luma(gray[..., None]), gray.astype(np.float32))


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros((32, 32, 3), dtype=np.float32), "uint8"),
    (np.zeros((32, 32, 4), dtype=np.uint8), "shape"),
    (np.zeros((8, 64, 3), dtype=np.uint8), "too small"),
])
def test_bad_frames_are_refused_with_what_to_do(frame: np.ndarray, message: str) -> None:
    for figure in (sharpness, lambda f: warp_error(f, f), lambda f: structural_similarity(f, f)):
        with pytest.raises(ValueError, match=message):
            figure(frame)


def test_frames_of_different_sizes_are_refused_where_they_must_match() -> None:
    a, b = texture(SIZE, SIZE), texture(SIZE // 2, SIZE // 2)
    with pytest.raises(ValueError, match="differ in size"):
        warp_error(a, b)
    with pytest.raises(ValueError, match="differ in size"):
        duplicate_share([a, b])


# --- flicker: warp error -------------------------------------------------------------------

def test_static_clip_scores_no_flicker() -> None:
    picture = texture(SIZE, SIZE)
    assert warp_error(picture, picture.copy()) == 0.0


def test_static_clip_through_the_codec_scores_below_its_noise() -> None:
    """A held picture after VP8 changes only by the codec's refinement: no flicker to speak of.

    The bound is the duplicate tolerance, itself set from the codec's noise on held pictures.
    """
    decoded = sampled(vp8_round_trip([texture(2 * SIZE, 2 * SIZE, seed=4)] * 20, 500_000), SIZE)
    errors = [warp_error(a, b) for a, b in zip(decoded, decoded[1:])]
    assert max(errors) < DUPLICATE_TOLERANCE / 2, errors


@pytest.mark.parametrize("pattern", ["alternating", "random"])
def test_brightness_flicker_scores_its_mean_luma_change_on_a_moving_picture(pattern: str) -> None:
    """Flicker of amplitude A on a panning clip scores the injected mean |luma change|.

    Truth: the offset moves luma by exactly ±A, so a pair's injected change is |o_next - o|.
    Tolerance 5 % + 0.1 level: the flow is fitted to a picture whose brightness jumped, and
    its sub-pixel error shows as a little extra texture difference (measured under 2 %).
    """
    rng = np.random.default_rng(7)
    base = pan_clip(12, (1, 3))
    measured, injected = [], []
    for amplitude in (2, 4, 8, 16):
        signs = (np.array([1, -1] * 6) if pattern == "alternating" else rng.choice([-1, 1], size=12))
        offsets = amplitude * signs
        clip = [brighten(frame, int(o)) for frame, o in zip(base, offsets)]
        measured.append(np.mean([warp_error(a, b) for a, b in zip(clip, clip[1:])]))
        injected.append(np.mean(np.abs(np.diff(offsets))))
    assert measured == pytest.approx(injected, rel=0.05, abs=0.1)
    assert np.all(np.diff(measured) > 0), measured


@pytest.mark.parametrize("step", [(0, 2), (2, 5), (-3, 1)])
def test_pure_pan_is_not_flicker(step: tuple[int, int]) -> None:
    """Motion is not flicker: near-zero warp error where the plain frame difference is large."""
    clip = pan_clip(8, step)
    if step[0] < 0:  # a pan upwards: the same windows in reverse order
        clip = clip[::-1]
    for a, b in zip(clip, clip[1:]):
        plain = float(np.abs(luma(b) - luma(a)).mean())
        assert warp_error(a, b) < PAN_BOUND
        assert plain > 20 * PAN_BOUND, plain


def test_grayscale_frames_score_like_their_rgb_copies() -> None:
    a, b = (frame[..., 1] for frame in pan_clip(2, (1, 2)))
    b = brighten(b, 5)
    as_rgb = warp_error(np.dstack([a] * 3), np.dstack([b] * 3))
    assert warp_error(a, b) == pytest.approx(as_rgb, abs=1e-3)
    assert warp_error(a[..., None], b[..., None]) == pytest.approx(as_rgb, abs=1e-3)
    assert as_rgb == pytest.approx(5, abs=0.25)


def test_small_frames_still_measure_motion_and_flicker() -> None:
    a, b = pan_clip(2, (1, 2), size=24)
    assert warp_error(a, b) < 1.0
    assert warp_error(a, brighten(b, 6)) == pytest.approx(6, abs=1.0)


# --- flicker over time, and trends ---------------------------------------------------------

def test_flicker_series_shows_flicker_growing_over_the_trial() -> None:
    """Flicker growing by 0.5 levels/s on a pan: the series follows it and its trend finds it."""
    times = np.arange(0, 42, 2.0)  # whole levels of flicker at every sample: 2, 3, ..., 22
    pairs = pan_clip(2 * len(times), (1, 2))
    samples = [(t, pairs[2 * i], brighten(pairs[2 * i + 1], int(2 + 0.5 * t))) for i, t in enumerate(times)]
    series = flicker_series(reversed(samples))  # any order in, time order out
    assert np.array_equal(series.times_s, times)
    assert series.values == pytest.approx(2 + 0.5 * times, rel=0.05, abs=0.1)
    slope = trend(series.times_s, series.values)
    assert slope.slope_per_s == pytest.approx(0.5, rel=0.05)
    assert slope.ci_low <= slope.slope_per_s <= slope.ci_high


def test_trend_recovers_a_known_slope_through_noise_and_outliers() -> None:
    """Theil-Sen: slope 0.2/s with Gaussian noise (sd 0.5) and 4 glitches of +20.

    Least squares is pulled off by the glitches; Theil-Sen stays within 0.03 of the truth
    and its 95 % CI contains it.
    """
    rng = np.random.default_rng(3)
    times = np.arange(0, 30, 0.5)
    values = 5 + 0.2 * times + rng.normal(0, 0.5, times.size)
    values[[3, 4, 5, 9]] += 20  # early glitches tilt a least-squares line down
    result = trend(times, values)
    assert result.slope_per_s == pytest.approx(0.2, abs=0.03)
    assert result.ci_low < 0.2 < result.ci_high
    assert abs(sps.linregress(times, values).slope - 0.2) > 0.1  # the case that needs robustness
    assert result.n == times.size
    figure = result.figure("flicker trend", "levels")
    assert (figure.value, figure.unit, figure.ci_low) == (result.slope_per_s, "levels/s", result.ci_low)


def test_decreasing_similarity_has_a_negative_trend() -> None:
    rng = np.random.default_rng(5)
    times = np.arange(0, 20, 0.5)
    similarity = 0.9 - 0.01 * times + rng.normal(0, 0.01, times.size)
    drift = trend(times, similarity)
    assert drift.ci_high < 0
    assert drift.slope_per_s == pytest.approx(-0.01, abs=0.002)


@pytest.mark.parametrize(("times", "values", "message"), [
    ([0, 1], [1, 2], "at least 3"),
    ([0, 1, 2], [1, np.nan, 2], "not finite"),
    ([1, 1, 1], [1, 2, 3], "distinct times"),
    ([0, 1, 2], [1, 2], "one time per value"),
])
def test_trend_refuses_what_it_cannot_fit(times: list[float], values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trend(times, values)


# --- repeats and freezes -------------------------------------------------------------------

def held(pictures: list[np.ndarray], holds: list[int]) -> list[np.ndarray]:
    return [p for p, h in zip(pictures, holds) for _ in range(h)]


def test_duplicate_share_counts_known_repeats() -> None:
    holds = [1, 3, 1, 1, 5, 2]
    clip = held([texture(SIZE, SIZE, seed=s) for s in range(len(holds))], holds)
    truth = sum(h - 1 for h in holds) / (len(clip) - 1)
    assert duplicate_share(clip) == truth
    assert list(repeat_flags(clip)) == [i > 0 for h in holds for i in range(h)]


def test_static_picture_through_vp8_is_all_duplicates() -> None:
    """The codec's noise on an unchanged picture stays within the tolerance, key frame included.

    At aiortc's floor bitrate (250 kbit/s), the noisiest case measured, sampled at 256 px.
    """
    decoded = sampled(vp8_round_trip([texture(512, 512, grain_px=1.5, seed=1)] * 30, 250_000), 256)
    assert duplicate_share(decoded) == 1.0


@pytest.mark.parametrize("bitrate", [250_000, 1_500_000])
def test_held_pan_through_vp8_counts_the_holds_not_the_steps(bitrate: int) -> None:
    """A pan of 1 sample pixel per step, each step held 4 frames: repeats yes, steps no.

    Steps of 1 px at the 256 px sample are the smallest real change of textured content
    the tolerance is meant to keep (measured 2.9 levels and up against 2.5).
    """
    pictures = pan_clip(8, (2, 0), size=512, seed=6)
    decoded = sampled(vp8_round_trip(held(pictures, [4] * 8), bitrate), 256)
    assert list(repeat_flags(decoded)) == [i % 4 != 0 for i in range(32)]


def test_small_brightness_step_is_not_a_duplicate() -> None:
    picture = texture(SIZE, SIZE)
    assert list(repeat_flags([picture, brighten(picture, 2), brighten(picture, 5)])) == [False, True, False]


def test_freeze_share_counts_only_long_runs_of_repeats() -> None:
    """At 30 fps: a 20-frame hold (0.67 s) is a freeze, a 5-frame hold (0.17 s) is not.

    The freeze lasts from its first frame to the next new picture: 20 frame intervals.
    """
    holds = [1, 1, 20, 1, 5, 1, 1]
    clip = held([texture(64, 64, seed=s) for s in range(len(holds))], holds)
    times = np.arange(len(clip)) / 30
    assert freeze_share(times, clip) == pytest.approx((20 / 30) / times[-1])
    assert freeze_share(times, clip, min_duration_s=0.1) == pytest.approx((25 / 30) / times[-1])
    assert freeze_share(times, clip, min_duration_s=1.0) == 0.0


def test_a_freeze_at_the_end_counts_until_the_last_frame() -> None:
    clip = held([texture(64, 64, seed=s) for s in range(2)], [10, 30])
    times = np.arange(len(clip)) / 30
    assert freeze_share(times, clip) == pytest.approx((29 / 30) / times[-1])


def test_freeze_share_needs_increasing_times() -> None:
    clip = [texture(64, 64)] * 3
    with pytest.raises(ValueError, match="strictly increasing"):
        freeze_share([0.0, 0.2, 0.1], clip)
    with pytest.raises(ValueError, match="one time per frame"):
        freeze_share([0.0, 0.1], clip)


# --- fidelity to the input: SSIM -----------------------------------------------------------

def test_ssim_is_one_for_the_same_picture_and_low_for_a_different_one() -> None:
    """Identical: 1. Shuffled pixels, a heavy blur, another texture: far lower.

    Another smooth texture keeps some score (0.14): in low-contrast 7x7 windows SSIM's
    stabilising constant C2 outweighs the (near-zero) covariance, so 0.25 is its bound.
    """
    picture = texture(SIZE, SIZE, grain_px=1.5)
    assert structural_similarity(picture, picture.copy()) == pytest.approx(1.0, abs=1e-9)
    shuffled = np.random.default_rng(0).permutation(picture.reshape(-1, 3)).reshape(picture.shape)
    assert structural_similarity(picture, shuffled) < 0.1
    assert structural_similarity(picture, blur(picture, 4)) < 0.5
    assert structural_similarity(picture, texture(SIZE, SIZE, grain_px=1.5, seed=9)) < 0.25


def test_ssim_does_not_depend_on_which_stream_is_larger() -> None:
    """A 256 px input against its own 128 px copy (resampled by another library) scores ~1."""
    big = texture(2 * SIZE, 2 * SIZE, grain_px=3)
    small = np.asarray(Image.fromarray(big).resize((SIZE, SIZE), Image.Resampling.BOX))  # area averaging, not OpenCV's
    assert structural_similarity(big, small) > 0.98
    assert structural_similarity(small, big) == structural_similarity(big, small)
    degraded = blur(small, 2)
    assert structural_similarity(big, degraded) == pytest.approx(structural_similarity(small, degraded), abs=0.02)


def test_ssim_refuses_a_different_framing() -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        structural_similarity(texture(SIZE, SIZE), texture(SIZE, SIZE + 32))


# --- sharpness -------------------------------------------------------------------------------

def test_sharpness_falls_with_blur() -> None:
    picture = texture(SIZE, SIZE, grain_px=1.0)
    scores = [sharpness(picture)] + [sharpness(blur(picture, sigma)) for sigma in (0.7, 1.4, 2.8, 5.6)]
    assert np.all(np.diff(scores) < 0), scores
    assert scores[-1] < scores[0] / 10
