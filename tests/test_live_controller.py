"""The live panel's logic (LiveController) against the simulator over loopback, without a browser."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from lab.client import ScopeClient
from lab.errors import PipelineLoadError
from lab.live.controller import LiveController
from lab.live.loading import LOADING_STAGES, LoadState, LoadStatus
from lab.live.streaming import StreamState
from lab.live.controls import Transition
from lab.live.inputs import PushedSource
from lab.measure.change import thumbnail
from lab.rtc import ReceivedFrame
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

PROMPT = [{"text": "a lighthouse at dusk", "weight": 1.0}]


@pytest.fixture
async def controller(client: ScopeClient, tmp_path: Path) -> AsyncIterator[LiveController]:
    live = await LiveController.connect(client, results_root=tmp_path / "live")
    yield live
    await live.close()


async def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.05)


def mean_colour(frames: list[ReceivedFrame]) -> np.ndarray:
    return np.mean([thumbnail(f.frame).mean(axis=(0, 1)) for f in frames], axis=0)


async def test_load_downloads_then_reports_each_stage_and_streams_text_mode(controller: LiveController,
                                                                            sim: SimControl) -> None:
    seen: list[LoadStatus] = []
    controller.on_change(lambda: seen.append(controller.load_status))
    result = await controller.load("longlive", "text")
    states = [s.state for s in seen]
    assert LoadState.DOWNLOADING in states and states[-1] is LoadState.LOADED  # models start missing
    stages = [s.stage for s in seen if s.state is LoadState.LOADING and s.stage]
    assert set(stages) <= set(LOADING_STAGES) and len(set(stages)) >= 3
    progress = [s.progress for s in seen if s.state is LoadState.LOADING]
    assert progress == sorted(progress) and 0 < progress[-1] < 1 == seen[-1].progress
    assert controller.loaded is not None and controller.loaded.size == (576, 320)  # longlive's text-mode default
    assert result.load_params == {"height": 320, "width": 576, "vace_enabled": True}
    assert controller.overview.models["longlive"].downloaded  # the picker shows it from now on

    source = await controller.start("pattern", {"prompts": PROMPT})
    assert source is None  # text mode takes no input
    await wait_for(lambda: controller.stats.frames >= 20, what="20 frames")
    assert controller.streaming and controller.stats.figures().fps > 0
    (session,) = [s for s in sim._http.get("/sim/sessions").json() if s["state"] == "connected"]
    assert session["pipeline_ids"] == ["longlive"] and session["input_mode"] == "text"


async def test_a_load_while_loading_is_refused_and_a_failed_load_says_where(controller: LiveController,
                                                                            sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    sim.fault("load_error", stage="Loading VAE...", count=1)
    loading = asyncio.create_task(controller.load("longlive"))
    await wait_for(lambda: controller.load_status.state is LoadState.LOADING, what="loading")
    with pytest.raises(RuntimeError, match="still loading"):
        await controller.load("passthrough")
    with pytest.raises(PipelineLoadError):
        await loading
    status = controller.load_status
    assert status.state is LoadState.FAILED and "Loading VAE..." in status.message
    with pytest.raises(RuntimeError, match="load one first"):
        await controller.start("pattern", {})
    await controller.load("passthrough")  # the next load works
    assert controller.load_status.state is LoadState.LOADED


async def test_stamped_pattern_through_passthrough_gives_fps_and_exact_latency(controller: LiveController) -> None:
    await controller.load("passthrough")
    await controller.start("pattern", {"prompts": PROMPT})  # prompts are dropped: passthrough has none
    await wait_for(lambda: controller.stats.frames >= 40, what="40 frames")
    figures = controller.stats.figures()
    assert figures.fps == pytest.approx(controller.input_fps, rel=0.25)
    assert figures.latency_n >= 20 and 50 < figures.latency_p50_ms < 2000  # type: ignore[operator]
    assert "prompts" not in controller.parameters


async def test_only_changed_parameters_go_over_the_data_channel(controller: LiveController) -> None:
    await controller.load("longlive", "text")
    initial = {"prompts": PROMPT, "denoising_step_list": [1000, 750, 500, 250], "vace_context_scale": 1.0}
    await controller.start(None, initial)
    session = controller._stream.session  # type: ignore[union-attr]
    assert await controller.update({"prompts": PROMPT, "vace_context_scale": 1.0}) == {}
    assert await controller.update({"vace_context_scale": 0.5, "denoising_step_list": [1000, 750, 500, 250]}) == {
        "vace_context_scale": 0.5}
    target = [{"text": "snow", "weight": 1.0}]
    sent = await controller.update({"prompts": target}, Transition(enabled=True, num_steps=3, method="slerp"))
    assert sent == {"transition": {"target_prompts": target, "num_steps": 3, "temporal_interpolation_method": "slerp"}}
    assert await controller.update({"vace_ref_images": ["/a.png"]}) == {"vace_ref_images": ["/a.png"]}
    assert [body for _, body in session.sent] == [{"vace_context_scale": 0.5}, sent, {"vace_ref_images": ["/a.png"]}]
    assert controller.parameters["prompts"] == target and controller.parameters["vace_context_scale"] == 0.5


async def test_a_prompt_change_changes_the_generated_picture(controller: LiveController) -> None:
    await controller.load("longlive", "text")
    frames: list[ReceivedFrame] = []
    controller.on_frame(frames.append)
    await controller.start(None, {"prompts": PROMPT})
    await wait_for(lambda: len(frames) >= 30, what="30 frames")
    before = mean_colour(frames[-10:])
    changed_at = len(frames)
    await controller.update({"prompts": [{"text": "a field of green grass", "weight": 1.0}]})
    await wait_for(lambda: len(frames) >= changed_at + 60, what="60 more frames")
    after = mean_colour(frames[-5:])
    noise = np.abs(mean_colour(frames[-10:-5]) - after).max()  # frame-to-frame, same prompt
    assert np.abs(after - before).max() > 20 > noise


async def test_the_server_ending_the_stream_is_noticed(controller: LiveController, sim: SimControl) -> None:
    await controller.load("passthrough")
    sim.fault("stream_stopped", after_s=1.0, message="out of memory", count=1)
    await controller.start("pattern", {})
    await wait_for(lambda: controller.stream_state is StreamState.STOPPED, what="stream stopped")
    assert "out of memory" in controller.message and not controller.streaming


async def test_snapshot_and_clip_are_saved_with_their_figures_labelled_simulated(controller: LiveController,
                                                                                  tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="start a stream"):
        controller.start_recording()
    await controller.load("passthrough")
    await controller.start("clip", {})
    await wait_for(lambda: controller.stats.frames >= 10, what="10 frames")
    controller.stats.sample()
    png = controller.snapshot("<svg/>")
    assert Image.open(png).text["source"] == "SIMULATED"
    snapshot = json.loads(png.with_suffix(".json").read_text())
    assert snapshot["source"] == "SIMULATED" and snapshot["simulated"] is True
    assert snapshot["pipeline_id"] == "passthrough" and snapshot["input"] == "clip" and snapshot["figures"]["fps"] > 0
    assert png.with_suffix(".svg").read_text() == "<svg/>"

    clip_path = controller.start_recording()
    await asyncio.sleep(2.0)
    summary = controller.stop_recording()
    assert summary.path == clip_path and summary.dropped == 0 and summary.frames >= 15
    with av.open(str(clip_path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == summary.frames
    times = (clip_path.with_suffix(".csv")).read_text().splitlines()
    assert times[0] == "complete_ns,t_s,interval_ms,source" and len(times) == summary.frames + 1
    assert json.loads(clip_path.with_suffix(".json").read_text())["fps"] == pytest.approx(controller.input_fps, rel=0.3)
    manifest = json.loads((png.parent / "manifest.json").read_text())
    assert manifest["source"] == "SIMULATED" and manifest["kind"] == "live"
    assert png.parent.parent == tmp_path / "live"


async def test_webcam_frames_pushed_into_the_source_come_back_through_passthrough(controller: LiveController) -> None:
    await controller.load("passthrough")
    frames: list[ReceivedFrame] = []
    controller.on_frame(frames.append)
    source = await controller.start("webcam", {})
    assert isinstance(source, PushedSource) and (source.width, source.height) == (512, 512)
    red = io.BytesIO()
    Image.new("RGB", (512, 512), (220, 30, 30)).save(red, format="JPEG")
    for _ in range(40):  # a browser sending 20 fps for 2 s
        source.push_jpeg(red.getvalue())
        await asyncio.sleep(0.05)
    r, g, b = mean_colour(frames[-5:])
    assert r > 180 and g < 70 and b < 70 and source.received == 40


@pytest.mark.parametrize("closing", [
    pytest.param("close", id="close"),
    pytest.param("exit-hook", id="exit-hook"),
])
async def test_closing_drops_the_session_on_the_server(controller: LiveController, sim: SimControl,
                                                       closing: str) -> None:
    await controller.load("passthrough")
    await controller.start("pattern", {})
    await wait_for(lambda: controller.stats.frames >= 5, what="5 frames")
    assert controller._stream is not None
    session = controller._stream.session
    if closing == "close":
        await controller.close()
    else:
        await asyncio.to_thread(controller.close_at_exit)  # as at interpreter exit: no event loop used
    await wait_for(lambda: [s["state"] for s in sim._http.get("/sim/sessions").json()] == ["closed"],
                   what="the server's session closed")
    # A real exit ends the process, peer connection and all. This process goes on, and the
    # exit hook has left our peer connection to aiortc's own close, a task started when the
    # server's DTLS closed: the end of the test's event loop would cancel it half-way and
    # leak its UDP socket to the garbage collector of a later test. Close it as the exit would.
    await session.close()
