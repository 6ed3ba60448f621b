"""Input video for Scope sessions: test patterns, stamped frames, scene steps, files, stills.

Every source is an aiortc video track (:class:`VideoSource`) that paces itself at its
frame rate on the 90 kHz clock, records each frame it sends (:class:`FrameRecord`: id,
pts, ``time.perf_counter_ns``) and can stamp each frame with its id; see
:mod:`lab.sources.base` for the pacing rules.

- :class:`TestPatternSource`: colour bars with a moving box (``lab.sources.pattern``);
- :class:`StampedSource`: frames carrying their id, over any background (same module);
- :class:`StepSource`: scene switches for step tests, with :class:`SceneSwitch` records
  (``lab.sources.step``);
- :class:`VideoFileSource` and :class:`StillImageSource` (``lab.sources.media``).

Examples
--------
>>> source = make_source("stamped", width=576, height=320, fps=30)
>>> frame = await source.recv()                                  # doctest: +SKIP
>>> source.records[0]                                            # doctest: +SKIP
FrameRecord(frame_id=0, pts=0, sent_ns=...)
>>> source.stop()
"""

from __future__ import annotations

from typing import Any, Literal

from lab.sources.base import FrameRecord, VideoSource
from lab.sources.media import StillImageSource, VideoFileSource
from lab.sources.pattern import StampedSource, TestPatternSource
from lab.sources.step import SceneSwitch, StepSource, step_scenes

__all__ = [
    "FrameRecord",
    "SceneSwitch",
    "VideoSource",
    "TestPatternSource",
    "StampedSource",
    "StepSource",
    "VideoFileSource",
    "StillImageSource",
    "step_scenes",
    "SourceKind",
    "SOURCE_KINDS",
    "make_source",
]

SourceKind = Literal["pattern", "stamped", "step", "file", "image"]

SOURCE_KINDS: dict[str, type[VideoSource]] = {
    "pattern": TestPatternSource,
    "stamped": StampedSource,
    "step": StepSource,
    "file": VideoFileSource,
    "image": StillImageSource,
}


def make_source(kind: SourceKind, **options: Any) -> VideoSource:
    """Make a source by name, for the CLI and notebooks.

    Parameters
    ----------
    kind:
        ``"pattern"`` (:class:`TestPatternSource`), ``"stamped"`` (:class:`StampedSource`),
        ``"step"`` (:class:`StepSource`), ``"file"`` (:class:`VideoFileSource`) or
        ``"image"`` (:class:`StillImageSource`).
    **options:
        The class's own parameters, e.g. ``width``, ``height``, ``fps``, ``path``.

    Raises
    ------
    ValueError
        If ``kind`` is not one of the names above.

    Examples
    --------
    >>> make_source("step", width=576, height=320, fps=24, schedule=2.0).fps
    24.0
    """
    try:
        source_class = SOURCE_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown source kind {kind!r}: choose one of {', '.join(SOURCE_KINDS)}."
        ) from None
    return source_class(**options)
