"""Input sources: pacing, pts, records, stop semantics, scene steps, file looping, stills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from lab.stamp import decode_stamp
from lab.resources import CLIP
from lab.sources import (
    SOURCE_KINDS,
    FrameRecord,
    StampedSource,
    StepSource,
    StillImageSource,
    TestPatternSource,
    VideoFileSource,
    VideoSource,
    make_source,
    step_scenes,
)

# Fast enough that tests spend little time sleeping, slow enough to still be paced.
FAST_FPS = 500.0


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    """The shipped clip's frames, decoded directly with PyAV and shrunk to 128 x 128."""
    with av.open(str(CLIP)) as container:
        return [frame.to_ndarray(width=128, height=128, format="rgb24")
                for frame in container.decode(video=0)]


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pictures, 0-255."""
    return float(np.abs(a.astype(np.int16) - b).mean())


@pytest.fixture
async def sources() -> AsyncIterator[list[VideoSource]]:
    """A list to put sources in; every one of them is stopped after the test."""
    made: list[VideoSource] = []
    try:
        yield made
    finally:
        for source in made:
            source.stop()


async def take(source: VideoSource, count: int) -> list[av.VideoFrame]:
    return [await source.recv() for _ in range(count)]


# --- pacing and pts -------------------------------------------------------------------------


async def test_pacing_over_one_second(sources: list[VideoSource]) -> None:
    source = TestPatternSource(576, 320, fps=30)
    sources.append(source)

    start = time.perf_counter()
    frames = []
    while time.perf_counter() - start < 1.0:
        frames.append(await source.recv())

    sent_s = [(r.sent_ns - source.records[0].sent_ns) / 1e9 for r in source.records]
    in_first_second = sum(t < 1.0 for t in sent_s)
    assert abs(in_first_second - 30) <= 1
    assert [f.pts for f in frames] == [3000 * i for i in range(len(frames))]
    assert all(f.time_base * 90_000 == 1 for f in frames)


@pytest.mark.parametrize("fps, step", [(24, 3750), (25, 3600), (60, 1500)])
async def test_pts_step_is_90khz_over_fps(sources: list[VideoSource], fps: int, step: int) -> None:
    source = TestPatternSource(64, 64, fps=fps)
    sources.append(source)

    frames = await take(source, 4)
    assert np.diff([f.pts for f in frames]).tolist() == [step] * 3
    assert [r.pts for r in source.records] == [f.pts for f in frames]


async def test_stall_restarts_the_schedule_instead_of_bursting(sources: list[VideoSource]) -> None:
    source = TestPatternSource(64, 64, fps=50)
    sources.append(source)

    await take(source, 2)
    await asyncio.sleep(0.4)  # the consumer stalls for 20 frame intervals
    await take(source, 2)

    pts = [r.pts for r in source.records]
    sent_s = [r.sent_ns / 1e9 for r in source.records]
    assert pts[2] - pts[1] >= 0.3 * 90_000  # the pts jump says how long the gap was
    assert pts[3] - pts[2] == 1800
    assert sent_s[3] - sent_s[2] >= 0.015  # paced again, not an immediate catch-up burst


# --- resolution, records, stop --------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, options",
    [
        pytest.param("pattern", {}, id="pattern"),
        pytest.param("stamped", {}, id="stamped"),
        pytest.param("step", {"schedule": 0.01}, id="step"),
        pytest.param("file", {"path": CLIP}, id="file"),
        pytest.param("image", {"path_or_array": np.zeros((10, 20, 3), np.uint8)}, id="image"),
    ],
)
@pytest.mark.parametrize("width, height", [(512, 512), (576, 320)])
async def test_every_kind_makes_frames_of_the_requested_size(
    sources: list[VideoSource], kind: str, options: dict[str, object], width: int, height: int
) -> None:
    source = make_source(kind, width=width, height=height, fps=FAST_FPS, **options)  # type: ignore[arg-type]
    sources.append(source)

    frames = await take(source, 3)
    assert isinstance(source, SOURCE_KINDS[kind])
    assert [(f.width, f.height, f.format.name) for f in frames] == [(width, height, "rgb24")] * 3
    assert all(f.time_base * 90_000 == 1 for f in frames)


async def test_records_describe_each_frame(sources: list[VideoSource]) -> None:
    source = StampedSource(512, 512, fps=FAST_FPS, start_id=1000)
    sources.append(source)

    frames = await take(source, 10)
    records = source.records
    assert [r.frame_id for r in records] == list(range(1000, 1010))
    assert [r.frame_id for r in records] == [decode_stamp(f).frame_id for f in frames]
    assert [r.pts for r in records] == [f.pts for f in frames]
    assert all(isinstance(r, FrameRecord) for r in records)
    assert all(a.sent_ns < b.sent_ns for a, b in zip(records, records[1:]))


async def test_stamped_source_over_other_backgrounds(sources: list[VideoSource]) -> None:
    still = np.full((320, 576, 3), 77, np.uint8)
    over_array = StampedSource(576, 320, FAST_FPS, background=still)
    over_file = StampedSource(576, 320, FAST_FPS, background=VideoFileSource(CLIP, width=576, height=320))
    sources += [over_array, over_file]

    array_frame = (await over_array.recv()).to_ndarray()
    file_frames = [f.to_ndarray() for f in await take(over_file, 3)]
    assert decode_stamp(array_frame).frame_id == 0
    assert (array_frame[100:] == 77).all()
    assert [decode_stamp(f).frame_id for f in file_frames] == [0, 1, 2]
    assert mad(file_frames[0][100:], file_frames[2][100:]) > 1  # the clip plays behind the stamp


def test_stamped_background_must_match_size() -> None:
    background = TestPatternSource(512, 512)
    with pytest.raises(ValueError, match="512x512"):
        StampedSource(576, 320, background=background)


async def test_recv_after_stop_raises(sources: list[VideoSource]) -> None:
    source = TestPatternSource(64, 64, fps=FAST_FPS)
    sources.append(source)
    await source.recv()

    source.stop()
    source.stop()  # stopping twice is harmless
    assert source.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await source.recv()
    assert len(source.records) == 1


async def test_stop_while_waiting_ends_the_pending_recv(sources: list[VideoSource]) -> None:
    source = TestPatternSource(64, 64, fps=5)
    sources.append(source)
    await source.recv()

    pending = asyncio.ensure_future(source.recv())  # the next frame is due in 0.2 s
    await asyncio.sleep(0.05)
    source.stop()
    with pytest.raises(MediaStreamError):
        await pending
    assert len(source.records) == 1


async def test_stamped_source_stops_its_background(sources: list[VideoSource]) -> None:
    background = VideoFileSource(CLIP)
    source = StampedSource(512, 512, FAST_FPS, background=background)
    sources.append(source)

    source.stop()
    assert background.readyState == "ended"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: TestPatternSource(511, 512), id="odd-width"),
        pytest.param(lambda: TestPatternSource(512, 0), id="zero-height"),
        pytest.param(lambda: TestPatternSource(512, 512, fps=0), id="zero-fps"),
        pytest.param(lambda: TestPatternSource(128, 128, stamp=True), id="too-small-to-stamp"),
        pytest.param(lambda: StepSource(scenes=[np.zeros((8, 8, 3), np.uint8)]), id="one-scene"),
        pytest.param(lambda: StepSource(schedule=0), id="zero-period"),
        pytest.param(lambda: StepSource(schedule=[1.0, -1.0]), id="negative-time"),
        pytest.param(lambda: StillImageSource(np.zeros((8, 8, 3), np.float32)), id="float-image"),
        pytest.param(lambda: make_source("camera"), id="unknown-kind"),  # type: ignore[arg-type]
    ],
)
def test_bad_options_are_refused(make: Callable[[], VideoSource]) -> None:
    with pytest.raises(ValueError):
        make()


# --- test pattern ---------------------------------------------------------------------------


def test_pattern_moves() -> None:
    source = TestPatternSource(576, 320, fps=30)

    first, later = source.render(0), source.render(15)
    assert mad(first, later) > 1
    assert mad(first[: 320 // 2, :10], later[: 320 // 2, :10]) < mad(first, later)  # bars stay


# --- step source ----------------------------------------------------------------------------


async def test_step_switches_on_schedule_and_records_them(sources: list[VideoSource]) -> None:
    source = StepSource(576, 320, fps=200, schedule=0.05, stamp=True, start_id=5)
    sources.append(source)

    frames = [f.to_ndarray() for f in await take(source, 35)]
    switches = source.switches
    assert [s.frame_id for s in switches] == [15, 25, 35]
    assert [(s.previous_scene, s.scene) for s in switches] == [(0, 1), (1, 0), (0, 1)]
    records = {r.frame_id: r for r in source.records}
    assert all((s.sent_ns, s.pts) == (records[s.frame_id].sent_ns, records[s.frame_id].pts) for s in switches)
    for s in switches:
        index = s.frame_id - 5
        assert mad(frames[index - 1][100:], frames[index][100:]) > 100  # a real step
        assert mad(frames[index - 2][100:], frames[index - 1][100:]) == 0  # nothing before it
        assert decode_stamp(frames[index]).frame_id == s.frame_id


async def test_step_at_given_times_and_on_demand(sources: list[VideoSource]) -> None:
    source = StepSource(64, 64, fps=100, scenes=[np.zeros((4, 4, 3), np.uint8),
                                                 np.full((4, 4, 3), 255, np.uint8),
                                                 np.full((4, 4), 128, np.uint8)],
                        schedule=[0.03, 0.08, 0.025, 0.031])  # 0.025 and 0.03 s share frame 3
    sources.append(source)

    frames = [f.to_ndarray() for f in await take(source, 10)]
    source.switch()
    frames += [f.to_ndarray() for f in await take(source, 2)]

    assert [(s.frame_id, s.scene) for s in source.switches] == [(3, 1), (4, 2), (8, 0), (10, 1)]
    assert [int(f[0, 0, 0]) for f in frames] == [0, 0, 0, 255, 128, 128, 128, 128, 0, 0, 255, 255]


def test_default_step_scenes_differ_in_colour_and_brightness() -> None:
    dark, bright = step_scenes(576, 320)

    assert mad(dark, bright) > 150
    luma = [float((s @ np.array([0.299, 0.587, 0.114])).mean()) for s in (dark, bright)]
    assert luma[1] - luma[0] > 120


# --- files and stills -----------------------------------------------------------------------


async def test_file_source_loops_past_the_end_of_the_clip(
    sources: list[VideoSource], clip_frames: list[np.ndarray]
) -> None:
    expected = clip_frames
    source = VideoFileSource(CLIP, width=128, height=128, fps=1000)
    sources.append(source)

    frames = [f.to_ndarray() for f in await take(source, len(expected) + 3)]
    assert source.loops == 1
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected))
    assert [np.array_equal(f, e) for f, e in zip(frames[-3:], expected[:3])] == [True] * 3
    assert mad(frames[len(expected) - 1], frames[len(expected)]) > 1  # the bar restarts


async def test_file_source_defaults_to_the_file_and_rescales(sources: list[VideoSource]) -> None:
    native = VideoFileSource(CLIP)
    scaled = VideoFileSource(CLIP, width=576, height=320, fps=FAST_FPS)
    sources += [native, scaled]

    assert (native.width, native.height, native.fps) == (512, 512, 30.0)
    assert (await scaled.recv()).to_ndarray().shape == (320, 576, 3)


@pytest.mark.parametrize("stamped", [False, True], ids=["plain", "as-stamped-background"])
async def test_file_source_without_loop_ends(
    sources: list[VideoSource], clip_frames: list[np.ndarray], stamped: bool
) -> None:
    file_source = VideoFileSource(CLIP, loop=False, width=256, height=64, fps=2000)
    source = StampedSource(256, 64, 2000, background=file_source) if stamped else file_source
    sources.append(source)

    frames = await take(source, len(clip_frames))
    with pytest.raises(MediaStreamError):
        await source.recv()
    assert source.readyState == file_source.readyState == "ended"
    assert len(frames) == len(source.records) == len(clip_frames)


async def test_still_image_from_array_and_file(sources: list[VideoSource], tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (64, 1))  # 128 x 64 ramp
    png = tmp_path / "ramp.png"
    av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24").to_image().save(png)
    from_array = StillImageSource(gray, 576, 320, FAST_FPS)
    from_file = StillImageSource(png, 576, 320, FAST_FPS)
    sources += [from_array, from_file]

    frames = [(await s.recv()).to_ndarray() for s in (from_array, from_file)]
    assert [f.shape for f in frames] == [(320, 576, 3)] * 2
    assert from_array.picture.shape == (320, 576, 3)
    assert mad(frames[0], frames[1]) < 2
    assert frames[0][:, 0].mean() < 10 and frames[0][:, -1].mean() > 240
