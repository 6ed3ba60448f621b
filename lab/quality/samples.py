"""What a trial keeps for its quality figures, taken while streaming and scored afterwards.

The receive path only keeps pictures; every figure is computed after streaming
(:mod:`lab.quality.score`). Costs on the receive path:

- twice a second of the measured window, an output frame and the one after it (a
  consecutive pair, for flicker): one RGB conversion and one ``cv2.resize`` (INTER_AREA, to
  at most :data:`SAMPLE_MAX_SIDE` px on the long side) per kept frame;
- for every output frame, its mean absolute luma change from the frame before (for
  duplicates and freezes), from the decoded luma plane downscaled to the same size: about
  0.07 ms a frame, against about 2.6 ms for decoding and the trial's other per-frame work;
- with a stamped input, twice a second the source's picture and frame id
  (:class:`InputKeeper`), so that the output frame carrying that id can be kept with the
  input it answers (fidelity).

:class:`QualitySamples` is what one trial kept; it round-trips through plain arrays
(``to_arrays`` / ``from_arrays``) so the store can write it as a compressed ``.npz``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from lab.feed import ReceivedFrame
    from lab.sources.base import FrameRecord

__all__ = ["SAMPLE_MAX_SIDE", "SAMPLES_PER_S", "InputKeeper", "LumaChange", "PairSampler", "QualitySamples",
           "downscale", "prompt_text", "sample_size"]

SAMPLE_MAX_SIDE = 256
"""Long side (px) every quality sample is downscaled to: the size the metrics' tolerances were set at."""
SAMPLES_PER_S = 2.0
"""Frame pairs kept per second of the measured window: 40 per 20 s trial, enough for a trend."""
MAX_KEPT_INPUTS = 20
"""Input pictures kept at most (10 s at 2 a second): inputs no output answers are dropped oldest first."""
_LIMITED_RANGE = 255.0 / 219.0  # video-range luma (16-235) to full-range levels (0-255)
_TEXT_FIELDS = ("prompt", "no_pairing")


