"""The simulator's other HTTP routes: assets, misc Scope routes, HTTP faults, /sim/ control."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from lab.sim import Fault, SimConfig, in_process_client, parse_fault_spec

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = SimConfig(speed=1000, assets_dir=tmp_path / "assets")
    async with in_process_client(config) as client:
        yield client


async def upload(client: httpx.AsyncClient, filename: str, data: bytes = PNG) -> httpx.Response:
    return await client.post(
        "/api/v1/assets",
        params={"filename": filename},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )


# --- Scope routes -------------------------------------------------------------------------


async def test_root_and_unknown_paths_answer_like_scope_without_frontend(
    sim: httpx.AsyncClient,
) -> None:
    assert (await sim.get("/")).json() == {"message": "Scope API - Frontend not built"}
    for path in ("/index.html", "/api/v1/nope", "/api/v1/pipeline/load"):
        response = await sim.get(path)
        assert (response.status_code, response.json()) == (404, {"detail": "Frontend not built"})
    assert (await sim.get("/docs")).status_code == 200


async def test_openapi_is_titled_scope_and_tags_the_control_api(sim: httpx.AsyncClient) -> None:
    spec = (await sim.get("/openapi.json")).json()
    assert (spec["info"]["title"], spec["info"]["version"]) == ("Scope", "0.2.4")
    for path, operations in spec["paths"].items():
        tags = {tag for op in operations.values() for tag in op.get("tags", [])}
        assert (tags == {"simulator"}) == path.startswith("/sim/"), path


async def test_loras_keys_and_cors(tmp_path: Path) -> None:
    config = SimConfig(huggingface_token_set=True, assets_dir=tmp_path)
    async with in_process_client(config) as sim:
        assert (await sim.get("/api/v1/loras")).json() == {"lora_files": []}
        keys = {k["id"]: k for k in (await sim.get("/api/v1/keys")).json()["keys"]}
        response = await sim.get("/health", headers={"origin": "http://localhost:8888"})
    assert set(keys) == {"huggingface", "civitai"}
    assert (keys["huggingface"]["is_set"], keys["huggingface"]["source"]) == (True, "env_var")
    assert (keys["civitai"]["is_set"], keys["civitai"]["env_var"]) == (False, "CIVITAI_API_TOKEN")
    assert response.headers["access-control-allow-origin"] == "http://localhost:8888"


# --- assets -------------------------------------------------------------------------------


async def test_upload_list_and_serve_an_asset(sim: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await upload(sim, "refs/face.png")
    assert response.status_code == 200
    info = response.json()
    assert list(info) == ["name", "path", "size_mb", "folder", "type", "created_at"]
    path = Path(info["path"])
    assert path.is_absolute() and path == (tmp_path / "assets" / "refs" / "face.png").resolve()
    assert path.read_bytes() == PNG
    assert (info["name"], info["folder"], info["type"]) == ("face", "refs", "image")
    assert info["size_mb"] == 0.0  # 72 bytes, rounded to 2 decimals
    listed = (await sim.get("/api/v1/assets")).json()["assets"]
    assert listed == [info]
    served = await sim.get("/api/v1/assets/refs/face.png")
    assert (served.content, served.headers["content-type"]) == (PNG, "image/png")


async def test_assets_are_listed_newest_first_and_filtered_by_type(sim: httpx.AsyncClient) -> None:
    await upload(sim, "a.png")
    await asyncio.sleep(0.02)
    await upload(sim, "clip.mp4", b"\x00" * 2_000_000)
    await asyncio.sleep(0.02)
    await upload(sim, "beep.wav")
    names = [a["name"] for a in (await sim.get("/api/v1/assets")).json()["assets"]]
    assert names == ["beep", "clip", "a"]
    videos = (await sim.get("/api/v1/assets", params={"type": "video"})).json()["assets"]
    assert [(v["name"], v["size_mb"], v["folder"]) for v in videos] == [("clip", 1.91, None)]
    audio = await sim.get("/api/v1/assets/beep.wav")
    assert audio.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("../escape.png", id="parent"),
        pytest.param("refs/../../escape.png", id="nested-parent"),
        pytest.param("/etc/escape.png", id="absolute"),
        pytest.param("notes.txt", id="extension"),
        pytest.param("noextension", id="no-extension"),
    ],
)
async def test_invalid_upload_names_are_400(
    sim: httpx.AsyncClient, tmp_path: Path, filename: str
) -> None:
    response = await upload(sim, filename)
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid filename"})
    assert not (tmp_path / "escape.png").exists()


async def test_serving_outside_the_asset_directory_is_403_and_missing_is_404(
    sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "secret.png").write_bytes(PNG)
    assert (await sim.get("/api/v1/assets/..%2Fsecret.png")).status_code == 403
    assert (await sim.get("/api/v1/assets/nope.png")).status_code == 404


async def test_default_asset_directory_is_temporary() -> None:
    async with in_process_client(SimConfig()) as sim:
        path = Path((await upload(sim, "x.png")).json()["path"])
        assert path.exists()
    assert not path.parent.exists()


# --- HTTP faults --------------------------------------------------------------------------


async def add_fault(client: httpx.AsyncClient, **fault: Any) -> list[dict[str, Any]]:
    response = await client.post("/sim/faults", json=fault)
    assert response.status_code == 200, response.text
    return response.json()


async def test_http_error_fault_answers_a_detail_then_expires(sim: httpx.AsyncClient) -> None:
    active = await add_fault(sim, kind="http_error", status=503, count=2, message="warming up")
    assert active[0]["count"] == 2
    for _ in range(2):
        response = await sim.get("/api/v1/hardware/info")
        assert (response.status_code, response.json()) == (503, {"detail": "warming up"})
    assert (await sim.get("/api/v1/hardware/info")).status_code == 200
    assert (await sim.get("/sim/state")).json()["faults"] == []


async def test_http_error_fault_defaults(sim: httpx.AsyncClient) -> None:
    await add_fault(sim, kind="http_error")
    response = await sim.get("/health")
    assert (response.status_code, response.json()) == (500, {"detail": "Simulated server error"})


async def test_html_fault_answers_a_proxy_error_page(sim: httpx.AsyncClient) -> None:
    await add_fault(sim, kind="html")
    response = await sim.get("/api/v1/pipelines/schemas")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in response.text and "RunPod" in response.text


async def test_slow_fault_delays_then_answers(sim: httpx.AsyncClient) -> None:
    await add_fault(sim, kind="slow", delay_s=0.2, count=1, paths=["/health"])
    started = time.perf_counter()
    response = await sim.get("/health")
    assert time.perf_counter() - started >= 0.2
    assert response.status_code == 200 and response.json()["status"] == "healthy"
    started = time.perf_counter()
    await sim.get("/health")
    assert time.perf_counter() - started < 0.2


async def test_faults_apply_only_to_their_paths_and_never_to_sim(sim: httpx.AsyncClient) -> None:
    await add_fault(sim, kind="http_error", paths=["/api/v1/pipeline/"])
    await add_fault(sim, kind="html", paths=["/sim/"])
    assert (await sim.get("/api/v1/pipeline/status")).status_code == 500
    assert (await sim.get("/api/v1/pipelines/schemas")).status_code == 200
    state = await sim.get("/sim/state")
    assert state.status_code == 200 and len(state.json()["faults"]) == 2
    assert (await sim.delete("/sim/faults")).json() == []
    assert (await sim.get("/api/v1/pipeline/status")).status_code == 200


async def test_invalid_faults_are_422(sim: httpx.AsyncClient) -> None:
    assert (await sim.post("/sim/faults", json={"kind": "meteor"})).status_code == 422
    bad_stage = {"kind": "oom", "stage": "Loading VAE..."}
    assert (await sim.post("/sim/faults", json=bad_stage)).status_code == 422


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            "html", {"kind": "html", "status": 502, "count": None, "paths": None}, id="bare"
        ),
        pytest.param(
            "http_error:status=503,count=2,paths=/health|/api/v1/pipeline",
            {
                "kind": "http_error",
                "status": 503,
                "count": 2,
                "paths": ["/health", "/api/v1/pipeline"],
            },
            id="full",
        ),
        pytest.param(
            "slow:delay_s=0.5", {"kind": "slow", "delay_s": 0.5, "status": None}, id="slow"
        ),
        pytest.param(
            "load_error: stage=Loading VAE..., message=bad weights",
            {"kind": "load_error", "stage": "Loading VAE...", "message": "bad weights"},
            id="spaces",
        ),
        pytest.param(
            '{"kind": "http_error", "message": "a, b"}',
            {"kind": "http_error", "message": "a, b", "status": 500},
            id="json",
        ),
    ],
)
def test_parse_fault_spec(spec: str, expected: dict[str, Any]) -> None:
    fault = parse_fault_spec(spec)
    assert {key: getattr(fault, key) for key in expected} == expected


@pytest.mark.parametrize(
    "spec",
    ["meteor", "html:status", "html:colour=red", "oom:stage=Loading VAE...", "slow:delay_s=x", "{"],
)
def test_bad_fault_specs_explain_the_syntax(spec: str) -> None:
    with pytest.raises(ValueError, match=r"kind\[:key=value"):
        parse_fault_spec(spec)


# --- /sim/ control API --------------------------------------------------------------------


async def test_sim_state_shows_an_error_without_consuming_it(sim: httpx.AsyncClient) -> None:
    await sim.post("/api/v1/pipeline/load", json={"pipeline_ids": ["nope"]})
    await asyncio.sleep(0.05)
    for _ in range(2):
        assert (await sim.get("/sim/state")).json()["pipeline"]["status"] == "error"
    assert (await sim.get("/api/v1/pipeline/status")).json()["status"] == "error"
    assert (await sim.get("/api/v1/pipeline/status")).json()["status"] == "not_loaded"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        pytest.param({"no-such-pipeline": True}, 404, id="unknown"),
        pytest.param({"passthrough": False}, 400, id="modelless"),
    ],
)
async def test_sim_models_rejects_bad_changes(
    sim: httpx.AsyncClient, changes: dict[str, bool], code: int
) -> None:
    before = (await sim.get("/sim/state")).json()["models"]
    response = await sim.put("/sim/models", json={"longlive": True, **changes})
    assert response.status_code == code
    assert (await sim.get("/sim/state")).json()["models"] == before  # all or nothing


async def test_reset_returns_to_the_startup_config(sim: httpx.AsyncClient) -> None:
    startup = (await sim.get("/sim/state")).json()
    asset = Path((await upload(sim, "ref.png")).json()["path"])
    turn = [{"urls": ["turn:turn.example:3478"], "username": "u", "credential": "c"}]
    await sim.put("/sim/ice-servers", json=turn)
    assert (await sim.get("/api/v1/webrtc/ice-servers")).json() == {"iceServers": turn}
    await sim.put("/sim/hardware", json={"vram_gb": 80.0})
    await sim.put("/sim/models", json={"passthrough": True, "longlive": True})
    await add_fault(sim, kind="oom")
    await add_fault(sim, kind="html", paths=["/api/v1/loras"])
    await sim.post("/api/v1/pipeline/load", json={"pipeline_ids": ["gray"]})
    changed = (await sim.get("/sim/state")).json()
    for key in ("hardware", "ice_servers", "models", "faults", "pipeline"):
        assert changed[key] != startup[key], key

    reset = await sim.post("/sim/reset")
    assert reset.status_code == 200
    assert reset.json() == startup == (await sim.get("/sim/state")).json()
    assert not asset.exists()
    assert (await sim.get("/api/v1/hardware/info")).json()["vram_gb"] == 32.0


def test_cpu_only_config_has_no_vram() -> None:
    assert SimConfig(cpu_only=True).vram_gb is None
    with pytest.raises(ValidationError, match="no VRAM"):
        SimConfig(cpu_only=True, vram_gb=24.0)
    assert Fault(kind="html").status == 502 and Fault(kind="slow").status is None
