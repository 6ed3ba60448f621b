"""The simulator's WebRTC media path, end to end over loopback with real aiortc.

The simulator runs in its own process (the ``sim`` fixture); the workbench's ``lab.rtc``
client talks to it. Expected numbers come from the pipeline profiles, so a profile change
moves the expectations with it; the ground truth (``/sim/sessions/{id}/truth``) says what
the simulator really did.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

from lab.client import ScopeClient
from lab.errors import ConnectionFailedError, ServerError, StreamStalledError, StreamStoppedError
from lab.loopback import LOOPBACK_ADDRESS, restrict_to_loopback, sdp_candidate_addresses
from lab.stamp import decode_stamp, stamp_frame
from lab.rtc import ReceivedFrame, RtcSession, open_session
from lab.sim import SimConfig, create_app, parse_fault_spec
from lab.sim.profiles import PipelineProfile, load_profiles
from lab.sources import StampedSource, TestPatternSource
from tests.conftest import SimControl
from tests.truth.accuracy import sent_frame_arrivals

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

PROFILES = {profile.id: profile for profile in load_profiles().pipelines}
MS = 1e6  # ns per ms


# --- helpers ------------------------------------------------------------------------------


async def sim_get(sim: SimControl, path: str) -> Any:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        response = await http.get(path)
        response.raise_for_status()
        return response.json()


async def truth(sim: SimControl, session_id: str | None) -> dict[str, Any]:
    return await sim_get(sim, f"/sim/sessions/{session_id}/truth")


async def load(client: ScopeClient, sim: SimControl, pipeline: str, **load_params: Any) -> None:
    if PROFILES[pipeline].requires_models:
        sim.put("/sim/models", {pipeline: True})
    await client.load_pipeline(pipeline, load_params)


def rate_fps(times_ns: np.ndarray) -> float:
    """Frames per second over a run of frame times."""
    return (len(times_ns) - 1) / (float(times_ns.max() - times_ns.min()) / 1e9)


def delay_ms(pipeline: str) -> float:
    return PROFILES[pipeline].emulation.pipeline_delay_s * 1000


STAMPED_SIZE = 256
"""Side of the stamped input. At 512 x 512 and 30 fps, with two busy processes on a 2-core
machine, the simulator's encoder needs more than its share of the CPU: its output backs up
(its records show frames sent when aiortc asked, behind their time), which hides the timing
these tests look at. A quarter of the pixels keeps it on schedule."""


def stamped(
    client: ScopeClient, pipeline: str = "gray", fps: float = 30.0
) -> contextlib.AbstractAsyncContextManager[RtcSession]:
    """A video-to-video session fed ``STAMPED_SIZE`` x ``STAMPED_SIZE`` stamped frames."""
    return open_session(
        client, [pipeline], source=StampedSource(STAMPED_SIZE, STAMPED_SIZE, fps), connect_timeout_s=5
    )


async def wait_truth(
    sim: SimControl, session_id: str | None, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The session's truth once ``ready`` holds for it (the test's timeout bounds the wait)."""
    while not ready(record := await truth(sim, session_id)):
        await asyncio.sleep(0.2)
    return record


async def collect(session: RtcSession, seconds: float) -> list[ReceivedFrame]:
    """Frames received during the next ``seconds``."""
    frames: list[ReceivedFrame] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds), contextlib.aclosing(
            session.frames(stall_timeout_s=seconds + 1)
        ) as stream:
            async for frame in stream:
                frames.append(frame)
    return frames


async def first(session: RtcSession, count: int) -> list[ReceivedFrame]:
    """The next ``count`` frames."""
    frames: list[ReceivedFrame] = []
    async with contextlib.aclosing(session.frames(stall_timeout_s=5)) as stream:
        async for frame in stream:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def small(frame: ReceivedFrame) -> np.ndarray:
    """The frame's pixels at 64 x 64, as floats (cheap to keep and compare)."""
    return frame.frame.to_ndarray(format="rgb24", width=64, height=64).astype(np.float32)


