"""Detect when the output picture changes after a stimulus, robustly to generative noise.

Generated video is never still: consecutive frames differ even when nothing was changed.
So a change is judged against the stream's own noise, measured just before the stimulus.

Method (per stimulus at time ``s``):

1. Every output frame is reduced to a small thumbnail (``THUMB`` x ``THUMB`` RGB, area
   averaged by the scaler), which removes pixel noise and keeps the scene's layout and
   colour.
2. A frame's **distance** is the mean absolute difference of its thumbnail from the mean
   thumbnail of the frames that arrived in the ``window_s`` before it: a change is a
   jump against the recent past, so slow drift of a generative model (its picture
   wandering) does not accumulate into a false detection.
3. The **threshold** comes from the distances of the frames in the ``baseline_s`` before
   ``s``: the largest of ``median + k * 1.4826 * MAD`` (``k`` = 6), ``JUMP_MARGIN`` (2) times their
   maximum (so the small jumps at chunk boundaries of chunked generation stay below it),
   and ``MIN_THRESHOLD`` (so a static stream's codec noise is not amplified).
4. The change is detected at the first frame after ``s`` whose distance exceeds the
   threshold **and** whose next ``persist`` frames stay more than the threshold away
   from the picture before it (the mean thumbnail of its window: a fixed reference, so
   a moderate lasting change keeps its full distance while a one-frame glitch falls
   back); its arrival time minus ``s`` is the latency. No such frame within
   ``max_wait_s``: not detected, with the reason.

False positives: a spurious detection needs ``persist + 1`` consecutive frames beyond
both the noise spread and the largest jump seen in the baseline. Realistic sources are a
pipeline that jumps more than it did during the baseline (e.g. a prompt transition
nobody asked for). :func:`false_positive_rate` measures it on a stream by running the
detector at times where nothing changed; the tests and the measurement notebooks report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["THUMB", "thumbnail", "ChangeDetection", "detect_change", "detect_sequence", "detect_freeze", "false_positive_rate", "TRUNCATED"]

THUMB = 16
DEFAULT_K = 6.0
DEFAULT_PERSIST = 2
DEFAULT_BASELINE_S = 3.0
DEFAULT_WINDOW_S = 0.5
DEFAULT_MAX_WAIT_S = 5.0
MIN_THRESHOLD = 4.0  # in 0..255 levels of the thumbnail's mean absolute difference
DEFAULT_REPEATS = 3  # frames that must stay on the frozen picture
STILL_SHARE = 0.5  # of the median frame step: frozen copies stay closer than this (see detect_freeze)
STILL_FLOOR = 0.5  # levels: below this, a repeated picture's own coding wander (0.05-0.45) hides a freeze
JUMP_MARGIN = 2.0  # x the largest jump in the baseline (chunk boundaries of generated video)
_MAD_TO_SIGMA = 1.4826
TRUNCATED = "the recording ended before a change showed"


def thumbnail(frame: av.VideoFrame | NDArray[np.uint8]) -> NDArray[np.float32]:
    """A ``THUMB`` x ``THUMB`` x 3 float thumbnail (area-averaged) of a frame or RGB array."""
    if not isinstance(frame, av.VideoFrame):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    small = frame.reformat(width=THUMB, height=THUMB, format="rgb24", interpolation="AREA")
    return small.to_ndarray().astype(np.float32)


@dataclass(frozen=True)
class ChangeDetection:
    """Result of one detection: where the change was seen, and the noise it was judged against."""

    stimulus_ns: int
    detected: bool
    index: int | None
    arrival_ns: int | None
    threshold: float
    noise_median: float
    baseline_frames: int
    reason: str | None = None

    @property
    def latency_s(self) -> float | None:
        """Arrival of the first changed frame minus the stimulus time."""
        return None if self.arrival_ns is None else (self.arrival_ns - self.stimulus_ns) / 1e9


def _jump_distances(times: NDArray[np.int64], thumbs: NDArray[np.float32], indices: NDArray[np.intp],
                    window_ns: int) -> NDArray[np.float64]:
    """Distance of each frame in ``indices`` from the mean thumbnail of its preceding window."""
    sums = np.concatenate([np.zeros((1, *thumbs.shape[1:])), np.cumsum(thumbs, axis=0, dtype=np.float64)])
    starts = np.searchsorted(times, times[indices] - window_ns, side="left")
    counts = indices - starts
    out = np.full(indices.size, np.nan)
    valid = counts > 0
    means = (sums[indices[valid]] - sums[starts[valid]]) / counts[valid, None, None, None]
    out[valid] = np.abs(thumbs[indices[valid]] - means).mean(axis=(1, 2, 3))
    return out


def _stays_changed(times: NDArray[np.int64], thumbs: NDArray[np.float32], index: int, persist: int,
                   window_ns: int, threshold: float) -> bool:
    """Do the ``persist`` frames after ``index`` stay away from the picture before it?

    Compared with the fixed picture before the onset (not a rolling one), a lasting change
    keeps its full distance, however moderate, while a one-frame glitch falls back.
    """
    start = int(np.searchsorted(times, times[index] - window_ns, side="left"))
    if start >= index:
        return False
    before = thumbs[start:index].mean(axis=0)
    later = thumbs[index + 1:index + 1 + persist]
    return later.shape[0] == persist and bool((np.abs(later - before).mean(axis=(1, 2, 3)) > threshold).all())


def detect_change(
    arrival_ns: ArrayLike,
    thumbs: NDArray[np.float32],
    stimulus_ns: int,
    *,
    baseline_s: float = DEFAULT_BASELINE_S,
    window_s: float = DEFAULT_WINDOW_S,
    k: float = DEFAULT_K,
    persist: int = DEFAULT_PERSIST,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    not_before_ns: int | None = None,
) -> ChangeDetection:
    """Find the first output frame that jumps away from its recent past (see module doc).

    Parameters
    ----------
    arrival_ns:
        Arrival time of each frame (sorted), same clock as ``stimulus_ns``.
    thumbs:
        ``(n, THUMB, THUMB, 3)`` thumbnails of the same frames (:func:`thumbnail`).
    stimulus_ns:
        When the input changed or the parameter update was sent.
    not_before_ns:
        Start of the quiet period: the baseline takes no frame before it (use the end of
        the previous stimulus's response, so that response is not mistaken for noise).
    """
    times = np.asarray(arrival_ns, dtype=np.int64)
    window_ns = int(window_s * 1e9)
    baseline_start = max(stimulus_ns - int(baseline_s * 1e9), not_before_ns or 0)
    before = np.flatnonzero((times < stimulus_ns) & (times >= baseline_start))
    noise = _jump_distances(times, thumbs, before, window_ns)
    noise = noise[np.isfinite(noise)]
    if noise.size < 3:
        return ChangeDetection(stimulus_ns, False, None, None, float("nan"), float("nan"), int(noise.size),
                               reason=f"only {noise.size} frames in the {baseline_s:g} s before the stimulus")
    median = float(np.median(noise))
    mad = float(np.median(np.abs(noise - median)))
    threshold = max(median + k * _MAD_TO_SIGMA * mad, JUMP_MARGIN * float(noise.max()), MIN_THRESHOLD)
    after = np.flatnonzero((times >= stimulus_ns) & (times <= stimulus_ns + int(max_wait_s * 1e9)))
    above = _jump_distances(times, thumbs, after, window_ns) > threshold
    for position in np.flatnonzero(above[: max(above.size - persist, 0)]):
        index = int(after[position])
        if _stays_changed(times, thumbs, index, persist, window_ns, threshold):
            return ChangeDetection(stimulus_ns, True, index, int(times[index]), threshold, median, int(noise.size))
    if times.size and times[-1] < stimulus_ns + int(max_wait_s * 1e9):
        return ChangeDetection(stimulus_ns, False, None, None, threshold, median, int(noise.size),
                               reason=TRUNCATED)
    return ChangeDetection(stimulus_ns, False, None, None, threshold, median, int(noise.size),
                           reason=f"no jump above {threshold:.1f} within {max_wait_s:g} s")


def detect_freeze(arrival_ns: ArrayLike, thumbs: NDArray[np.float32], stimulus_ns: int, *,
                  repeats: int = DEFAULT_REPEATS, baseline_s: float = DEFAULT_BASELINE_S,
                  max_wait_s: float = DEFAULT_MAX_WAIT_S) -> ChangeDetection:
    """Find when the output froze after ``stimulus_ns`` (e.g. ``paused``): the last new frame.

    A frozen stream re-sends one picture, but the decoded copies are not identical: the
    encoder spends the bits a still picture saves on refining it, so the first copies move
    the decoded picture by up to its coding error (over loopback up to about 1 level of the
    thumbnail, 0.3 of a typical frame step) and later ones keep wandering by a few tenths.
    Judged by consecutive steps against a fixed level, that refinement reads as new frames
    and puts the freeze a frame or two late. So the last new frame is the first frame whose
    next ``repeats`` frames all stay within ``STILL_SHARE`` of the stream's median frame step
    in the ``baseline_s`` before the stimulus: a new frame lies at least about one step from
    the picture that follows it, a frozen one only the coding error.

    The last frame that arrived before the stimulus is a candidate too: when the output had
    nothing new ready, the pause lands after its last new frame and the latency is negative.
    """
    times = np.asarray(arrival_ns, dtype=np.int64)
    before = np.flatnonzero((times < stimulus_ns) & (times >= stimulus_ns - int(baseline_s * 1e9)))
    steps = np.abs(np.diff(thumbs[before], axis=0)).mean(axis=(1, 2, 3))
    if steps.size < 3:
        return ChangeDetection(stimulus_ns, False, None, None, float("nan"), float("nan"), int(steps.size),
                               reason=f"only {before.size} frames in the {baseline_s:g} s before the stimulus")
    motion = float(np.median(steps))
    threshold = STILL_SHARE * motion
    if threshold < STILL_FLOOR:
        return ChangeDetection(stimulus_ns, False, None, None, threshold, motion, int(steps.size),
                               reason=f"the output barely moved before the stimulus (median frame step "
                                      f"{motion:.2f}): a freeze cannot be told from it")
    first = max(int(np.searchsorted(times, stimulus_ns, side="left")) - 1, 0)
    end = int(np.searchsorted(times, stimulus_ns + int(max_wait_s * 1e9), side="right"))
    for index in range(first, min(end, times.size - repeats)):
        later = thumbs[index + 1:index + 1 + repeats]
        if (np.abs(later - thumbs[index]).mean(axis=(1, 2, 3)) < threshold).all():
            return ChangeDetection(stimulus_ns, True, index, int(times[index]), threshold, motion, int(steps.size))
    if times[-1] < stimulus_ns + int(max_wait_s * 1e9):
        return ChangeDetection(stimulus_ns, False, None, None, threshold, motion, int(steps.size), reason=TRUNCATED)
    return ChangeDetection(stimulus_ns, False, None, None, threshold, motion, int(steps.size),
                           reason=f"the output kept changing for {max_wait_s:g} s")


def detect_sequence(arrival_ns: ArrayLike, thumbs: NDArray[np.float32], stimuli_ns: Sequence[int],
                    **options: float) -> list[ChangeDetection]:
    """Detect the response to each of several stimuli in time order.

    Each baseline starts after the previous response has left the jump window (its
    detected frame plus two windows), or after the previous stimulus when that one showed
    no change.
    """
    detections: list[ChangeDetection] = []
    quiet_from: int | None = None
    window_ns = int(options.get("window_s", DEFAULT_WINDOW_S) * 1e9)
    for stimulus in sorted(int(s) for s in stimuli_ns):
        detection = detect_change(arrival_ns, thumbs, stimulus, not_before_ns=quiet_from, **options)  # type: ignore[arg-type]
        detections.append(detection)
        quiet_from = (detection.arrival_ns + 2 * window_ns) if detection.arrival_ns is not None else stimulus
    return detections


def false_positive_rate(arrival_ns: ArrayLike, thumbs: NDArray[np.float32], null_stimuli_ns: Sequence[int],
                        **options: float) -> float:
    """Share of ``null_stimuli_ns`` (times when nothing changed) at which a change is 'detected'."""
    if not null_stimuli_ns:
        raise ValueError("false_positive_rate needs at least one null stimulus time.")
    hits = sum(detect_change(arrival_ns, thumbs, int(s), **options).detected for s in null_stimuli_ns)  # type: ignore[arg-type]
    return hits / len(null_stimuli_ns)
