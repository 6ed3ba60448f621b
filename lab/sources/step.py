"""Step-test input: a source that switches between very different scenes.

End-to-end latency of a generative pipeline cannot be read from a stamp (the model
redraws the picture), so it is measured as a step: the input switches scene at a
recorded frame and time, and the output is watched for the change.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from lab.sources.base import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH, Picture, VideoSource, as_picture, read_only

__all__ = ["SceneSwitch", "StepSource", "step_scenes"]


@dataclass(frozen=True, slots=True)
class SceneSwitch:
    """A :class:`StepSource` scene change, recorded with the first frame of the new scene."""

    frame_id: int
    pts: int
    sent_ns: int
    scene: int
    previous_scene: int


def step_scenes(width: int, height: int) -> tuple[Picture, Picture]:
    """Two scenes as different as possible: dark blue stripes and bright yellow checks.

    They differ in every channel (mean absolute difference about 180 of 255) and in
    brightness (luma about 45 against 205), so the change shows even through a
    grayscale pipeline. The textures give codecs and models structure to work on.
    """
    y, x = np.mgrid[0:height, 0:width]
    stripes = np.where((x // 16) % 2, 20, -20)[..., np.newaxis]
    checks = np.where((x // 32 + y // 32) % 2, 20, -20)[..., np.newaxis]
    blue = np.clip(np.array([40, 20, 170]) + stripes, 0, 255).astype(np.uint8)
    yellow = np.clip(np.array([240, 215, 40]) + checks, 0, 255).astype(np.uint8)
    return read_only(blue), read_only(yellow)


class StepSource(VideoSource):
    """Switches between very different scenes, on a schedule or on demand (step tests).

    Parameters
    ----------
    width, height, fps:
        As for :class:`VideoSource`.
    scenes:
        Two or more pictures (rescaled to the frame size) shown in turn; by default
        :func:`step_scenes`.
    schedule:
        When to switch, in seconds of stream time (frame index / fps): a number for
        "every so many seconds", a sequence of times for "at these times", or ``None``
        for only on demand (:meth:`switch`). A switch lands on the first frame at or
        after its time.
    stamp, start_id:
        As for :class:`VideoSource`.

    Attributes
    ----------
    switches:
        One :class:`SceneSwitch` per scene change, in order.

    Examples
    --------
    >>> source = StepSource(512, 512, 30, schedule=2.0, stamp=True)
    >>> frames = [await source.recv() for _ in range(90)]           # doctest: +SKIP
    >>> [s.frame_id for s in source.switches]                        # doctest: +SKIP
    [60]
    """

    def __init__(
        self,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        fps: float = DEFAULT_FPS,
        scenes: Sequence[NDArray[Any]] | None = None,
        schedule: float | Sequence[float] | None = None,
        *,
        stamp: bool = False,
        start_id: int = 0,
    ) -> None:
        super().__init__(width, height, fps, stamp=stamp, start_id=start_id)
        if scenes is None:
            scenes = step_scenes(width, height)
        if len(scenes) < 2:
            raise ValueError(f"A step source needs at least two scenes, got {len(scenes)}.")
        self.scenes = tuple(as_picture(scene, width, height) for scene in scenes)
        self.switches: list[SceneSwitch] = []
        self.scene = 0
        self._switch_times = self._times(schedule)
        self._next_switch_index = self._following_switch_index(after=-1)
        self._switch_requested = False
        self._unrecorded: tuple[int, int] | None = None

    @staticmethod
    def _times(schedule: float | Sequence[float] | None) -> Iterator[float]:
        if schedule is None:
            return iter(())
        if isinstance(schedule, (int, float)):
            if not schedule > 0:
                raise ValueError(f"Cannot switch scenes every {schedule} s: the period must be positive.")
            return (k * float(schedule) for k in itertools.count(1))
        times = sorted(float(t) for t in schedule)
        if times and times[0] <= 0:
            raise ValueError(f"Cannot switch scenes at {times[0]} s: switch times must be after 0 s.")
        return iter(times)

    def _following_switch_index(self, after: int) -> float:
        """Index of the first scheduled switch frame after frame ``after`` (inf if none)."""
        for t in self._switch_times:
            # The tolerance keeps 2.0 s at 30 fps on frame 60, not 61, despite rounding;
            # times that fall on an already switched frame are merged into it.
            index = math.ceil(t * self.fps - 1e-9)
            if index > after:
                return index
        return math.inf

    def switch(self) -> None:
        """Show the next scene from the next emitted frame on."""
        self._switch_requested = True

    def render(self, index: int) -> Picture:
        if self._switch_requested or index >= self._next_switch_index:
            if index >= self._next_switch_index:
                self._next_switch_index = self._following_switch_index(after=index)
            self._switch_requested = False
            previous, self.scene = self.scene, (self.scene + 1) % len(self.scenes)
            self._unrecorded = (self.scene, previous)
        return self.scenes[self.scene]

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        if self._unrecorded is not None:
            sent = self.records[-1]
            self.switches.append(SceneSwitch(sent.frame_id, sent.pts, sent.sent_ns, *self._unrecorded))
            self._unrecorded = None
        return frame
