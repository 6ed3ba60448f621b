"""The simulator's headless session: start and its refusals, output.ts, /session/frame, stop and reset.

The expected answers come from Scope's API (404 without a session, 500 "check logs" when the
frame processor cannot start) and from the simulator's own ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pandas as pd
import pytest

from lab import resources
from lab.sim.media.tsout import TsOutput
from tests.conftest import SimControl

OUTPUT_TS = "/api/v1/session/output.ts"
GOP_FRAMES = 15  # the simulator's key frame interval (lab.sim.media.tsout)


@pytest.fixture
async def http(sim: SimControl) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


async def load(http: httpx.AsyncClient, pipeline: str) -> None:
    await http.post("/api/v1/pipeline/load", json={"pipeline_ids": [pipeline]})
    for _ in range(100):
        if (await http.get("/api/v1/pipeline/status")).json()["status"] == "loaded":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{pipeline} did not load")


async def upload(http: httpx.AsyncClient, path: Path, name: str) -> str:
    response = await http.post("/api/v1/assets", params={"filename": name}, content=path.read_bytes(),
                               headers={"content-type": "application/octet-stream"})
    response.raise_for_status()
    return str(response.json()["path"])


def video_source(path: str) -> dict[str, Any]:
    return {"enabled": True, "source_type": "video_file", "source_name": path}


async def start_passthrough(http: httpx.AsyncClient, clip: Path = resources.CLIP) -> None:
    await load(http, "passthrough")
    path = await upload(http, clip, clip.name)
    start = await http.post("/api/v1/session/start", json={
        "pipeline_id": "passthrough", "input_mode": "video", "input_source": video_source(path)})
    assert start.json() == {"status": "ok", "input_mode": "video", "cloud_mode": False, "pipeline_id": "passthrough"}


async def read_ts(http: httpx.AsyncClient, seconds: float) -> bytes:
    data = b""
    async with http.stream("GET", OUTPUT_TS) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp2t"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for chunk in response.aiter_raw():
                    data += chunk
    return data


def demux(data: bytes) -> list[av.Packet]:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [p for p in container.demux(video=0) if p.size]


async def last_log_line(http: httpx.AsyncClient) -> str:
    return str((await http.get("/api/v1/logs/tail", params={"lines": 1})).json()["lines"][-1])


async def test_no_session_no_stream(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", OUTPUT_TS), ("POST", "/api/v1/session/stop")):
        response = await http.request(method, path)
        assert (response.status_code, response.json()["detail"]) == (404, "No active headless session")
    assert (await http.get("/api/v1/session/frame")).status_code == 404
    assert (await http.get("/api/v1/session/metrics")).json()["sessions"] == {}


async def test_start_before_load_fails_and_the_log_says_why(http: httpx.AsyncClient) -> None:
    start = await http.post("/api/v1/session/start", json={"pipeline_id": "passthrough"})
    assert start.status_code == 500 and "check logs" in start.json()["detail"]
    assert "pipeline passthrough is not loaded" in await last_log_line(http)
    assert (await http.get(OUTPUT_TS)).status_code == 404


@pytest.mark.parametrize(("source", "logged"), [
    pytest.param({"source_type": "ndi", "source_name": "cam"}, "input source ndi is not available", id="ndi"),
    pytest.param({"source_type": "video_file", "source_name": "nowhere.mp4"}, "Video file nowhere.mp4 not found",
                 id="missing-file"),
])
async def test_an_input_source_that_cannot_open_fails_the_start(http: httpx.AsyncClient, source: dict[str, Any],
                                                                 logged: str) -> None:
    await load(http, "passthrough")
    start = await http.post("/api/v1/session/start", json={
        "pipeline_id": "passthrough", "input_mode": "video", "input_source": {"enabled": True, **source}})
    assert start.status_code == 500
    assert logged in await last_log_line(http)


async def test_output_ts_is_h264_from_a_key_frame_and_counts_with_the_truth(http: httpx.AsyncClient,
                                                                          sim: SimControl) -> None:
    await start_passthrough(http)
    asked = [time.perf_counter_ns()]
    first = await read_ts(http, 1.5)
    asked.append(time.perf_counter_ns())
    late = await read_ts(http, 1.0)  # joins mid-stream
    packets, late_packets = demux(first), demux(late)
    with av.open(io.BytesIO(first), format="mpegts") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.codec_context.width, stream.codec_context.height) == (512, 512)
    keys = [k for k, p in enumerate(packets) if p.is_keyframe]
    assert keys[0] == 0 and np.diff(keys).tolist() == [GOP_FRAMES] * (len(keys) - 1)
    assert late_packets[0].is_keyframe
    truth = sim.truth("headless")
    assert truth["headless"] is True
    frames = pd.DataFrame(truth["frames"])
    assert (frames["wire_ns"].dropna() >= frames["sent_ns"][frames["wire_ns"].notna()]).all()
    for seen, asked_ns in zip((packets, late_packets), asked, strict=True):
        # The stream carries the truth's timestamps: each client got consecutive truth frames,
        # none lost or added, from the first key frame the session wrote after the client asked
        # (or the next one, if that one was written while the request was on its way).
        rows = np.flatnonzero(frames["pts"].isin([p.pts for p in seen]).to_numpy())
        assert len(rows) == len(seen) and np.diff(rows).tolist() == [1] * (len(rows) - 1)
        written_after = frames.index[(frames["wire_ns"] >= asked_ns) & (frames.index % GOP_FRAMES == 0)]
        assert rows[0] in written_after[:2].tolist(), (rows[0], written_after[:2].tolist())


def test_odd_sizes_are_padded_to_even() -> None:
    output = TsOutput()
    picture = np.zeros((47, 63, 3), np.uint8)
    picture[:, -1] = 200  # the last column, repeated into the padding
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    frame.pts = 0
    data, key = output.encode(frame)
    output.close()
    assert key
    with av.open(io.BytesIO(data), format="mpegts") as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert decoded.shape == (48, 64, 3)
    assert decoded[:, -1].mean() > 150 and decoded[-1, :40].mean() < 50  # padded by repetition, not scaled
