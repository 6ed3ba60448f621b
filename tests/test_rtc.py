"""The workbench's WebRTC client against the simulator in its own process, over loopback."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from lab.client import ScopeClient
from lab.errors import ConnectionFailedError, StreamStalledError
from lab.loopback import sdp_candidate_addresses
from lab.measure.latency import stamp_accounting
from lab.stamp import decode_stamp
from lab.rtc import ReceivedFrame, open_session
from lab.sources import StampedSource
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

FPS = 15.0


async def test_passthrough_round_trip_keeps_every_stamp_in_order(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, FPS)
    ids: list[int | None] = []
    async with open_session(client, ["passthrough"], source=source) as session:
        session.on_frame(lambda f: ids.append(decode_stamp(f.frame).frame_id))
        await asyncio.sleep(10.0)
        offer, answer = session._pc.localDescription.sdp, session._pc.remoteDescription.sdp
        timeline = session.timeline
        session_id = session.session_id
    source.stop()
    accounting = stamp_accounting(pd.Series(pd.array(ids, dtype="Int64")))
    assert (accounting.unreadable, accounting.reordered, accounting.repeated) == (0, 0, 0)
    # Like Scope, the simulator samples a chunk from its input queue and drops the rest when it
    # falls behind (a busy machine): its records say which ids it sent. Every one came back, in order.
    sent_back = [int(i) for i in sim.truth(session_id)["frames"]["input_stamp_id"]]
    assert ids == sent_back[: len(ids)], "the ids read back differ from the ids the simulator sent"
    assert len(sent_back) - len(ids) <= FPS  # at most the last second's frames were still on the way at close
    assert len(ids) >= FPS * 5  # and the stream ran
    # nothing leaves loopback: every candidate on both sides is 127.0.0.1
    assert set(sdp_candidate_addresses(offer)) == {"127.0.0.1"} == set(sdp_candidate_addresses(answer))
    assert timeline.offer_sent_ns < timeline.answer_received_ns < timeline.connected_ns < timeline.first_frame_ns  # type: ignore[operator]


async def test_arrival_is_the_last_packet_and_the_jitter_buffer_bias_is_one_frame(client: ScopeClient) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, FPS)
    async with open_session(client, ["passthrough"], source=source) as session:
        await session.wait_frames(60)
        frames = session.log.to_dataframe()
        stats = await session.inbound_stats()
    source.stop()
    assert stats["packets_received"] > 60 and stats["frames_received"] >= 60 and "jitter" in stats
    steady = frames.iloc[10:]
    assert (steady["first_packet_ns"] <= steady["complete_ns"]).all()
    assert (steady["complete_ns"] <= steady["decoded_ns"]).all()
    # aiortc hands a frame over when the next one starts arriving: about one interval later
    bias_ms = float(np.median(steady["receive_bias_ms"]))
    assert 0.6 * 1000 / FPS < bias_ms < 1.4 * 1000 / FPS


async def test_frames_iterator_reports_a_dead_output(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    sim.fault("stall", after_s=1.0, duration_s=4.0)
    source = StampedSource(512, 512, FPS)
    received: list[ReceivedFrame] = []
    async with open_session(client, ["passthrough"], source=source) as session:
        with pytest.raises(StreamStalledError, match="No output frame arrived") as info:
            async for frame in session.frames(stall_timeout_s=1.5):
                received.append(frame)
    source.stop()
    assert info.value.frames == len(received) > 0  # what arrived before the stall is kept


async def test_close_is_idempotent_and_reaches_the_server(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, FPS)
    async with open_session(client, ["passthrough"], source=source) as session:
        await session.wait_frames(5)
        session_id = session.session_id
    await session.close()
    source.stop()
    async with httpx.AsyncClient(base_url=sim.url) as http:
        sessions = (await http.get("/sim/sessions")).json()
    assert next(s["state"] for s in sessions if s["session_id"] == session_id) == "closed"
    with pytest.raises(RuntimeError, match="closed"):
        await session.send({"prompts": []})


async def test_ice_failure_explains_turn_for_remote_pods(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    sim.fault("ice_fail")
    source = StampedSource(512, 512, FPS)
    with pytest.raises(ConnectionFailedError, match="did not connect within 3 s") as info:
        await open_session(client, ["passthrough"], source=source, connect_timeout_s=3).__aenter__()
    source.stop()
    assert "127.0.0.1" in str(info.value)  # loopback wording
    remote = ConnectionFailedError(url="https://x-8000.proxy.runpod.net", session_id="s", state="failed",
                                   timeout_s=20, has_turn=False, loopback=False)
    assert "HF_TOKEN" in str(remote) and "no TURN relay" in str(remote)


async def test_cancelling_a_streaming_task_closes_the_session(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    source = StampedSource(512, 512, FPS)
    opened: list[str | None] = []

    async def stream_forever() -> None:
        async with open_session(client, ["passthrough"], source=source) as session:
            opened.append(session.session_id)
            async for _ in session.frames():
                pass

    task = asyncio.create_task(stream_forever())
    while not opened:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    task.cancel()  # what Ctrl-C / "interrupt kernel" does to a running cell
    with pytest.raises(asyncio.CancelledError):
        await task
    source.stop()
    async with httpx.AsyncClient(base_url=sim.url) as http:
        listed = (await http.get("/sim/sessions")).json()
    assert next(s["state"] for s in listed if s["session_id"] == opened[0]) == "closed"