def sample_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of a ``width`` x ``height`` frame's samples: long side at most 256 px, aspect kept."""
    scale = min(1.0, SAMPLE_MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscale(picture: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``picture`` at its sample size (area averaging); unchanged if already that small."""
    height, width = picture.shape[:2]
    size = sample_size(width, height)
    if size == (width, height):
        return np.ascontiguousarray(picture)
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def prompt_text(parameters: Mapping[str, Any]) -> str | None:
    """The text of the heaviest prompt in ``parameters["prompts"]`` (Scope's list of {text, weight})."""
    prompts = [p for p in parameters.get("prompts") or [] if isinstance(p, Mapping) and p.get("text")]
    if not prompts:
        return None
    return str(max(prompts, key=lambda p: float(p.get("weight", 1.0)))["text"])


class LumaChange:
    """Mean absolute luma change (levels, 0-255) of each frame from the one before, at sample size.

    The same quantity as :func:`lab.quality.metrics.repeat_flags` compares with its
    tolerance, read from the decoded luma plane instead of converting to RGB: yuv420p
    luma is video range (16-235), so differences are scaled by 255/219 to full-range
    levels. The first frame, and a frame whose size changed, get NaN (nothing to compare).
    """

    def __init__(self) -> None:
        self._previous: NDArray[np.uint8] | None = None

    def __call__(self, frame: av.VideoFrame) -> float:
        plane, scale = _luma_plane(frame)
        small = downscale(plane)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return float("nan")
        return float(cv2.mean(cv2.absdiff(small, previous))[0] * scale)


def _luma_plane(frame: av.VideoFrame) -> tuple[NDArray[np.uint8], float]:
    """The frame's luma (a view of the decoded plane where possible) and its scale to full range."""
    if frame.format.name == "yuv420p":
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return rows[:, : plane.width], _LIMITED_RANGE
    return frame.to_ndarray(format="gray"), 1.0


class InputKeeper:
    """Keeps a stamped source's pictures twice a second, downscaled, by frame id.

    Register it with ``source.on_sent``; the output frame that carries a kept id is then
    kept with its input (:class:`PairSampler`). The resize runs on the sending side, twice
    a second.
    """

    def __init__(self, per_s: float = SAMPLES_PER_S) -> None:
        self.period_ns = int(1e9 / per_s)
        self.pictures: OrderedDict[int, NDArray[np.uint8]] = OrderedDict()
        self._due_ns: int | None = None

    def __call__(self, record: FrameRecord, picture: NDArray[np.uint8]) -> None:
        if self._due_ns is not None and record.sent_ns < self._due_ns:
            return
        self._due_ns = record.sent_ns + self.period_ns
        self.pictures[record.frame_id] = downscale(picture)
        while len(self.pictures) > MAX_KEPT_INPUTS:
            self.pictures.popitem(last=False)

    def take(self, frame_id: int) -> NDArray[np.uint8] | None:
        """The kept input picture of ``frame_id`` (removed from the keeper), or None."""
        return self.pictures.pop(frame_id, None)


@dataclass(frozen=True)
class _First:
    """The first frame of a pair, waiting for the frame after it."""

    seq: int
    pts: int
    t_ns: int
    frame: NDArray[np.uint8]
    input: NDArray[np.uint8] | None


@dataclass(frozen=True)
class _Pair(_First):
    next_pts: int
    next_frame: NDArray[np.uint8]


class PairSampler:
    """The receive loop's part: which output frames to keep, as consecutive pairs.

    A frame starts a pair when its stamp id names an input the :class:`InputKeeper` kept
    (paired with that input), or, when it carries no readable stamp, when it is the first
    frame at or after the next due time (every ``1 / SAMPLES_PER_S`` s from ``start_ns``).
    The frame right after it (by sequence number) completes the pair; if the receive loop
    skipped it, the pair is dropped.
    """

    def __init__(self, start_ns: int, inputs: InputKeeper | None, per_s: float = SAMPLES_PER_S) -> None:
        self.start_ns = start_ns
        self.inputs = inputs
        self.period_ns = int(1e9 / per_s)
        self.pairs: list[_Pair] = []
        self._due_ns = start_ns
        self._open: _First | None = None

    def offer(self, frame: ReceivedFrame, stamp_id: int | None, rgb: NDArray[np.uint8] | None = None) -> None:
        """Look at one received frame (``rgb``: its pixels, if already converted for something else)."""
        small: list[NDArray[np.uint8]] = []  # the frame at sample size, made at most once

        def picture() -> NDArray[np.uint8]:
            if not small:
                small.append(downscale(frame.rgb() if rgb is None else rgb))
            return small[0]

        if self._open is not None:
            first, self._open = self._open, None
            if frame.seq == first.seq + 1:
                self.pairs.append(_Pair(first.seq, first.pts, first.t_ns, first.frame, first.input,
                                        frame.pts, picture()))
        if frame.complete_ns < self.start_ns:
            return
        kept_input = None
        if stamp_id is not None and self.inputs is not None:
            kept_input = self.inputs.take(stamp_id)
            if kept_input is None:
                return
        elif frame.complete_ns < self._due_ns:
            return
        periods = (frame.complete_ns - self.start_ns) // self.period_ns + 1
        self._due_ns = self.start_ns + periods * self.period_ns
        self._open = _First(frame.seq, frame.pts, frame.complete_ns, picture(), kept_input)

    def samples(self, frame_ns: NDArray[np.int64], luma_change: NDArray[np.float64], *, steady_from_ns: int,
                prompt: str | None, no_pairing: str | None) -> QualitySamples:
        """What was kept from ``steady_from_ns`` (or the window's start) on, with those frames' luma changes.

        ``no_pairing`` is why outputs cannot be paired with their inputs (None if they can);
        when given, inputs kept all the same are dropped.
        """
        steady_from_ns = max(steady_from_ns, self.start_ns)
        pairs = [p for p in self.pairs if p.t_ns >= steady_from_ns]
        steady = frame_ns >= steady_from_ns
        paired = np.array([p.input is not None and no_pairing is None for p in pairs], dtype=bool)
        inputs = None
        if paired.any():
            blank = np.zeros_like(next(p.input for p in pairs if p.input is not None))
            inputs = np.stack([blank if p.input is None else p.input for p in pairs])
        elif no_pairing is None:
            no_pairing = "no output frame in the measured window answered a kept input frame"
        return QualitySamples(
            times_s=np.array([(p.t_ns - self.start_ns) / 1e9 for p in pairs], dtype=np.float64),
            pts=np.array([(p.pts, p.next_pts) for p in pairs], dtype=np.int64).reshape(-1, 2),
            frames=_stack([p.frame for p in pairs]),
            next_frames=_stack([p.next_frame for p in pairs]),
            inputs=inputs,
            paired=paired,
            frame_times_s=(frame_ns[steady] - self.start_ns) / 1e9,
            luma_change=np.asarray(luma_change, dtype=np.float64)[steady],
            prompt=prompt,
            no_pairing=no_pairing,
        )


def _stack(frames: list[NDArray[np.uint8]]) -> NDArray[np.uint8]:
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)


@dataclass
class QualitySamples:
    """One trial's samples. Times are seconds from the start of the trial's measured window.

    ``frames[i]`` and ``next_frames[i]`` are consecutive output frames, the first received
    at ``times_s[i]``; ``pts[i]`` holds both frames' pts (which frames they were). Where
    ``paired[i]``, ``inputs[i]`` is the input frame ``frames[i]`` answers (by stamp id).
    ``frame_times_s`` and ``luma_change`` cover every steady frame of the window
    (:class:`LumaChange`). ``no_pairing`` says why fidelity cannot be scored (None when
    some sample is paired).
    """

    times_s: NDArray[np.float64]
    pts: NDArray[np.int64]
    frames: NDArray[np.uint8]
    next_frames: NDArray[np.uint8]
    inputs: NDArray[np.uint8] | None
    paired: NDArray[np.bool_]
    frame_times_s: NDArray[np.float64]
    luma_change: NDArray[np.float64]
    prompt: str | None = None
    no_pairing: str | None = None

    def __len__(self) -> int:
        return int(self.times_s.size)

    def to_arrays(self) -> dict[str, NDArray[Any]]:
        """Plain arrays (no pickled objects): what ``np.savez_compressed`` writes."""
        arrays: dict[str, NDArray[Any]] = {
            "times_s": self.times_s, "pts": self.pts, "frames": self.frames, "next_frames": self.next_frames,
            "paired": self.paired, "frame_times_s": self.frame_times_s, "luma_change": self.luma_change,
        }
        if self.inputs is not None:
            arrays["inputs"] = self.inputs
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                arrays[name] = np.array(value)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]]) -> QualitySamples:
        """The inverse of :meth:`to_arrays`."""
        texts = {name: str(arrays[name]) if name in arrays else None for name in _TEXT_FIELDS}
        return cls(times_s=np.asarray(arrays["times_s"]), pts=np.asarray(arrays["pts"]),
                   frames=np.asarray(arrays["frames"]), next_frames=np.asarray(arrays["next_frames"]),
                   inputs=np.asarray(arrays["inputs"]) if "inputs" in arrays else None,
                   paired=np.asarray(arrays["paired"]), frame_times_s=np.asarray(arrays["frame_times_s"]),
                   luma_change=np.asarray(arrays["luma_change"]), **texts)
