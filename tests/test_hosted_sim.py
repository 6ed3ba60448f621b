"""The simulator's emulation of Daydream's hosted API over HTTP (in process, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from lab.sim import SimConfig, in_process_client
from lab.sim.hosted.config import SIM_API_KEY, HostedConfig, HostedFault
from lab.sim.hosted.params import MODELS

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}
BODY = {"pipeline": "streamdiffusion", "params": {"model_id": "stabilityai/sd-turbo", "prompt": "a cat"}}


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(SimConfig(hosted=HostedConfig(startup_s=0))) as http:
        yield http


async def test_key_checks(api: httpx.AsyncClient) -> None:
    missing = await api.get("/v1/streams")
    wrong = await api.get("/v1/streams", headers={"Authorization": "Bearer sk_not_the_right_key_000"})
    right = await api.get("/v1/streams", headers=AUTH)
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["success"] is False and "Missing API key" in missing.json()["error"]
    assert wrong.json()["error"] == "Invalid API key" and wrong.json()["status"] == 401
    assert right.json() == {"success": True, "data": []}


async def test_create_follows_the_sdk_fields(api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/streams", json=BODY, headers=AUTH)
    assert created.status_code == 201
    stream = created.json()
    # every required field of daydream-sdk 0.1.0's CreateStreamResponse
    assert {"id", "pipeline", "params", "stream_key", "created_at", "output_playback_id", "name", "author",
            "from_playground", "gateway_host", "is_smoke_test", "whip_url"} <= set(stream)
    assert stream["whip_url"].endswith(f"/live/video-to-video/{stream['stream_key']}/whip")
    assert (await api.get(f"/v1/streams/{stream['id']}", headers=AUTH)).json()["id"] == stream["id"]


async def test_rejected_params_are_listed_field_by_field(api: httpx.AsyncClient) -> None:
    body = {"pipeline": "streamdiffusion",
            "params": {"model_id": "acme/nope", "delta": 3, "guidance_scale": "high", "colour": 1}}
    refused = await api.post("/v1/streams", json=body, headers=AUTH)
    assert refused.status_code == 400
    paths = {problem["path"] for problem in refused.json()["details"]}
    assert paths == {"params.model_id", "params.delta", "params.guidance_scale", "params.colour"}
    assert all(model in refused.json()["error"] for model in MODELS)


async def test_patch_changes_only_the_params_sent(api: httpx.AsyncClient) -> None:
    stream = (await api.post("/v1/streams", json=BODY, headers=AUTH)).json()
    patched = await api.patch(f"/v1/streams/{stream['id']}", headers=AUTH,
                              json={"pipeline": "streamdiffusion", "params": {"prompt": "a dog"}})
    assert patched.json()["params"] == {"model_id": "stabilityai/sd-turbo", "prompt": "a dog"}


@pytest.mark.parametrize("how", ["query", "path"])
async def test_delete_in_both_forms(api: httpx.AsyncClient, how: str) -> None:
    stream = (await api.post("/v1/streams", json=BODY, headers=AUTH)).json()
    if how == "query":  # the SDK's DELETE /v1/streams?id=
        deleted = await api.delete("/v1/streams", params={"id": stream["id"]}, headers=AUTH)
    else:
        deleted = await api.delete(f"/v1/streams/{stream['id']}", headers=AUTH)
    assert deleted.json() == {"success": True, "data": {}}
    assert (await api.get(f"/v1/streams/{stream['id']}", headers=AUTH)).status_code == 404


async def test_status_before_ingest(api: httpx.AsyncClient) -> None:
    stream = (await api.post("/v1/streams", json=BODY, headers=AUTH)).json()
    data = (await api.get(f"/v1/streams/{stream['id']}/status", headers=AUTH)).json()["data"]
    assert data["state"] == "OFFLINE" and data["gateway_status"]["whep_url"] is None
    assert data["inference_status"]["restart_count"] == 0 and data["input_status"]["fps"] == 0


async def test_rest_faults(api: httpx.AsyncClient) -> None:
    for fault in (HostedFault(kind="unauthorized"), HostedFault(kind="rate_limited", retry_after_s=7),
                  HostedFault(kind="server_error", status=502)):
        (await api.post("/sim/hosted/faults", json=fault.model_dump())).raise_for_status()
    answers = [await api.get("/v1/streams", headers=AUTH) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 429, 502, 200]
    assert answers[1].headers["retry-after"] == "7"


async def test_hosted_routes_stay_out_of_scopes_openapi(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/v1/", "/live/", "/sim/hosted"))]
