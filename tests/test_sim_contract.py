"""Contract tests: the simulator answers like the captured Scope 0.2.4 responses.

The fixtures in ``tests/fixtures/scope-0.2.4`` come from a real Scope 0.2.4 server on a host
without CUDA, so they are compared with the simulator in ``cpu_only`` mode. The GPU-only
pipelines, which no fixture shows, are checked against the key order of the captured CPU
pipelines and against the values Scope 0.2.4's GPU pipelines declare (a fact sheet below).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.sim import SimConfig, in_process_client
from lab.sim.profiles import DEFAULT_PROFILE_PATH, load_profiles
from tests.conftest import load_fixture

CPU_PIPELINES = ["passthrough", "controller-viz", "rife", "scribble", "gray", "optical-flow"]
WAN_PIPELINES = [
    "streamdiffusionv2", "longlive", "krea-realtime-video", "reward-forcing", "memflow"
]


@pytest.fixture
async def cpu_sim() -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(SimConfig(cpu_only=True, speed=100)) as client:
        yield client


@pytest.fixture
async def gpu_sim() -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(SimConfig(speed=100)) as client:
        yield client


async def get_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_cpu_only_lists_exactly_the_fixture_pipelines_in_order(
    cpu_sim: httpx.AsyncClient,
) -> None:
    expected = load_fixture("pipelines_schemas.json")["pipelines"]
    got = (await get_json(cpu_sim, "/api/v1/pipelines/schemas"))["pipelines"]
    assert list(expected) == CPU_PIPELINES
    assert list(got) == CPU_PIPELINES


@pytest.mark.parametrize("pipeline_id", [pytest.param(p, id=p) for p in CPU_PIPELINES])
async def test_cpu_pipeline_meta_equals_the_fixture(
    cpu_sim: httpx.AsyncClient, pipeline_id: str
) -> None:
    expected = load_fixture("pipelines_schemas.json")["pipelines"][pipeline_id]
    got = (await get_json(cpu_sim, "/api/v1/pipelines/schemas"))["pipelines"][pipeline_id]
    # The fixture's free-text descriptions were removed when it was captured; the simulator
    # has its own, in Scope's position (third key).
    assert list(got)[2] == "description" and got.pop("description")
    assert list(got) == list(expected)
    assert got == expected
    # Same key order inside the JSON Schema too (pydantic's sorted keys, fields in order).
    assert json.dumps(got["config_schema"]) == json.dumps(expected["config_schema"])


async def test_gpu_mode_adds_the_wan_and_depth_pipelines_in_registry_order(
    gpu_sim: httpx.AsyncClient,
) -> None:
    got = (await get_json(gpu_sim, "/api/v1/pipelines/schemas"))["pipelines"]
    assert list(got) == [*WAN_PIPELINES, "passthrough", "video-depth-anything", *CPU_PIPELINES[1:]]
    fixture_keys = [k for k in load_fixture("pipelines_schemas.json")["pipelines"]["gray"]]
    for pipeline_id, meta in got.items():
        keys = [k for k in meta if k not in ("description", "mode_defaults")]
        assert keys == fixture_keys, pipeline_id
        if "mode_defaults" in meta:  # only when some mode overrides something, before plugin_name
            assert list(meta)[-2:] == ["mode_defaults", "plugin_name"] and meta["mode_defaults"]


async def test_wan_pipelines_match_the_fact_sheet(gpu_sim: httpx.AsyncClient) -> None:
    got = (await get_json(gpu_sim, "/api/v1/pipelines/schemas"))["pipelines"]
    vram = {pid: got[pid]["estimated_vram_gb"] for pid in WAN_PIPELINES}
    assert vram == {
        "streamdiffusionv2": 20.0,
        "longlive": 20.0,
        "krea-realtime-video": 32.0,
        "reward-forcing": 20.0,
        "memflow": 20.0,
    }
    for pid in WAN_PIPELINES:
        meta = got[pid]
        assert meta["supports_vace"] and meta["supports_lora"] and meta["supports_quantization"]
        assert meta["inputs"] == ["video", "vace_input_frames", "vace_input_masks"]
        assert (meta["min_dimension"], meta["requires_models"]) == (16, True)
        props = meta["config_schema"]["properties"]
        size = (props["height"]["default"], props["width"]["default"])
        assert size == ((512, 512) if pid == "streamdiffusionv2" else (320, 576)), pid
        assert props["input_size"]["default"] == (4 if pid == "streamdiffusionv2" else 1)
        assert list(props)[-2:] == ["vae_type", "quantization"]
        defs = meta["config_schema"]["$defs"]
        assert defs["VaeType"]["enum"] == ["wan", "lightvae", "tae", "lighttae"]
        assert defs["Quantization"]["enum"] == ["fp8_e4m3fn"]
    assert got["streamdiffusionv2"]["default_mode"] == "video"
    assert got["streamdiffusionv2"]["mode_defaults"]["text"]["denoising_steps"] == [1000, 750]
    assert got["longlive"]["mode_defaults"]["video"]["height"] == 512
    krea = got["krea-realtime-video"]
    assert (krea["mode_defaults"]["video"]["height"], krea["mode_defaults"]["video"]["width"]) == (
        256,
        256,
    )
    assert krea["supports_kv_cache_bias"] and krea["recommended_quantization_vram_threshold"] == 40
    assert got["video-depth-anything"]["estimated_vram_gb"] == 1.0
    assert got["video-depth-anything"]["usage"] == ["preprocessor"]


async def test_health_has_the_fixture_keys_and_says_simulator(cpu_sim: httpx.AsyncClient) -> None:
    expected = load_fixture("health.json")
    got = await get_json(cpu_sim, "/health")
    assert list(got)[: len(expected)] == list(expected)
    assert set(got) - set(expected) == {"simulator"}
    assert got["simulator"] is True and got["git_commit"] == "simulator"
    assert (got["status"], got["version"]) == ("healthy", "0.2.4")
    assert datetime.fromisoformat(got["timestamp"]).tzinfo is None  # local time, as Scope
    assert isinstance(got["server_start_time"], float)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        pytest.param("/api/v1/pipeline/status", "pipeline_status_initial.json", id="status"),
        pytest.param("/api/v1/hardware/info", "hardware_info.json", id="hardware"),
        pytest.param("/api/v1/webrtc/ice-servers", "ice_servers.json", id="ice-servers"),
        pytest.param("/api/v1/session/metrics", "session_metrics_idle.json", id="metrics"),
        pytest.param(
            "/api/v1/models/status?pipeline_id=passthrough",
            "models_status_passthrough.json",
            id="models-status",
        ),
    ],
)
async def test_endpoint_equals_the_fixture(
    cpu_sim: httpx.AsyncClient, path: str, name: str
) -> None:
    expected = load_fixture(name)
    got = await get_json(cpu_sim, path)
    assert list(got) == list(expected)
    assert got == expected


async def test_gpu_hardware_reports_the_configured_vram() -> None:
    async with in_process_client(SimConfig(vram_gb=24.0)) as client:
        info = await get_json(client, "/api/v1/hardware/info")
    assert info["vram_gb"] == 24.0
    assert list(info) == list(load_fixture("hardware_info.json"))


@pytest.mark.parametrize("name", ["passthrough", "gray"])
async def test_load_sequence_behaves_like_the_fixture(name: str) -> None:
    steps = load_fixture(f"pipeline_load_{name}_sequence.json")
    before, post, *polls = steps
    # Speed 10: gray loads in 30 ms, long enough to see "loading" right after the request.
    async with in_process_client(SimConfig(cpu_only=True, speed=10)) as sim:
        if before["status"]["status"] == "loaded":  # the gray capture replaced a passthrough
            body = {"pipeline_ids": [before["status"]["pipeline_id"]], "load_params": {}}
            await sim.post("/api/v1/pipeline/load", json=body)
            await asyncio.sleep(0.1)
        assert await get_json(sim, "/api/v1/pipeline/status") == before["status"]

        response = await sim.post("/api/v1/pipeline/load", json=post["body"])
        assert (response.status_code, response.json()) == (post["code"], post["response"])
        loading = [p["status"] for p in polls if p["status"]["status"] == "loading"]
        if loading:  # "loading" with no pipeline_id until the new pipeline is ready
            assert await get_json(sim, "/api/v1/pipeline/status") == loading[0]
        await asyncio.sleep(0.15)  # several times the emulated load time
        assert await get_json(sim, "/api/v1/pipeline/status") == polls[-1]["status"]


def test_profiles_keep_unknown_keys_out_of_the_schema_meta(tmp_path: Path) -> None:
    text = DEFAULT_PROFILE_PATH.read_text().replace(
        "      chunk_frames: 12\n", "      chunk_frames: 12\n      chunk_compute_ms: 80\n", 1
    )
    path = tmp_path / "profiles.yaml"
    path.write_text(text.replace("scope_version:", "future_field: 1\nscope_version:", 1))
    longlive = next(p for p in load_profiles(path).pipelines if p.id == "longlive")
    assert longlive.emulation.model_extra == {"chunk_compute_ms": 80}
    assert "chunk_compute_ms" not in json.dumps(longlive.schema_meta())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param("extras: [model_size]", "extras: [colour]", "colour", id="unknown-extra"),
        pytest.param("default_mode: text", "default_mode: audio", "default_mode", id="bad-mode"),
        pytest.param("estimated_vram_gb: 1.0", "estimated_vram_gb: null", "cuda_only", id="cuda"),
    ],
)
def test_invalid_profiles_name_the_file_and_the_problem(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(DEFAULT_PROFILE_PATH.read_text().replace(old, new, 1))
    with pytest.raises(ValueError, match=message) as info:
        load_profiles(path)
    assert str(path) in str(info.value)
