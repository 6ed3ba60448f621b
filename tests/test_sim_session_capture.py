"""Frame capture and server-side recordings of a live WebRTC session on the simulator.

A recording must hold exactly what the session sent while it recorded: the stamps read from
the MP4's frames are an unbroken run of the simulator's sent frames (its truth, in send
order), and the file's frame times are the send times, within 2 ms (it counts whole milliseconds, one
more when two frames share one).
"""

from __future__ import annotations

import io

import av
import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lab.client import ScopeClient
from lab.stamp import decode_stamp
from lab.rtc import open_session
from lab.sources import StampedSource
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time


def decode_mp4(content: bytes) -> tuple[list[int | None], np.ndarray]:
    """Stamp ids and presentation times (ms) of an MP4's video frames."""
    ids: list[int | None] = []
    times_ms: list[float] = []
    with av.open(io.BytesIO(content)) as container:
        for frame in container.decode(video=0):
            ids.append(decode_stamp(frame).frame_id)
            times_ms.append(float(frame.pts * frame.time_base * 1000))
    return ids, np.asarray(times_ms)


async def test_frame_capture_and_recording_follow_the_session(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, 15.0)
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        async with open_session(client, ["passthrough"], source=source) as session:
            await session.wait_frames(5)
            frame = await http.get("/api/v1/session/frame", params={"quality": 50})
            base = f"/api/v1/recordings/{session.session_id}"
            switches = [(await http.post(f"{base}/start")).json()["status"],
                        (await http.post(f"{base}/start")).json()["status"]]
            while_recording = await http.get(base)
            await session.wait_frames(len(session.log) + 30)
            switches += [(await http.post(f"{base}/{step}")).json()["status"] for step in ("stop", "stop")]
            download = await http.get(base)
            again = await http.get(base)
            unknown_node = await http.post(f"{base}/start", params={"node_id": "rec"})
            session_id = session.session_id
        source.stop()
        after = await http.post(f"/api/v1/recordings/{session_id}/start")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(frame.content)).size == (512, 512)
    assert switches == ["started", "already_recording", "stopped", "not_recording"]
    assert while_recording.status_code == 404 and "stop it first" in while_recording.text
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    assert "recording-" in download.headers["content-disposition"]
    assert again.status_code == 404  # the file is deleted once sent
    assert unknown_node.status_code == 400  # the session's graph has no record node
    assert after.status_code == 404  # closed

    ids, times_ms = decode_mp4(download.content)
    sent = pd.DataFrame(sim.truth(session_id)["frames"])
    sent_ids = sent["input_stamp_id"].astype(int).tolist()
    assert len(ids) >= 30 and None not in ids, ids
    start = sent_ids.index(ids[0])
    assert ids == sent_ids[start:start + len(ids)], "the recording is not the run of frames the session sent"
    sent_ms = (sent["sent_ns"].to_numpy()[start:start + len(ids)] - sent["sent_ns"].iloc[start]) / 1e6
    assert np.abs(times_ms - times_ms[0] - sent_ms).max() <= 2.0  # the file counts whole milliseconds
