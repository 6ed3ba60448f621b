"""The live panel's widgets, driven from Python against the simulator (no browser, no frontend).

Widgets outside a kernel have no frontend: setting a value or clicking a button runs the
same Python callbacks a browser would trigger. The browser itself is covered by
tests/test_browser_live.py.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image

from lab.live.browser import GONE_GRACE_S, SILENCE_S, Presence
from lab.live.inputs import PushedSource
from lab.live.panel import _PANELS, LivePanel
from lab.live.streaming import StreamState
from lab.live.view import FrameView, placeholder_jpeg
from tests.conftest import SimControl
from tests.test_live_controller import wait_for


@pytest.fixture
async def panel(sim: SimControl, tmp_path: Path) -> AsyncIterator[LivePanel]:
    live = await LivePanel.open(sim.url, results_dir=tmp_path / "live")
    yield live
    await live.close()


def pick(panel: LivePanel, pipeline: str, mode: str | None = None) -> None:
    panel.pipeline.value = pipeline
    if mode is not None:
        panel.mode.value = mode


async def load_and_stream(panel: LivePanel, pipeline: str, mode: str | None = None) -> None:
    pick(panel, pipeline, mode)
    panel.load_button.click()
    await wait_for(lambda: panel.controller.streaming, timeout_s=20, what=f"{pipeline} streaming")


def solid_jpeg(rgb: tuple[int, int, int], size: tuple[int, int] = (512, 512)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, format="JPEG")
    return buffer.getvalue()


async def test_picker_and_controls_come_from_the_servers_schemas(panel: LivePanel) -> None:
    labels = {value: label for label, value in panel.pipeline.options}
    assert list(labels) == panel.controller.overview.schemas.ids
    assert labels["longlive"] == "longlive · VACE · ~20 GB · fits"  # the simulated pod has 32 GB
    assert panel.pipeline.value == "streamdiffusionv2"  # the first generative pipeline that fits
    pick(panel, "longlive", "text")
    assert list(panel._controls) == ["denoising_step_list", "vace_context_scale", "manage_cache"]
    assert not panel.prompt.disabled and panel.input_box.layout.display == "none"
    panel.mode.value = "video"
    assert list(panel._controls)[:3] == ["denoising_step_list", "noise_scale", "noise_controller"]
    assert panel.input_box.layout.display is None
    pick(panel, "passthrough")
    assert panel._controls == {} and panel.prompt.disabled and panel.vace.disabled
    assert "offers no runtime controls" in panel.controls_box.children[0].value
    assert "needs no" in panel.pipeline_info.value or "no VRAM estimate" in panel.pipeline_info.value


async def test_load_streams_into_the_live_image_and_the_figures(panel: LivePanel, sim: SimControl) -> None:
    assert panel.image.value == placeholder_jpeg()
    await load_and_stream(panel, "passthrough")
    assert panel.progress.value == 1.0 and panel.progress.bar_style == "success"
    assert "passthrough loaded" in panel.stage.value and not panel.stop_button.disabled
    await wait_for(lambda: panel.view.shown >= 20, what="20 frames shown")
    assert panel.image.value[:2] == b"\xff\xd8"  # a JPEG
    await wait_for(lambda: float(panel.fps.value.split()[0].replace("–", "0")) > 0, what="a positive fps")
    assert "latency p50" in panel.figures.value and "SIMULATED" in panel.figures.value
    assert "<svg" in panel.chart.value and "SIMULATED" in panel.chart.value
    panel.stop_button.click()
    await wait_for(lambda: not panel.controller.streaming and panel.stop_button.disabled, what="stopped")
    assert [s["state"] for s in sim._http.get("/sim/sessions").json()] == ["closed"]


async def test_prompt_controls_and_references_are_sent_live(panel: LivePanel) -> None:
    await load_and_stream(panel, "longlive", "text")
    session = panel.controller._stream.session  # type: ignore[union-attr]
    initial = panel.controller.parameters
    assert initial["prompts"] == [{"text": panel.prompt.value, "weight": 1.0}]
    assert initial["denoising_step_list"] == [1000, 750, 500, 250]

    panel.prompt.value = "a red fox in snow"
    panel.blend.value = "northern lights"
    await wait_for(lambda: len(session.sent) >= 2, what="two prompt updates")
    assert session.sent[-1][1] == {"prompts": [{"text": "a red fox in snow", "weight": 1.0},
                                               {"text": "northern lights", "weight": 0.5}]}
    panel._controls["vace_context_scale"][1].value = 0.4
    bad_steps = panel._controls["denoising_step_list"][1]
    bad_steps.value = "250, 1000"
    await wait_for(lambda: session.sent[-1][1] == {"vace_context_scale": 0.4}, what="the scale sent")
    assert "descending" in panel.problem.value  # the bad step list was refused with the reason

    png = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(png, format="PNG")
    panel.refs_upload.value = ({"name": "ref-blue.png", "type": "image/png", "size": len(png.getvalue()),
                                "content": memoryview(png.getvalue()),
                                "last_modified": datetime.now(UTC)},)
    await wait_for(lambda: any(name == "ref-blue.png" for name, _ in panel.refs.options),
                   what="the uploaded image listed")
    path = dict(panel.refs.options)["ref-blue.png"]
    assert path.startswith("/")  # the server's absolute path, which vace_ref_images needs
    panel.refs.value = (path,)
    panel.refs_send.click()
    await wait_for(lambda: session.sent[-1][1] == {"vace_ref_images": [path]}, what="the references sent")


async def test_snapshot_and_record_buttons_save_into_the_results_folder(panel: LivePanel, tmp_path: Path) -> None:
    panel.snapshot_button.click()
    assert "No frame has arrived" in panel.problem.value
    await load_and_stream(panel, "passthrough")
    await wait_for(lambda: panel.controller.stats.frames >= 10, what="10 frames")
    panel.snapshot_button.click()
    (png,) = (tmp_path / "live").glob("*/snapshot-001.png")
    assert str(png) in panel.saved.value
    panel.record_button.value = True
    assert panel.controller.recording
    await asyncio.sleep(1.5)
    panel.record_button.value = False
    (clip,) = (tmp_path / "live").glob("*/clip-001.mp4")
    with av.open(str(clip)) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 10
    assert "clip-001.mp4" in panel.saved.value


async def test_running_the_cell_again_closes_the_previous_panel_and_its_session(panel: LivePanel, sim: SimControl,
                                                                                tmp_path: Path) -> None:
    await load_and_stream(panel, "passthrough")
    other = await LivePanel.open(sim.url, key="second", results_dir=tmp_path)  # another key: both live
    again = await LivePanel.open(sim.url, results_dir=tmp_path)  # same key: replaces the first
    try:
        assert _PANELS == {"live": again, "second": other}
        assert not panel.controller.streaming and panel.controller._closed
        await wait_for(lambda: [s["state"] for s in sim._http.get("/sim/sessions").json()] == ["closed"],
                       what="the first panel's session closed")
        assert panel.widget.comm is None  # its widgets are closed too
    finally:
        await other.close()
        await again.close()
    assert _PANELS == {}


async def test_the_stream_stops_when_no_view_of_the_panel_is_left(panel: LivePanel) -> None:
    now = [1000.0]
    panel.presence.clock = lambda: now[0]
    await load_and_stream(panel, "passthrough")
    now[0] += 10 * SILENCE_S  # no heartbeat ever (nbval, papermill): keep streaming
    await asyncio.sleep(1.0)
    assert panel.controller.streaming
    panel.presence._handle_message(None, {"type": "alive", "view": "v1"}, [])
    panel.presence._handle_message(None, {"type": "gone", "view": "v1"}, [])  # the notebook was closed
    await asyncio.sleep(1.0)
    assert panel.controller.streaming  # a grace period: a view may be re-rendered
    panel.presence.kernel_busy()  # a cell runs: heartbeats wait in the kernel's queue
    now[0] += 10 * SILENCE_S
    await asyncio.sleep(1.0)
    assert panel.controller.streaming
    panel.presence.kernel_idle()  # the cell ended: silence counts from now
    await asyncio.sleep(1.0)
    assert panel.controller.streaming
    now[0] += GONE_GRACE_S
    await wait_for(lambda: panel.controller.stream_state is StreamState.STOPPED, what="the stream stopped")
    assert "no view of the panel" in panel.controller.message


async def test_webcam_frames_from_the_browser_feed_the_stream_and_are_acknowledged(
        panel: LivePanel, monkeypatch: pytest.MonkeyPatch) -> None:
    sent_to_browser: list[dict[str, Any]] = []
    monkeypatch.setattr(panel.webcam, "send", lambda content, buffers=None: sent_to_browser.append(content))
    panel.source.value = "webcam"
    await load_and_stream(panel, "passthrough")
    source = panel.controller._stream.source  # type: ignore[union-attr]
    assert isinstance(source, PushedSource) and panel.webcam.active
    assert (panel.webcam.width, panel.webcam.height, panel.webcam.fps) == (512, 512, panel.controller.input_fps)
    for _ in range(5):
        panel.webcam._handle_message(None, {"type": "frame"}, [memoryview(solid_jpeg((200, 20, 20)))])
    assert source.received == 5 and sent_to_browser == [{"type": "ack"}] * 5
    panel.webcam._handle_message(None, {"type": "error", "message": "NotAllowedError: denied"}, [])
    assert "NotAllowedError" in panel.problem.value
    panel.source.value = "pattern"  # switching the input restarts the stream without the camera
    def restarted_with_pattern() -> bool:
        stream = panel.controller._stream
        return not panel.webcam.active and stream is not None and stream.choice == "pattern"

    await wait_for(restarted_with_pattern, what="a restart with the pattern")


async def test_frame_view_follows_the_stream_up_to_its_cap_and_shows_the_newest_frame() -> None:
    image = widgets.Image()
    view = FrameView(image, max_fps=10)
    colours = [(k, 255 - k, 0) for k in range(0, 200, 1)]
    started = time.monotonic()
    for rgb in colours:  # 200 frames at up to 100 fps: 2 s, longer on a busy machine
        view.offer(av.VideoFrame.from_ndarray(np.full((64, 64, 3), rgb, np.uint8), format="rgb24"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    await view.close()
    cap = math.floor((time.monotonic() - started) * 10) + 1  # at most one frame per 0.1 s, the first at once
    assert 10 <= view.shown <= cap, (view.shown, cap)
    assert view.shown + view.skipped >= 199  # every frame shown or skipped, bar one pending at close
    shown = np.asarray(Image.open(io.BytesIO(image.value)))[32, 32]
    assert np.abs(shown.astype(int) - colours[-1]).max() < 8  # the last frame offered, not an old one
    shown_when_closed = view.shown
    view.offer(av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), format="rgb24"))
    await asyncio.sleep(0.2)
    assert view.shown == shown_when_closed  # closed: offers are ignored


def test_presence_counts_silence_only_between_cells_and_after_a_first_heartbeat() -> None:
    now = [0.0]
    presence = Presence(clock=lambda: now[0])
    now[0] = 1000.0
    assert not presence.abandoned()  # never seen: no browser at all
    presence._handle_message(None, {"type": "alive", "view": "a"}, [])
    now[0] += SILENCE_S - 1
    assert not presence.abandoned()
    now[0] += 2  # heartbeats stopped (the notebook was closed): silence
    assert presence.abandoned()
    presence.kernel_busy()
    assert not presence.abandoned()
    presence.kernel_idle()
    now[0] += GONE_GRACE_S - 1
    assert not presence.abandoned()  # queued heartbeats may still come after a cell
    presence._handle_message(None, {"type": "alive", "view": "a"}, [])
    now[0] += SILENCE_S + 1
    assert presence.abandoned()
