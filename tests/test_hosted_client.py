"""lab.hosted, lab.whip and ``lab doctor daydream:`` against the simulator's hosted API emulation.

The shared simulator runs at speed 100, so a stream's emulated start-up (20 s) takes 0.2 s.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lab.doctor import run_doctor
from lab.hosted import HostedClient, hosted_stream, offered_models
from lab.hosted_errors import (HostedKeyError, HostedModelError, HostedParamsError, HostedRateLimitError,
                               HostedServerError, MissingPlaybackUrlError, WhepNotReadyError, WhipAnswerError)
from lab.redact import redact
from lab.sim.hosted.config import SIM_API_KEY
from lab.sources import make_source
from lab.target import DAYDREAM_API_URL, Target
from lab.whip import PLAYBACK_HEADER, play, publish

PARAMS = {"model_id": "stabilityai/sd-turbo", "prompt": "a cat"}


@pytest.fixture
async def hosted(sim: Any) -> AsyncIterator[HostedClient]:
    async with HostedClient(f"daydream:{sim.url}", api_key=SIM_API_KEY, max_wait_s=0.05) as client:
        yield client


def _fault(sim: Any, **fault: Any) -> None:
    httpx.post(f"{sim.url}/sim/hosted/faults", json=fault).raise_for_status()


def _streams(sim: Any) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sim.url}/sim/hosted").json()["streams"])


def test_targets() -> None:
    assert Target.parse("daydream:") == Target("daydream", "daydream:", DAYDREAM_API_URL)
    assert Target.parse("daydream:sim").url is None and Target.parse("daydream:sim").is_loopback
    assert Target.parse("daydream:http://127.0.0.1:9/").url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="after 'daydream:'"):
        Target.parse("daydream:somewhere")


def test_daydream_keys_are_redacted() -> None:
    assert SIM_API_KEY not in redact(f"key {SIM_API_KEY} failed")
    assert redact({"api_key": "x", "note": f"Bearer {SIM_API_KEY}"}) == {"api_key": "<redacted>", "note": "<redacted>"}


def test_a_whip_urls_stream_key_is_redacted() -> None:
    # a WHIP failure names its URL, and the key in it lets anyone publish to the stream
    url = "https://ai.livepeer.com/live/video-to-video/stk_Q3bz9XkLm2/whip"
    assert redact(f"WHIP offer to {url} failed: 503") == \
        "WHIP offer to https://ai.livepeer.com/live/video-to-video/<redacted>/whip failed: 503"
    assert redact({"stream_key": "stk_Q3bz9XkLm2", "whip_url": url})["stream_key"] == "<redacted>"


def test_the_sdk_makes_no_network_call_on_import() -> None:
    code = ("import socket\n"
            "def refuse(*a, **k): raise AssertionError('network call')\n"
            "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
            "from lab.hosted import offered_models; import daydream\n"
            "daydream.Daydream(bearer='x', server_url='http://127.0.0.1:9')\n"
            "print(len(offered_models()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAYDREAM_API_KEY", raising=False)
    with pytest.raises(HostedKeyError, match="DAYDREAM_API_KEY is not set") as caught:
        HostedClient("daydream:sim")
    assert caught.value.reason == "missing"


async def test_invalid_key_is_refused_and_never_shown(sim: Any) -> None:
    wrong = "sk_wrong_key_for_this_test_123456"
    async with HostedClient(f"daydream:{sim.url}", api_key=wrong) as client:
        with pytest.raises(HostedKeyError, match="refused the API key") as caught:
            await client.list_streams()
    assert caught.value.reason == "rejected" and wrong not in str(caught.value)


async def test_stream_round_trip(hosted: HostedClient, sim: Any) -> None:
    async with hosted_stream(hosted, PARAMS) as stream:
        assert (await hosted.get_stream(stream.id)).whip_url == stream.whip_url
        updated = await hosted.update_stream(stream.id, {"model_id": "stabilityai/sd-turbo", "prompt": "a dog"})
        assert updated.params.prompt == "a dog"
        assert (await hosted.status(stream.id)).state == "OFFLINE"
    assert [s["deleted"] for s in _streams(sim)] == [True]


async def test_unknown_model_and_rejected_params(hosted: HostedClient, sim: Any) -> None:
    with pytest.raises(HostedModelError, match="It offers: stabilityai/sd-turbo") as model:
        await hosted.create_stream({"model_id": "acme/nope"})
    assert model.value.offered == offered_models()
    with pytest.raises(HostedParamsError, match="refused by the SDK") as sdk:  # caught before sending
        await hosted.create_stream({**PARAMS, "guidance_scale": "high"})
    assert sdk.value.problems == ["params.guidance_scale: Input should be a valid number, unable to parse "
                                  "string as a number"]
    with pytest.raises(HostedParamsError, match="refused by the API") as api:  # the SDK has no range for delta
        await hosted.create_stream({**PARAMS, "delta": 3, "width": 4})
    assert [p.split(":")[0] for p in api.value.problems] == ["params.delta", "params.width"]
    assert _streams(sim) == []


async def test_429_is_waited_out_then_given_up(hosted: HostedClient, sim: Any) -> None:
    _fault(sim, kind="rate_limited", retry_after_s=0, count=2)
    assert await hosted.list_streams() == []  # two 429s, then the answer
    _fault(sim, kind="rate_limited", retry_after_s=3, count=4)
    with pytest.raises(HostedRateLimitError) as caught:
        await hosted.list_streams()
    assert caught.value.retry_after_s == 3


async def test_a_create_is_not_repeated_on_5xx(hosted: HostedClient, sim: Any) -> None:
    _fault(sim, kind="server_error", status=503)
    with pytest.raises(HostedServerError, match="HTTP 503") as caught:
        await hosted.create_stream(PARAMS)
    assert caught.value.status_code == 503
    assert await hosted.list_streams() == []  # the fault was used once, and no stream was made


async def test_deleted_after_a_failure_and_a_cancellation(hosted: HostedClient, sim: Any) -> None:
    with pytest.raises(RuntimeError):
        async with hosted_stream(hosted, PARAMS):
            raise RuntimeError("the measurement failed")
    entered = asyncio.Event()

    async def measure_forever() -> None:
        async with hosted_stream(hosted, PARAMS):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(measure_forever())
    await entered.wait()
    task.cancel()  # what Ctrl-C does to the main task under asyncio.run
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [s["deleted"] for s in _streams(sim)] == [True, True]


async def test_whip_and_whep_carry_the_stream(hosted: HostedClient, sim: Any) -> None:
    source = make_source("stamped", width=256, height=256, fps=30)
    try:
        async with hosted_stream(hosted, PARAMS) as stream:
            ingest = await publish(stream.whip_url, source, http=hosted.http)
            await ingest.wait_connected()
            output = await play(ingest.header(PLAYBACK_HEADER), http=hosted.http, wait_s=10, retry_every_s=0.1)
            with pytest.raises(MissingPlaybackUrlError):  # a WHEP answer names no playback URL
                output.header(PLAYBACK_HEADER)
            track = await output.track()
            received = [await asyncio.wait_for(track.recv(), 10) for _ in range(10)]
            status = await hosted.status(stream.id)
            truth = httpx.get(f"{sim.url}/sim/hosted/streams/{stream.id}/truth").json()
            await output.close(hosted.http)
            await ingest.close(hosted.http)
    finally:
        source.stop()
    assert len(received) == 10 and received[0].width == 512  # sd-turbo's output size, not the input's
    assert status.ready and status.input_fps and status.ingest_loss_pct == 0.0
    assert truth["frames_in"] > 0 and len(truth["frames"]["pts"]) >= 10  # the simulator sent what we got


async def test_never_ready_and_late_whep(hosted: HostedClient, sim: Any) -> None:
    source = make_source("pattern", width=128, height=128, fps=15)
    try:
        for expect_ready in (False, True):
            _fault(sim, **({"kind": "late_whep", "delay_s": 1.0} if expect_ready else {"kind": "never_ready"}))
            async with hosted_stream(hosted, PARAMS) as stream:
                ingest = await publish(stream.whip_url, source, http=hosted.http)
                whep = ingest.header(PLAYBACK_HEADER)
                if not expect_ready:
                    with pytest.raises(WhepNotReadyError):
                        await play(whep, http=hosted.http, wait_s=0.5, retry_every_s=0.1)
                    assert (await hosted.status(stream.id)).state == "LOADING"
                else:
                    await asyncio.sleep(0.3)  # past start-up (0.2 s): ONLINE, but WHEP still 404
                    assert (await hosted.status(stream.id)).ready
                    with pytest.raises(WhepNotReadyError):
                        await play(whep, http=hosted.http, wait_s=0.2, retry_every_s=0.1)
                    output = await play(whep, http=hosted.http, wait_s=5, retry_every_s=0.1)
                    await output.close(hosted.http)
                await ingest.close(hosted.http)
    finally:
        source.stop()


async def test_a_whip_answer_that_is_not_sdp() -> None:
    def json_answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"ok": True})

    source = make_source("pattern", width=64, height=64, fps=5)
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(json_answer)) as http:
            with pytest.raises(WhipAnswerError, match="not an SDP answer"):
                await publish("http://127.0.0.1:9/whip", source, http=http)
    finally:
        source.stop()


async def test_doctor(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAYDREAM_API_KEY", SIM_API_KEY)
    report = await run_doctor(f"daydream:{sim.url}")
    assert report.simulated and report.exit_code == 0, report.text()
    assert [c.name for c in report.checks] == ["target", "api key", "api", "models", "whip"]
    assert SIM_API_KEY not in report.text() and [s["deleted"] for s in _streams(sim)] == [True]
    monkeypatch.setenv("DAYDREAM_API_KEY", "sk_wrong_key_for_the_doctor_0000")
    refused = await run_doctor(f"daydream:{sim.url}", stream=False)
    assert refused.exit_code == 2 and refused.checks[-1].name == "api"
    assert "sk_wrong_key_for_the_doctor_0000" not in refused.text()
