"""Server-side recordings of the simulator's headless session (``/api/v1/recordings/headless``).

The headless session's id is ``headless`` (as in its metrics and truth; the fact sheet marks
it uncertain for Scope). Its recording must hold the frames it produced: the stamps read from
the MP4 are a run of the frames its truth says it sent, at their send times. Like closing a
WebRTC session, stopping or replacing the headless session deletes its recordings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import numpy as np
import pandas as pd
import pytest

from lab.sources import StampedSource
from lab.stamp import stamp_frame
from tests.conftest import SimControl
from tests.test_sim_headless import load, upload, video_source
from tests.test_sim_headless_graph import first_frame
from tests.test_sim_session_capture import decode_mp4

pytestmark = pytest.mark.slow  # records in real time

RECORDING = "/api/v1/recordings/headless"
CLIP_FPS = 30
CLIP_FRAMES = 240  # 8 s: the test ends before the clip loops, so every stamp id is sent once


def stamped_clip(path: Path) -> Path:
    """An MP4 whose frame k carries stamp id k."""
    background = StampedSource(512, 512, CLIP_FPS)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS, options={"preset": "ultrafast", "crf": "12"})
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        for index in range(CLIP_FRAMES):
            picture = stamp_frame(np.array(background.render(index)), index)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    background.stop()
    return path


@pytest.fixture
async def http(sim: SimControl) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


async def start_stamped(http: httpx.AsyncClient, tmp_path: Path) -> None:
    await load(http, "passthrough")
    clip = await upload(http, stamped_clip(tmp_path / "stamped.mp4"), "stamped.mp4")
    start = await http.post("/api/v1/session/start", json={
        "pipeline_id": "passthrough", "input_mode": "video", "input_source": video_source(clip)})
    assert start.status_code == 200, start.text
    await first_frame(http)


async def test_a_headless_recording_holds_the_frames_the_session_sent(http: httpx.AsyncClient, sim: SimControl,
                                                                      tmp_path: Path) -> None:
    await start_stamped(http, tmp_path)
    switches = [(await http.post(f"{RECORDING}/start")).json()["status"]]
    await asyncio.sleep(1.5)
    switches.append((await http.post(f"{RECORDING}/stop")).json()["status"])
    download = await http.get(RECORDING)
    assert switches == ["started", "stopped"]
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"

    ids, times_ms = decode_mp4(download.content)
    sent = pd.DataFrame(sim.truth("headless")["frames"])
    sent_ids = sent["input_stamp_id"].astype(int).tolist()
    assert len(ids) >= 30 and None not in ids, ids
    start = sent_ids.index(ids[0])
    assert ids == sent_ids[start:start + len(ids)], "the recording is not the run of frames the session sent"
    sent_ms = (sent["sent_ns"].to_numpy()[start:start + len(ids)] - sent["sent_ns"].iloc[start]) / 1e6
    assert np.abs(times_ms - times_ms[0] - sent_ms).max() <= 2.0  # the file counts whole milliseconds


async def test_stopping_or_replacing_the_headless_session_deletes_its_recording(http: httpx.AsyncClient,
                                                                                tmp_path: Path) -> None:
    await start_stamped(http, tmp_path)
    assert (await http.post(f"{RECORDING}/start")).json() == {"status": "started"}
    await start_stamped(http, tmp_path)  # a new start replaces the session: a fresh recording state
    assert (await http.post(f"{RECORDING}/stop")).json() == {"status": "not_recording"}
    assert (await http.post(f"{RECORDING}/start")).json() == {"status": "started"}
    await asyncio.sleep(0.3)
    assert (await http.post("/api/v1/session/stop")).status_code == 200
    after = await http.post(f"{RECORDING}/stop")
    assert after.status_code == 404 and after.json()["detail"] == "Session headless not found"
