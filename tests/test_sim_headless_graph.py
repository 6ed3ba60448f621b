"""The simulator's headless start in graph mode, through the HTTP API.

Scope (fact sheet): a start with a ``graph`` checks it (400 ``"Invalid graph: ..."``: duplicate
ids, no sink, a pipeline node without ``pipeline_id``, a custom node without
``node_type_id``, an edge to no node; or no pipeline and no custom node), loads the graph's
pipeline itself without load params, waits, and answers ``graph: true`` with the pipeline,
sink and source node ids. The simulator runs one shape (source -> one pipeline -> sinks and
records) and fails other valid graphs as a frame processor that cannot start (500, the log
says why).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lab import resources
from tests.conftest import SimControl
from tests.test_sim_headless import last_log_line, upload

START = "/api/v1/session/start"
PIPE = {"id": "p", "type": "pipeline", "pipeline_id": "passthrough"}
SINK = {"id": "out", "type": "sink"}


def edge(source: str, target: str, kind: str = "stream") -> dict[str, Any]:
    return {"from": source, "from_port": "video", "to_node": target, "to_port": "video", "kind": kind}


def source_node(path: str) -> dict[str, Any]:
    return {"id": "in", "type": "source", "source_mode": "video_file", "source_name": path}


@pytest.fixture
async def http(sim: SimControl) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


async def first_frame(http: httpx.AsyncClient, **params: str) -> httpx.Response:
    for _ in range(200):
        frame = await http.get("/api/v1/session/frame", params=params)
        if frame.status_code == 200:
            return frame
        await asyncio.sleep(0.02)
    raise AssertionError("the headless session sent no frame")


async def test_a_graph_start_loads_its_pipeline_and_routes_its_node_parameters(http: httpx.AsyncClient,
                                                                               sim: SimControl) -> None:
    clip = await upload(http, resources.CLIP, resources.CLIP.name)
    graph = {"nodes": [source_node(clip), {**PIPE, "params": {"noise_scale": 0.4, "manage_cache": False}}, SINK,
                       {"id": "rec", "type": "record"}],
             "edges": [edge("in", "p"), edge("p", "out"), {**edge("p", "rec"), "from_node": "p"}]}
    assert (await http.get("/api/v1/pipeline/status")).json()["status"] == "not_loaded"
    start = await http.post(START, json={
        "graph": graph, "input_mode": "video", "parameters": {"noise_scale": 0.1, "denoising_step_list": [700]},
        "node_parameters": {"p": {"noise_scale": 0.7}, "out": {"noise_scale": 0.9}}})
    assert start.status_code == 200, start.text
    assert start.json() == {"status": "ok", "input_mode": "video", "cloud_mode": False, "graph": True,
                            "pipeline_ids": ["passthrough"], "sink_node_ids": ["out"], "source_node_ids": ["in"]}
    status = (await http.get("/api/v1/pipeline/status")).json()
    assert (status["status"], status["pipeline_id"], status["load_params"]) == ("loaded", "p", None)
    parameters = (await http.get("/api/v1/session/parameters")).json()["parameters"]
    # node_parameters of the pipeline node win over its params, which win over "parameters"
    assert (parameters["noise_scale"], parameters["manage_cache"], parameters["denoising_step_list"]) == (
        0.7, False, [700])
    assert parameters["input_source"]["source_name"] == clip and parameters["graph"] == graph
    log = (await http.get("/api/v1/logs/tail", params={"lines": 5})).json()["lines"]
    assert any("node_parameters for node out ignored" in line for line in log)
    assert (await first_frame(http, sink_node_id="out")).headers["content-type"] == "image/jpeg"
    assert (await http.get("/api/v1/session/frame", params={"sink_node_id": "nope"})).status_code == 404
    metrics = (await http.get("/api/v1/session/metrics")).json()["sessions"]["headless"]
    assert metrics["input_source_type"] == "video_file"
    assert len(sim.truth("headless")["frames"]["sent_ns"]) > 0
    # the graph's record node is what a recording names
    assert (await http.post("/api/v1/recordings/headless/start")).status_code == 400
    assert (await http.post("/api/v1/recordings/headless/start", params={"node_id": "rec"})).json() == {
        "status": "started"}
    assert (await http.post("/api/v1/session/stop")).status_code == 200


@pytest.mark.parametrize(("graph", "detail"), [
    pytest.param({"nodes": [PIPE, SINK]}, "Invalid graph: edges: Field required", id="no-edges"),
    pytest.param({"nodes": [{**PIPE, "type": "model"}, SINK], "edges": []}, "Invalid graph: nodes.0.type",
                 id="unknown-type"),
    pytest.param({"nodes": [PIPE, SINK, {**SINK, "type": "record"}], "edges": []},
                 "Invalid graph: duplicate node ids ['out']", id="duplicate-ids"),
    pytest.param({"nodes": [PIPE], "edges": []}, "Invalid graph: it has no sink node", id="no-sink"),
    pytest.param({"nodes": [{"id": "p", "type": "pipeline"}, SINK], "edges": []},
                 "Invalid graph: pipeline node 'p' has no pipeline_id", id="pipeline-without-id"),
    pytest.param({"nodes": [{"id": "n", "type": "node"}, SINK], "edges": []},
                 "Invalid graph: node 'n' has no node_type_id", id="custom-node-without-type"),
    pytest.param({"nodes": [PIPE, SINK], "edges": [edge("p", "elsewhere")]},
                 "Invalid graph: edge p -> elsewhere names no node 'elsewhere'", id="edge-to-nowhere"),
    pytest.param({"nodes": [{"id": "in", "type": "source"}, SINK], "edges": [edge("in", "out")]},
                 "Invalid graph: it has no pipeline or custom node", id="no-pipeline"),
])
async def test_an_invalid_graph_is_refused_with_400(http: httpx.AsyncClient, graph: dict[str, Any],
                                                    detail: str) -> None:
    start = await http.post(START, json={"graph": graph})
    assert start.status_code == 400 and start.json()["detail"].startswith(detail), start.text
    assert (await http.get("/api/v1/pipeline/status")).json()["status"] == "not_loaded"  # nothing loaded


@pytest.mark.parametrize(("graph", "logged"), [
    pytest.param({"nodes": [PIPE, {**PIPE, "id": "q"}, SINK], "edges": [edge("p", "q"), edge("q", "out")]},
                 "graphs with 2 pipeline nodes are not emulated", id="two-pipelines"),
    pytest.param({"nodes": [PIPE, {"id": "n", "type": "node", "node_type_id": "blur"}, SINK],
                  "edges": [edge("p", "n"), edge("n", "out")]},
                 "graphs with custom nodes are not emulated", id="custom-node"),
    pytest.param({"nodes": [PIPE, SINK], "edges": [edge("p", "out"), edge("out", "p", "parameter")]},
                 "the parameter edge out -> p is not emulated", id="parameter-edge"),
    pytest.param({"nodes": [PIPE, SINK], "edges": []}, "sink node 'out' is not fed by the pipeline node",
                 id="unfed-sink"),
    pytest.param({"nodes": [PIPE, {**SINK, "sink_mode": "ndi"}], "edges": [edge("p", "out")]},
                 "sink mode ndi is not available", id="ndi-sink"),
    pytest.param({"nodes": [{**PIPE, "pipeline_id": "nope"}, SINK], "edges": [edge("p", "out")]},
                 "the graph's pipeline nope did not load", id="pipeline-that-does-not-load"),
])
async def test_a_graph_the_simulator_does_not_run_fails_to_start(http: httpx.AsyncClient, graph: dict[str, Any],
                                                                  logged: str) -> None:
    start = await http.post(START, json={"graph": graph})
    assert start.status_code == 500 and "check logs" in start.json()["detail"]
    assert logged in await last_log_line(http)
    assert (await http.get("/api/v1/session/output.ts")).status_code == 404
