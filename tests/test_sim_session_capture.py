"""Frame capture and recording switches of a live WebRTC session on the simulator."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from lab.client import ScopeClient
from lab.rtc import open_session
from lab.sources import StampedSource
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time


async def test_frame_capture_and_recording_switches_follow_the_session(
    client: ScopeClient, sim: SimControl
) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, 15.0)
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        async with open_session(client, ["passthrough"], source=source) as session:
            await session.wait_frames(5)
            frame = await http.get("/api/v1/session/frame", params={"quality": 50})
            base = f"/api/v1/recordings/{session.session_id}"
            switches = [(await http.post(f"{base}/{step}")).json()["status"]
                        for step in ("start", "start", "stop", "stop")]
            download = await http.get(base)
            unknown_node = await http.post(f"{base}/start", params={"node_id": "rec"})
            session_id = session.session_id
        source.stop()
        after = await http.post(f"/api/v1/recordings/{session_id}/start")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(frame.content)).size == (512, 512)
    assert switches == ["started", "already_recording", "stopped", "not_recording"]
    assert download.status_code == 404  # the simulator encodes no recording files
    assert unknown_node.status_code == 400  # the session's graph has no record node
    assert after.status_code == 404  # closed