def throughput_fps(profile: PipelineProfile, pixel_ratio: float) -> float:
    """Steady output rate the profile promises, VACE loaded (Scope's default), default steps."""
    emulation = profile.emulation
    chunk_s = emulation.chunk_compute_s * pixel_ratio + emulation.vace_overhead_s
    return emulation.frames_per_chunk / chunk_s


# --- signalling ---------------------------------------------------------------------------


async def test_offer_before_load_is_refused_like_scope(client: ScopeClient) -> None:
    with pytest.raises(ServerError) as info:
        async with open_session(client, ["passthrough"], source=TestPatternSource(64, 64, 30)):
            pass
    assert info.value.status_code == 400
    assert "Pipeline not loaded. Please load pipeline first." in str(info.value)


@contextlib.asynccontextmanager
async def browser_like_offer() -> AsyncIterator[str]:
    """An offer shaped like Scope's frontend's, with 127.0.0.1 candidates only.

    It has a data channel (any label), a sendrecv video m-line (VP8) and a recvonly audio
    m-line; its peer connection stays open meanwhile.
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: stay off the internet
    try:
        pc.createDataChannel("any-label")
        video = pc.addTransceiver("video", direction="sendrecv")
        codecs = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in codecs if c.mimeType == "video/VP8"])
        pc.addTransceiver("audio", direction="recvonly")
        restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
        yield pc.localDescription.sdp
    finally:
        await pc.close()


def only_loopback(sdp: str) -> bool:
    addresses = sdp_candidate_addresses(sdp)
    return bool(addresses) and set(addresses) == {LOOPBACK_ADDRESS}


async def test_answer_binds_video_and_offers_only_loopback(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "passthrough")
    async with browser_like_offer() as offer, httpx.AsyncClient(base_url=sim.url) as http:
        params = {"pipeline_ids": ["passthrough"]}
        body = {"sdp": offer, "type": "offer", "initialParameters": params}
        response = await http.post("/api/v1/webrtc/offer", json=body)
        await http.delete(f"/api/v1/webrtc/offer/{response.json()['sessionId']}")
    answer = response.json()
    assert (response.status_code, answer["type"], len(answer["sessionId"])) == (200, "answer", 36)
    assert only_loopback(offer) and only_loopback(answer["sdp"])
    video, audio = answer["sdp"].split("m=video")[1].split("m=audio")
    assert "a=sendrecv" in video and "a=inactive" in audio  # audio: accepted, no track
    assert "m=application" in answer["sdp"]  # the data channel, whatever its label


async def test_offer_validation_and_session_codes_follow_scope(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "passthrough")
    good = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "sdpMid": "0"}
    async with browser_like_offer() as offer, httpx.AsyncClient(base_url=sim.url) as http:

        async def offer_with(params: dict[str, Any]) -> httpx.Response:
            body = {"sdp": offer, "type": "offer", "initialParameters": params}
            return await http.post("/api/v1/webrtc/offer", json=body)

        async def patch(session_id: str, candidate: dict[str, Any]) -> int:
            path = f"/api/v1/webrtc/offer/{session_id}"
            return (await http.patch(path, json={"candidates": [candidate]})).status_code

        invalid = [{"input_mode": "audio"}, {"prompts": [{"text": "x", "weight": -1}]},
                   {"vace_context_scale": 3}]
        refused = [(await offer_with(params)).status_code for params in invalid]
        session_id = (await offer_with({"pipeline_ids": ["passthrough"]})).json()["sessionId"]
        codes = [
            await patch(session_id, good),
            await patch(session_id, {"candidate": "", "sdpMid": "0"}),  # end-of-candidates
            await patch("nope", good),
            (await http.delete(f"/api/v1/webrtc/offer/{session_id}")).status_code,
            (await http.delete("/api/v1/webrtc/offer/nope")).status_code,
            await patch(session_id, good),  # closed
        ]
    assert refused == [422, 422, 422]
    assert codes == [204, 404, 404, 204, 204, 404]


async def test_ice_fail_fault_never_connects(client: ScopeClient, sim: SimControl) -> None:
    await load(client, sim, "gray")
    sim.fault("ice_fail", count=1)
    started = time.perf_counter()
    with pytest.raises(ConnectionFailedError, match="did not connect within 2 s"):
        await RtcSession.open(client, ["gray"], source=TestPatternSource(64, 64, 30),
                              connect_timeout_s=2)
    assert 2 <= time.perf_counter() - started < 4
    [summary] = await sim_get(sim, "/sim/sessions")
    assert summary["faults"] == ["ice_fail"] and summary["frames_out"] == 0


async def test_sessions_without_pipelines_or_input_make_no_frames(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "passthrough")
    async with (
        open_session(client, [], source=TestPatternSource(128, 128, 30)) as no_pipeline,
        open_session(client, ["passthrough"], mode="text") as no_input,
    ):
        await asyncio.sleep(1.0)
        summaries = await sim_get(sim, "/sim/sessions")
    assert len(no_pipeline.log) == len(no_input.log) == 0
    assert [s["state"] for s in summaries] == ["connected", "connected"]
    assert [s["frames_out"] for s in summaries] == [0, 0]
    assert summaries[0]["frames_in"] > 0  # the input did arrive


# --- passthrough and gray -----------------------------------------------------------------


async def test_passthrough_returns_the_input_pixels_and_truth_maps_each_frame(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "passthrough")
    source = StampedSource(512, 512, 30)
    async with open_session(
        client, ["passthrough"], source=source, connect_timeout_s=5
    ) as session:
        frames = await first(session, 45)
        session_id = session.session_id
        descriptions = [session._pc.localDescription.sdp, session._pc.remoteDescription.sdp]
    record = await truth(sim, session_id)
    frame_ids = [decode_stamp(frame.frame).frame_id for frame in frames]
    assert None not in frame_ids and frame_ids == sorted(frame_ids)
    for frame, frame_id in list(zip(frames, frame_ids))[::9]:
        sent = stamp_frame(source.background.render(frame_id), frame_id).astype(np.float32)
        assert np.abs(frame.rgb().astype(np.float32) - sent).mean() < 8  # two VP8 passes
    assert all(only_loopback(sdp) for sdp in descriptions)  # the workbench's and the answer
    rows = record["frames"]
    assert set(rows["kind"]) == {"frame"}
    assert rows["input_stamp_id"][: len(frames)] == frame_ids  # every output frame's input
    assert rows["input_seq"] == sorted(rows["input_seq"])
    assert all(d > 0 for d in rows["internal_delay_ns"])
    # One clock for both processes: a frame's client latency (stamp sent to frame complete)
    # holds the simulator's internal delay and the transport both ways, so it is longer.
    sent_ns = {r.frame_id: r.sent_ns for r in source.records}
    latency_ns = np.array([f.complete_ns - sent_ns[i] for f, i in zip(frames, frame_ids)])
    internal_ns = np.array(rows["internal_delay_ns"][: len(frames)])
    assert np.all(latency_ns > internal_ns)
    assert np.median(latency_ns - internal_ns) < 400 * MS  # about 45 ms when idle


async def test_passthrough_delay_shows_chunks_of_four_and_input_pacing(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "passthrough")
    fps = 15.0
    async with stamped(client, "passthrough", fps) as session:
        await session.wait_frames(32)
        session_id = session.session_id
    rows = (await truth(sim, session_id))["frames"]
    internal_ms = np.array(rows["internal_delay_ns"][4:]) / MS
    # A chunk waits for its 4th frame (3 intervals after the 1st), and pacing to the input
    # timestamps holds every frame as long as the chunk's first one.
    expected_ms = 3 * 1000 / fps + delay_ms("passthrough")
    assert expected_ms - 20 < np.median(internal_ms) < expected_ms + 40
    # Unpaced, a chunk's frames would leave together, its 1st to 4th frame 3, 2, 1, 0 intervals
    # longer inside than the last; paced, each position in the chunk waits alike (within half
    # an interval: a busy machine jitters single frames, not a position in every chunk).
    chunks = np.array(rows["chunk_index"][4:])
    position = np.array([np.sum(chunks[:i] == chunk) for i, chunk in enumerate(chunks)])
    by_position = [np.median(internal_ms[position == k]) for k in range(4)]
    assert max(by_position) - min(by_position) < 0.5 * 1000 / fps, by_position
    gaps_ms = np.diff(rows["sent_ns"][4:]) / MS
    assert np.median(gaps_ms) == pytest.approx(1000 / fps, abs=6)
    assert np.mean(gaps_ms < 20) < 0.1  # no bursts of a chunk's 4 frames


async def test_gray_output_is_gray(client: ScopeClient, sim: SimControl) -> None:
    await load(client, sim, "gray")
    source = TestPatternSource(STAMPED_SIZE, STAMPED_SIZE, 30)
    assert np.abs(np.diff(source.render(0).astype(int), axis=2)).mean() > 20  # colour input
    async with open_session(client, ["gray"], source=source, connect_timeout_s=5) as session:
        frames = await first(session, 20)
        session_id = session.session_id
    for frame in frames[-3:]:
        pixels = frame.rgb().astype(int)
        assert np.abs(np.diff(pixels, axis=2)).mean() < 3
        assert pixels.std() > 30  # the pattern's structure is still there
    record = await truth(sim, session_id)
    chunks, rows = record["chunks"], record["frames"]
    assert set(chunks["frames"]) == {1}  # chunks of 1: no frame waits for the next
    done_ns = dict(zip(chunks["chunk_index"], chunks["done_ns"]))
    held_ms = np.array([sent - done_ns[c] for sent, c in zip(rows["sent_ns"], rows["chunk_index"])]) / MS
    # Never out before the pipeline's delay. Later frames keep their input timestamps' spacing
    # from the first (which a busy machine may delay), so the first is the one held exactly it.
    assert held_ms.min() >= delay_ms("gray")
    assert held_ms[0] < delay_ms("gray") + 1000 / 30


# --- generative ---------------------------------------------------------------------------


async def test_t2v_longlive_runs_at_the_profile_throughput_after_warmup(
    client: ScopeClient, sim: SimControl
) -> None:
    # 9/16 of the default 320 x 576 pixels keeps the test short; compute scales with pixels.
    await load(client, sim, "longlive", height=240, width=432)
    longlive = PROFILES["longlive"]
    expected_fps = throughput_fps(longlive, pixel_ratio=(240 * 432) / (320 * 576))
    window = 11  # the pacer's rate spans 10 inter-batch gaps; warm-up batches must leave it
    warmup = longlive.emulation.warmup_chunks
    prompts = [{"text": "a red fox"}]
    async with open_session(
        client, ["longlive"], parameters={"prompts": prompts}, connect_timeout_s=5
    ) as session:
        await wait_truth(sim, session.session_id, lambda r: len(r["chunks"]["chunk_index"]) >= warmup + window)
        frames = await collect(session, 2.0)
        received = session.log.to_dataframe()
        record = await truth(sim, session.session_id)
    chunks = record["chunks"]
    assert chunks["warmup"][:warmup + 1] == [True] * warmup + [False]
    compute = chunks["compute_s"]
    assert min(compute[:warmup]) > 1.2 * max(compute[warmup:])  # warm-up chunks are slower
    done_s = np.array(chunks["done_ns"][warmup:]) / 1e9
    frames_made = longlive.emulation.frames_per_chunk * (len(done_s) - 1)
    produced_fps = frames_made / (done_s[-1] - done_s[0])
    assert produced_fps == pytest.approx(expected_fps, rel=0.1)
    # The client gets what the simulator sent, at the rate it sent it (matched by timestamp): on
    # a busy machine its encoder may send slower than it makes frames, and its records say so.
    sent = pd.DataFrame(record["frames"])
    arrived = sent_frame_arrivals(received, sent)
    collected = arrived.between(frames[0].complete_ns, frames[-1].complete_ns).fillna(False).to_numpy(dtype=bool)
    assert collected.sum() == len(frames)
    client_fps = rate_fps(np.array([frame.complete_ns for frame in frames]))
    assert client_fps == pytest.approx(rate_fps(sent["sent_ns"][collected].to_numpy()), rel=0.1)


async def test_prompt_change_shows_at_a_chunk_boundary_and_reset_warms_up_again(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "streamdiffusionv2")
    pictures: dict[int, np.ndarray] = {}
    fox, whale = [{"text": "a red fox", "weight": 1.0}], [{"text": "a blue whale at night"}]
    async with open_session(
        client, ["streamdiffusionv2"], mode="text", parameters={"prompts": fox},
        connect_timeout_s=5,
    ) as session:
        session.on_frame(lambda frame: pictures.__setitem__(frame.pts, small(frame)))
        await session.wait_frames(30)
        sent_ns = await session.send({"prompts": whale})

        def whale_arrived(record: dict[str, Any]) -> bool:
            # Queued frames of the old prompt go first (a busy machine can queue many), and the
            # cache reset drops what is queued: reset only once a new frame has reached us.
            rows = record["frames"]
            new = [pts for pts, c in zip(rows["pts"], rows["chunk_index"])
                   if record["chunks"]["prompt"][c] == "a blue whale at night"]
            return bool(new) and any(abs(seen - new[0]) <= 2 for seen in list(pictures))

        await wait_truth(sim, session.session_id, whale_arrived)
        await session.send({"reset_cache": True})
        await session.wait_frames(len(session.log) + 8)
        record = await truth(sim, session.session_id)
    chunks, rows = record["chunks"], record["frames"]
    messages = zip(record["messages"]["received_ns"], record["messages"]["keys"])
    [reset_ns] = [t for t, keys in messages if keys == ["reset_cache"]]
    warmups = [w for t, w in zip(chunks["started_ns"], chunks["warmup"]) if t > reset_ns]
    assert chunks["warmup"][len(chunks["warmup"]) - len(warmups) - 1] is False
    assert warmups[0] is True  # the first chunk after a cache reset warms up again
    [changed] = [i for i, t in enumerate(chunks["update_received_ns"]) if t is not None]
    assert chunks["update_received_ns"][changed] > sent_ns
    assert chunks["prompt"][changed - 1: changed + 1] == ["a red fox", "a blue whale at night"]
    start = rows["chunk_index"].index(changed)
    # aiortc's VP8 packetizer may round a 90 kHz timestamp by one tick.
    nearest = {pts: min(pictures, key=lambda seen: abs(seen - pts)) for pts in rows["pts"]}
    assert all(abs(seen - pts) <= 2 for pts, seen in nearest.items() if pts < max(pictures))
    older, last_old, first_new = (pictures[nearest[p]] for p in rows["pts"][start - 2: start + 1])
    noise = np.abs(last_old - older).mean()  # consecutive frames of one prompt
    change = np.abs(first_new - last_old).mean()
    assert change > 5 * noise and change > 20


# --- control ------------------------------------------------------------------------------


async def test_pause_repeats_the_last_frame_and_resume_goes_on(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "gray")
    async with stamped(client) as session:
        await session.wait_frames(10)
        paused_ns = await session.send({"paused": True})
        paused = await collect(session, 1.0)
        resumed_ns = await session.send({"paused": False})
        await collect(session, 0.7)
        record = await truth(sim, session.session_id)
    rows = record["frames"]
    sent, kinds = np.array(rows["sent_ns"]), np.array(rows["kind"])
    during = kinds[(sent > paused_ns + 50 * MS) & (sent < resumed_ns)]
    # semantics, not rate (rates belong in benchmarks): only repeats while paused, and they arrive
    assert len(during) > 5 and set(during) == {"repeat"}
    assert len(paused) > 5
    assert set(kinds[sent > resumed_ns + 300 * MS]) == {"frame"}
    assert record["messages"]["keys"][-2:] == [["paused"], ["paused"]]


async def test_dead_after_unpause_fault_keeps_the_output_dead(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "gray")
    sim.fault("dead_after_unpause")
    async with stamped(client) as session:
        await session.wait_frames(5)
        await session.send({"paused": True})
        await asyncio.sleep(0.3)
        await session.send({"paused": False})
        await asyncio.sleep(0.2)
        with pytest.raises(StreamStalledError):
            async for _ in session.frames(stall_timeout_s=1.0):
                pass
        [summary] = await sim_get(sim, "/sim/sessions")
    assert summary["state"] == "connected" and summary["faults"] == ["dead_after_unpause"]


async def test_rest_parameters_and_metrics_report_the_session(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "gray")
    async with stamped(client) as session:
        await session.wait_frames(15)
        async with httpx.AsyncClient(base_url=sim.url) as http:
            update = {"prompts": [{"text": "dusk"}]}
            response = await http.post("/api/v1/session/parameters", json=update)
            current = (await http.get("/api/v1/session/parameters")).json()["parameters"]
        asked_ns = time.perf_counter_ns()
        metrics = await client.session_metrics()
        answered_ns = time.perf_counter_ns()
        await asyncio.sleep(0.3)
        messages = [message for _, message in session.messages]
        chunks = (await truth(sim, session.session_id))["chunks"]
    applied = {  # Scope's quirk: these two defaults always come along
        "prompts": [{"text": "dusk", "weight": 1.0}],
        "prompt_interpolation_method": "linear",
        "vace_context_scale": 1.0,
    }
    assert response.json() == {"status": "ok", "applied_parameters": applied}
    assert {"type": "parameters_updated", "parameters": applied} in messages
    assert current["pipeline_ids"] == ["gray"] and current["input_mode"] == "video"
    assert list(metrics.sessions) == [session.session_id] and metrics.gpu == {}
    entry = metrics.sessions[session.session_id]
    assert entry["frames_in"] >= entry["frames_out"] >= 15
    assert 0 < entry["fps_out"] <= entry["fps_in"]
    # The pacer's throughput when the server answered: frames over time of the last 10 batches
    # done by then. The simulator's records give it (not the input's 30 fps: a busy machine
    # makes it process fewer).
    done_ns, made = np.array(chunks["done_ns"]), np.array(chunks["frames"])
    last = [i for i in range(len(done_ns)) if done_ns[i] <= answered_ns and (i + 1 == len(done_ns)
                                                                          or done_ns[i + 1] > asked_ns)]
    rates = [made[i - 9:i + 1].sum() / ((done_ns[i] - done_ns[i - 10]) / 1e9) for i in last if i >= 10]
    assert rates and min(abs(entry["pipeline_fps"] - rate) for rate in rates) < 1e-6, (entry["pipeline_fps"], rates)


async def test_delete_closes_the_session(client: ScopeClient, sim: SimControl) -> None:
    await load(client, sim, "gray")
    async with stamped(client) as session:
        await session.wait_frames(5)
        await client.webrtc_close(session.session_id or "")
        [summary] = await sim_get(sim, "/sim/sessions")
        frames_out = summary["frames_out"]
        await asyncio.sleep(0.5)
        [later] = await sim_get(sim, "/sim/sessions")
        metrics = await client.session_metrics()
    assert summary["state"] == "closed" and later["frames_out"] == frames_out
    assert metrics.sessions == {}


async def test_extra_delay_shifts_the_internal_delay(client: ScopeClient, sim: SimControl) -> None:
    await load(client, sim, "gray")
    extra_s = 0.15
    async with stamped(client) as session:
        await session.wait_frames(20)
        async with httpx.AsyncClient(base_url=sim.url) as http:
            changed_ns = time.perf_counter_ns()
            (await http.put("/sim/media", json={"extra_delay_s": extra_s})).raise_for_status()
        await collect(session, 1.0 + extra_s)
        record = await truth(sim, session.session_id)
    sent = np.array(record["frames"]["sent_ns"])
    internal_ms = np.array(record["frames"]["internal_delay_ns"]) / MS
    before = np.median(internal_ms[5:][sent[5:] < changed_ns])
    after = np.median(internal_ms[sent > changed_ns + (extra_s + 0.3) * 1e9])
    assert after - before == pytest.approx(extra_s * 1000, abs=8)
    gaps_ms = np.diff(sent[sent > changed_ns + (extra_s + 0.3) * 1e9]) / MS
    assert np.median(gaps_ms) == pytest.approx(1000 / 30, abs=5)  # same cadence


# --- faults -------------------------------------------------------------------------------


def test_media_faults_parse_from_cli_specs() -> None:
    stall = parse_fault_spec("stall:after_s=1.5,duration_s=3,count=2")
    stopped = parse_fault_spec("stream_stopped:message=boom")
    assert (stall.kind, stall.after_s, stall.duration_s, stall.count) == ("stall", 1.5, 3.0, 2)
    assert (stopped.after_s, stopped.message) == (1.0, "boom")
    with pytest.raises(ValueError, match="dead_after_unpause, ice_fail"):
        parse_fault_spec("stall:duration_s=0")


async def test_stream_stopped_fault_raises_with_the_message(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "gray")
    sim.fault("stream_stopped", after_s=0.5, message="GPU fell off the bus")
    async with stamped(client) as session:
        with pytest.raises(StreamStoppedError, match="GPU fell off the bus") as info:
            async for _ in session.frames(stall_timeout_s=3):
                pass
        [summary] = await sim_get(sim, "/sim/sessions")
        sent_s = np.array((await truth(sim, session.session_id))["frames"]["sent_ns"]) / 1e9
    assert info.value.server_message == "GPU fell off the bus"
    assert summary["state"] == "stopped" and summary["frames_out"] == len(sent_s) > 1
    # It stopped 0.5 s after the first frame: the last one went within one of the stream's own
    # frame gaps (long ones on a busy machine) of that moment.
    assert abs(sent_s[-1] - sent_s[0] - 0.5) <= np.diff(sent_s).max()


async def test_stall_fault_leaves_one_gap_of_its_length(
    client: ScopeClient, sim: SimControl
) -> None:
    await load(client, sim, "gray")
    stall_s = 1.0
    sim.fault("stall", after_s=0.5, duration_s=stall_s)
    async with stamped(client) as session:
        await asyncio.sleep(0.5)
        await collect(session, stall_s + 1.0)
        record = await truth(sim, session.session_id)
        arrivals = session.log.to_dataframe()["complete_ns"].to_numpy()
    sim_gaps_s = np.diff(record["frames"]["sent_ns"]) / 1e9
    client_gaps_s = np.diff(arrivals) / 1e9
    # A busy machine can add long gaps of its own to the simulator's sends: its records have
    # them, and the client must see exactly the long gaps the simulator left, the stall the longest.
    assert np.sum(client_gaps_s > stall_s / 2) == np.sum(sim_gaps_s > stall_s / 2) >= 1
    for gaps in (sim_gaps_s, client_gaps_s):
        assert stall_s - 0.05 < gaps.max() < stall_s + 0.25


# --- in process: clean shutdown -----------------------------------------------------------


async def test_sessions_and_app_shutdown_leave_no_tasks() -> None:
    app = create_app(SimConfig(speed=100))
    baseline = asyncio.all_tasks()
    transport = httpx.ASGITransport(app=app)
    async with ScopeClient("http://127.0.0.1:9", transport=transport) as client:
        async with app.router.lifespan_context(app):
            await client.load_pipeline("gray")
            session = await RtcSession.open(
                client, ["gray"], source=TestPatternSource(128, 128, 30), connect_timeout_s=5
            )
            await session.wait_frames(5)
            [served] = app.state.sim.media.active()
        # The app has shut down with the session still open: it must have closed it.
        assert served.status == "closed" and served.pc.connectionState == "closed"
        assert app.state.sim.media.active() == []
        await session.close()
    await asyncio.sleep(0.1)
    assert asyncio.all_tasks() - baseline == set()
