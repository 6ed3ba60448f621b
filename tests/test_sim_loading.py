"""The emulated pipeline loads, load faults and model downloads of the simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from lab.sim import SimConfig, in_process_client
from lab.sim.profiles import load_profiles

WAN_STAGES = [
    "Initializing pipeline...",
    "Loading diffusion model...",
    "Loading text encoder...",
    "Loading VAE...",
    "Warming up model...",
]
STATUS = "/api/v1/pipeline/status"


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    """A GPU simulator (32 GB) with every model present; a longlive load takes 45 ms."""
    async with in_process_client(SimConfig(speed=1000, models="present")) as client:
        yield client


@pytest.fixture
async def staged_sim() -> AsyncIterator[httpx.AsyncClient]:
    """Like ``sim`` but 10x slower, so that polls see every loading stage (90 ms each)."""
    async with in_process_client(SimConfig(speed=100, models="present")) as client:
        yield client


async def load(client: httpx.AsyncClient, *pipeline_ids: str, **load_params: Any) -> None:
    body = {"pipeline_ids": list(pipeline_ids), "load_params": load_params}
    response = await client.post("/api/v1/pipeline/load", json=body)
    assert response.status_code == 200, response.text


async def poll(
    client: httpx.AsyncClient,
    path: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Every body read from ``path`` until ``done`` holds for one (the last in the list)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        seen.append((await client.get(path)).json())
        if done(seen[-1]):
            return seen
        assert time.monotonic() < deadline, f"{path} did not settle; last: {seen[-1]}"
        await asyncio.sleep(0.003)


def settled(status: dict[str, Any]) -> bool:
    return status["status"] != "loading"


def stages(statuses: list[dict[str, Any]]) -> list[str]:
    """The distinct loading stages, in the order they were seen."""
    seen: list[str] = []
    for status in statuses:
        stage = status["loading_stage"]
        if stage and (not seen or seen[-1] != stage):
            seen.append(stage)
    return seen


async def test_wan_load_reports_every_stage_in_order_then_loaded(
    staged_sim: httpx.AsyncClient,
) -> None:
    await load(staged_sim, "longlive", height=320, width=576)
    statuses = await poll(staged_sim, STATUS, settled)
    assert stages(statuses) == WAN_STAGES
    assert all(s["pipeline_id"] is None for s in statuses[:-1])
    final = statuses[-1]
    assert (final["status"], final["pipeline_id"]) == ("loaded", "longlive")
    assert final["load_params"] == {"height": 320, "width": 576}
    assert (final["loading_stage"], final["error"]) == (None, None)


async def test_cpu_pipeline_loads_without_stages() -> None:
    async with in_process_client(SimConfig(cpu_only=True, speed=1)) as sim:
        await load(sim, "optical-flow", model_size="large")  # 3 s at speed 1
        status = (await sim.get(STATUS)).json()
    assert (status["status"], status["loading_stage"]) == ("loading", None)
    assert status["load_params"] == {"model_size": "large"}


async def test_a_new_load_replaces_the_one_in_progress(sim: httpx.AsyncClient) -> None:
    await load(sim, "krea-realtime-video")  # 90 ms at speed 1000
    await asyncio.sleep(0.02)
    await load(sim, "passthrough")
    statuses = await poll(sim, STATUS, settled)
    assert statuses[-1]["pipeline_id"] == "passthrough"
    await asyncio.sleep(0.15)  # longer than the krea load would have taken
    assert (await sim.get(STATUS)).json()["pipeline_id"] == "passthrough"


async def test_the_same_load_again_stays_loaded(sim: httpx.AsyncClient) -> None:
    await load(sim, "memflow", vae_type="tae")
    await poll(sim, STATUS, settled)
    await load(sim, "memflow", vae_type="tae")
    assert (await sim.get(STATUS)).json()["status"] == "loaded"
    await load(sim, "memflow", vae_type="wan")  # other params: a real reload
    assert (await sim.get(STATUS)).json()["status"] == "loading"


async def test_per_node_form_reports_the_first_node_id(sim: httpx.AsyncClient) -> None:
    body = {
        "pipelines": [
            {"node_id": "depth", "pipeline_id": "video-depth-anything", "load_params": None},
            {"node_id": "main", "pipeline_id": "longlive", "load_params": {"height": 512}},
        ]
    }
    assert (await sim.post("/api/v1/pipeline/load", json=body)).status_code == 200
    final = (await poll(sim, STATUS, settled))[-1]
    assert (final["status"], final["pipeline_id"]) == ("loaded", "depth")
    assert final["load_params"] is None  # the first entry's params
    assert (final["produces_video"], final["produces_audio"]) == (True, False)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"pipeline_ids": []}, id="empty-list"),
        pytest.param({"load_params": {"height": 512}}, id="params-only"),
    ],
)
async def test_load_without_pipelines_is_400(sim: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await sim.post("/api/v1/pipeline/load", json=body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Either 'pipelines' or 'pipeline_ids' must be provided"}


async def test_load_item_without_node_id_is_422(sim: httpx.AsyncClient) -> None:
    body = {"pipelines": [{"pipeline_id": "gray"}]}
    assert (await sim.post("/api/v1/pipeline/load", json=body)).status_code == 422


async def test_error_is_reported_once_without_text(sim: httpx.AsyncClient) -> None:
    await load(sim, "no-such-pipeline")
    statuses = await poll(sim, STATUS, settled)
    assert statuses[-1]["status"] == "error"
    assert (statuses[-1]["error"], statuses[-1]["pipeline_id"]) == (None, None)
    after = (await sim.get(STATUS)).json()
    assert (after["status"], after["pipeline_id"]) == ("not_loaded", None)


async def test_missing_models_fail_at_the_diffusion_model() -> None:
    async with in_process_client(SimConfig(speed=100)) as sim:  # models are missing by default
        await load(sim, "longlive")
        statuses = await poll(sim, STATUS, settled)
    assert stages(statuses) == WAN_STAGES[:2]
    assert (statuses[-1]["status"], statuses[-1]["error"]) == ("error", None)


async def test_cpu_pipeline_with_missing_models_fails_without_stages() -> None:
    async with in_process_client(SimConfig(cpu_only=True, speed=100)) as sim:
        await load(sim, "rife")
        statuses = await poll(sim, STATUS, settled)
    assert stages(statuses) == [] and statuses[-1]["status"] == "error"


async def test_too_little_vram_is_an_out_of_memory_error(staged_sim: httpx.AsyncClient) -> None:
    assert (await staged_sim.put("/sim/hardware", json={"vram_gb": 24.0})).status_code == 200
    await load(staged_sim, "krea-realtime-video")  # estimated 32 GB
    statuses = await poll(staged_sim, STATUS, settled)
    assert stages(statuses) == WAN_STAGES[:2] and statuses[-1]["status"] == "error"
    await load(staged_sim, "memflow")  # estimated 20 GB fits
    assert (await poll(staged_sim, STATUS, settled))[-1]["status"] == "loaded"


async def test_fp8_quantization_lowers_the_vram_need(sim: httpx.AsyncClient) -> None:
    await sim.put("/sim/hardware", json={"vram_gb": 24.0})
    await load(sim, "krea-realtime-video", quantization="fp8_e4m3fn")  # 32 GB x 0.6
    final = (await poll(sim, STATUS, settled))[-1]
    assert (final["status"], final["load_params"]) == ("loaded", {"quantization": "fp8_e4m3fn"})


async def test_a_chain_needs_the_vram_of_all_its_pipelines(sim: httpx.AsyncClient) -> None:
    await sim.put("/sim/hardware", json={"vram_gb": 20.5})
    await load(sim, "longlive")  # 20 GB alone fits
    assert (await poll(sim, STATUS, settled))[-1]["status"] == "loaded"
    await load(sim, "video-depth-anything", "longlive", "rife")  # 1 + 20 GB does not
    assert (await poll(sim, STATUS, settled))[-1]["status"] == "error"


async def test_gpu_pipelines_fail_without_cuda(sim: httpx.AsyncClient) -> None:
    await sim.put("/sim/hardware", json={"vram_gb": None})
    await load(sim, "streamdiffusionv2")
    assert (await poll(sim, STATUS, settled))[-1]["status"] == "error"
    await load(sim, "passthrough")
    assert (await poll(sim, STATUS, settled))[-1]["status"] == "loaded"


async def test_oom_fault_fails_the_next_load_only(staged_sim: httpx.AsyncClient) -> None:
    await staged_sim.post("/sim/faults", json={"kind": "oom", "count": 1})
    await load(staged_sim, "streamdiffusionv2")
    statuses = await poll(staged_sim, STATUS, settled)
    assert stages(statuses) == WAN_STAGES[:2]
    assert (statuses[-1]["status"], statuses[-1]["error"]) == ("error", None)
    assert (await staged_sim.get("/sim/state")).json()["faults"] == []
    await load(staged_sim, "streamdiffusionv2")
    assert (await poll(staged_sim, STATUS, settled))[-1]["status"] == "loaded"


async def test_load_error_fault_fails_at_its_stage_with_its_message(
    staged_sim: httpx.AsyncClient,
) -> None:
    fault = {"kind": "load_error", "stage": "Loading VAE...", "message": "VAE checksum mismatch"}
    await staged_sim.post("/sim/faults", json=fault)
    await load(staged_sim, "reward-forcing")
    statuses = await poll(staged_sim, STATUS, settled)
    assert stages(statuses) == WAN_STAGES[:4]
    assert (statuses[-1]["status"], statuses[-1]["error"]) == ("error", "VAE checksum mismatch")
    await load(staged_sim, "passthrough")  # no count: it lasts until cleared (CPU pipelines too)
    assert (await poll(staged_sim, STATUS, settled))[-1]["status"] == "error"
    await staged_sim.delete("/sim/faults")
    await load(staged_sim, "passthrough")
    assert (await poll(staged_sim, STATUS, settled))[-1]["status"] == "loaded"


async def test_download_reports_progress_per_artifact_then_downloaded() -> None:
    longlive = next(p for p in load_profiles().pipelines if p.id == "longlive")
    artifacts = longlive.emulation.artifacts
    # 10 GB at 10 GB/s and speed 5: 0.2 s.
    config = SimConfig(speed=5, download_mb_per_s=10240)
    async with in_process_client(config) as sim:
        path = "/api/v1/models/status?pipeline_id=longlive"
        assert (await sim.get(path)).json() == {"downloaded": False, "progress": None}
        response = await sim.post("/api/v1/models/download", json={"pipeline_id": "longlive"})
        assert response.json() == {"message": "Model download started for longlive"}
        again = await sim.post("/api/v1/models/download", json={"pipeline_id": "longlive"})
        assert again.status_code == 409
        statuses = await poll(sim, path, lambda body: body["downloaded"])
    assert statuses[-1] == {"downloaded": True, "progress": None}
    during = [s["progress"] for s in statuses[:-1]]
    assert len(during) >= 5 and all(not s["downloaded"] for s in statuses[:-1])
    assert all(p["is_downloading"] and 0 <= p["percentage"] <= 100 for p in during)
    assert all(round(p["percentage"], 1) == p["percentage"] for p in during)
    seen = [p["current_artifact"] for p in during]
    assert seen == sorted(seen, key=artifacts.index) and len(set(seen)) >= 2


async def test_download_then_load_succeeds() -> None:
    async with in_process_client(SimConfig(speed=1000)) as sim:  # memflow: 10 GB in 0.1 s
        await sim.post("/api/v1/models/download", json={"pipeline_id": "memflow"})
        await poll(sim, "/api/v1/models/status?pipeline_id=memflow", lambda b: b["downloaded"])
        await load(sim, "memflow")
        assert (await poll(sim, STATUS, settled))[-1]["status"] == "loaded"


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        pytest.param("GET", "/api/v1/models/status", None, 422, id="status-without-id"),
        pytest.param(
            "GET", "/api/v1/models/status?pipeline_id=nope", None, 404, id="status-unknown"
        ),
        pytest.param(
            "POST", "/api/v1/models/download", {"pipeline_id": ""}, 400, id="download-empty"
        ),
        pytest.param("POST", "/api/v1/models/download", {}, 422, id="download-no-body-field"),
        pytest.param(
            "POST", "/api/v1/models/download", {"pipeline_id": "nope"}, 404, id="download-unknown"
        ),
    ],
)
async def test_models_endpoint_errors(
    sim: httpx.AsyncClient, method: str, path: str, body: Any, code: int
) -> None:
    response = await sim.request(method, path, json=body)
    assert response.status_code == code
    assert "detail" in response.json()


async def test_models_policy_present_and_sim_models_override() -> None:
    async with in_process_client(SimConfig(models="present")) as sim:
        status = await sim.get("/api/v1/models/status?pipeline_id=krea-realtime-video")
        assert status.json()["downloaded"] is True
        await sim.put("/sim/models", json={"krea-realtime-video": False})
        status = await sim.get("/api/v1/models/status?pipeline_id=krea-realtime-video")
        assert status.json()["downloaded"] is False
