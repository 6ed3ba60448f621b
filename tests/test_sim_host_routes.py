"""The simulator's emulated host state behind Scope's other routes: what is added can be
listed and removed, logs say what happened, and what an emulated pod lacks is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lab.sim import SimConfig, in_process_client

HF_LORA = "https://huggingface.co/walk/loras/resolve/main/styles/ink.safetensors"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = SimConfig(speed=1000, cpu_only=True, assets_dir=tmp_path / "assets")
    async with in_process_client(config) as client:
        yield client


async def test_loras_install_list_tag_and_delete(sim: httpx.AsyncClient) -> None:
    added = (await sim.post("/api/v1/loras", json={"url": HF_LORA})).json()["file"]
    assert (added["name"], added["folder"], added["size_mb"]) == ("ink", None, 0.0)
    again = await sim.post("/api/v1/loras", json={"url": HF_LORA})
    assert again.status_code == 409
    blob = await sim.post("/api/v1/loras", json={"url": HF_LORA.replace("/resolve/", "/blob/")})
    elsewhere = await sim.post("/api/v1/loras", json={"url": "https://example.com/a.safetensors"})
    assert blob.status_code == elsewhere.status_code == 400
    body = {"source": "huggingface", "repo_id": "walk/loras", "hf_filename": "x/line.safetensors",
            "subfolder": "styles"}
    got = (await sim.post("/api/v1/lora/download", json=body)).json()
    assert got["filename"] == "styles/line.safetensors" and got["size_bytes"] == 0
    listed = (await sim.get("/api/v1/loras")).json()["lora_files"]
    assert [(f["folder"], f["name"]) for f in listed] == [(None, "ink"), ("styles", "line")]
    entry = await sim.put("/api/v1/lora/styles/line.safetensors/provenance",
                          json={"source": "local"})
    assert entry.json()["provenance"] == {"source": "local"}
    assert (await sim.delete("/api/v1/loras/line")).json()["success"] is True
    assert (await sim.delete("/api/v1/loras/line")).status_code == 404
    assert [f["name"] for f in (await sim.get("/api/v1/loras")).json()["lora_files"]] == ["ink"]


async def test_plugins_install_reload_and_uninstall(sim: httpx.AsyncClient) -> None:
    installed = await sim.post("/api/v1/plugins", json={"package": "scope-ink==1.2"})
    assert installed.json()["plugin"]["version"] == "1.2"
    assert (await sim.post("/api/v1/plugins", json={"package": "scope-ink"})).status_code == 409
    assert (await sim.post("/api/v1/plugins", content=b"")).status_code == 422
    assert (await sim.post("/api/v1/plugins/scope-ink/reload")).status_code == 400  # not editable
    await sim.post("/api/v1/plugins", json={"package": "/src/scope-dev", "editable": True})
    assert (await sim.post("/api/v1/plugins/scope-dev/reload")).json()["success"] is True
    plugins = (await sim.get("/api/v1/plugins")).json()
    assert plugins["total"] == 2 and {p["source"] for p in plugins["plugins"]} == {"pypi", "local"}
    assert (await sim.delete("/api/v1/plugins/scope-ink")).json()["unloaded_pipelines"] == []
    assert (await sim.get("/api/v1/plugins")).json()["total"] == 1


async def test_keys_are_stored_unless_the_environment_sets_them(tmp_path: Path) -> None:
    async with in_process_client(SimConfig(huggingface_token_set=True, assets_dir=tmp_path)) as sim:
        assert (await sim.put("/api/v1/keys/huggingface", json={"value": "t"})).status_code == 409
        assert (await sim.put("/api/v1/keys/civitai", json={"value": ""})).status_code == 422
        assert (await sim.put("/api/v1/keys/nope", json={"value": "t"})).status_code == 404
        assert (await sim.put("/api/v1/keys/civitai", json={"value": "s3cret"})).status_code == 200
        keys = {k["id"]: k for k in (await sim.get("/api/v1/keys")).json()["keys"]}
        assert (keys["civitai"]["is_set"], keys["civitai"]["source"]) == (True, "stored")
        assert "s3cret" not in str(keys["civitai"])
        assert (await sim.delete("/api/v1/keys/civitai")).status_code == 200
        assert (await sim.delete("/api/v1/keys/civitai")).status_code == 404


async def test_logs_tail_from_an_offset_and_say_why_a_headless_start_failed(
    sim: httpx.AsyncClient,
) -> None:
    offset = (await sim.get("/api/v1/logs/tail")).json()["offset"]
    await sim.post("/api/v1/pipeline/load", json={"pipeline_ids": ["gray"]})
    await asyncio.sleep(0.05)
    start = await sim.post("/api/v1/session/start", json={"pipeline_id": "passthrough"})
    assert start.status_code == 500 and "check logs" in start.json()["detail"]
    tail = (await sim.get("/api/v1/logs/tail", params={"since_offset": offset})).json()
    assert tail["offset"] > offset
    assert any("Loaded ['gray']" in line for line in tail["lines"])
    assert "INFO" in tail["lines"][0]
    assert "passthrough is not loaded (loaded: ['gray'])" in tail["lines"][-1]
    one = await sim.get("/api/v1/logs/tail", params={"since_offset": offset, "lines": 1})
    assert one.json()["lines"] == tail["lines"][-1:]
    current = await sim.get("/api/v1/logs/current")
    assert current.headers["content-type"].startswith("text/plain")
    assert "attachment" in current.headers["content-disposition"]
    assert current.text.endswith(tail["lines"][-1] + "\n")
    graph = {"nodes": [{"id": "in", "type": "source"}], "edges": []}
    bad = await sim.post("/api/v1/session/start", json={"graph": graph})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("Invalid graph")
    assert (await sim.post("/api/v1/session/start", json={})).status_code == 422


async def test_restart_unloads_and_gives_a_new_start_time(sim: httpx.AsyncClient) -> None:
    before = (await sim.get("/health")).json()["server_start_time"]
    await sim.post("/api/v1/pipeline/load", json={"pipeline_ids": ["passthrough"]})
    await asyncio.sleep(0.05)
    await sim.put("/api/v1/onboarding/status", json={"completed": True})
    assert (await sim.post("/api/v1/restart")).status_code == 200
    assert (await sim.get("/health")).json()["server_start_time"] > before
    assert (await sim.get("/api/v1/pipeline/status")).json()["status"] == "not_loaded"
    onboarding = (await sim.get("/api/v1/onboarding/status")).json()
    assert onboarding["completed"] is True  # on disk in Scope: kept


async def test_cloud_with_credentials_fails_to_connect(sim: httpx.AsyncClient) -> None:
    body = {"app_id": "app", "api_key": "key"}
    connecting = (await sim.post("/api/v1/cloud/connect", json=body)).json()
    assert connecting["connecting"] is True and connecting["connected"] is False
    status = (await sim.get("/api/v1/cloud/status")).json()
    assert (status["connecting"], status["connected"]) == (False, False) and status["error"]
    assert (await sim.post("/api/v1/cloud/disconnect")).json()["error"] is None


async def test_dmx_config_is_kept_but_never_listens(sim: httpx.AsyncClient) -> None:
    mapping = {"universe": 0, "channel": 1, "key": "noise_scale"}
    await sim.put("/api/v1/dmx/config", json={"enabled": True, "mappings": [mapping]})
    status = (await sim.get("/api/v1/dmx/status")).json()
    assert (status["enabled"], status["listening"], status["mapping_count"]) == (True, False, 1)
    bad = await sim.put("/api/v1/dmx/settings", json={"preferred_port": 80})
    assert bad.status_code == 422


async def test_nodes_and_workflows_follow_the_registered_pipelines(
    sim: httpx.AsyncClient,
) -> None:
    nodes = (await sim.get("/api/v1/nodes/definitions")).json()["nodes"]
    schemas = (await sim.get("/api/v1/pipelines/schemas")).json()["pipelines"]
    assert [n["node_type_id"] for n in nodes] == list(schemas)
    assert all(n["pipeline_meta"] == schemas[n["node_type_id"]] for n in nodes)
    workflow = {"nodes": [
        {"node_type_id": "gray", "source": {"type": "builtin"}},
        {"node_type_id": "longlive", "source": {"type": "builtin"},
         "loras": [{"filename": "ink.safetensors", "provenance": {"source": "url"}}]},
    ], "min_scope_version": "0.3.0"}
    plan = (await sim.post("/api/v1/workflow/resolve", json=workflow)).json()
    assert [(i["kind"], i["name"], i["status"]) for i in plan["items"]] == [
        ("pipeline", "gray", "ok"), ("pipeline", "longlive", "missing"),
        ("lora", "ink.safetensors", "missing")]
    assert plan["can_apply"] is False and "0.3.0" in plan["warnings"][0]
