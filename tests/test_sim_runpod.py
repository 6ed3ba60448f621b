"""The simulator's emulated RunPod (lab.sim.runpod): a stopped pod's proxy pages, the boot
phases on a resume, the GraphQL API's validation and faults, and what /sim/ shows of it.

The phases are read on a clock the tests move by hand, so nothing here waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from lab.sim import SimConfig
from lab.sim.inprocess import in_process_client
from lab.sim.middleware import SimulatedDrop
from lab.sim.runpod.config import HOME_POD_ID, OTHER_ACCOUNT_POD_ID, RunpodSimConfig
from lab.sim.runpod.pods import NO_CAPACITY_RESUME, PodBook

KEY = "rpa_SIMTESTKEY0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
BOOT_S = 10.0


class Clock:
    """Starts where the book's own clock is, so the home pod started at startup stays up."""

    def __init__(self) -> None:
        self.now = float(int(time.monotonic()) + 1)  # whole seconds: phase boundaries fall exactly

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    async with in_process_client(SimConfig(runpod={"api_key": KEY, "boot_s": BOOT_S})) as client:
        clock = Clock()
        client._transport.app.state.sim.runpod.clock = clock  # type: ignore[attr-defined]
        yield client, clock


async def gql(client: httpx.AsyncClient, document: str) -> dict:  # type: ignore[type-arg]
    answer = await client.post("/runpod/graphql", json={"query": document}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_a_stopped_home_pod_answers_the_proxy_404_then_boots_through_starting_and_502(sim) -> None:  # type: ignore[no-untyped-def]
    client, clock = sim
    assert (await client.get("/health")).status_code == 200
    await gql(client, f'mutation {{ podStop(input: {{podId: "{HOME_POD_ID}"}}) {{ id desiredStatus }} }}')
    stopped = await client.get("/health")
    assert stopped.status_code == 404 and "runpod" in stopped.text.lower()
    assert (await client.get("/sim/state")).status_code == 200  # the control API is never gated

    resumed = await gql(client, f'mutation {{ podResume(input: {{podId: "{HOME_POD_ID}", gpuCount: 1}}) '
                                "{ id desiredStatus } }")
    assert resumed["data"]["podResume"]["desiredStatus"] == "RUNNING"
    seen = []
    for _ in range(12):  # 0 .. 11 s after the resume, a second apart
        response = await client.get("/health")
        pod = (await gql(client, f'query {{ pod(input: {{podId: "{HOME_POD_ID}"}}) {{ uptimeSeconds runtime '
                                 "{ ports { privatePort } } } }"))["data"]["pod"]
        seen.append((response.status_code, pod["runtime"] is not None, pod["uptimeSeconds"]))
        clock.now += 1.0
    starting_s = int(BOOT_S * RunpodSimConfig().starting_share)
    assert [s for s, _, _ in seen] == [503] * starting_s + [502] * (int(BOOT_S) - starting_s) + [200] * 2
    assert [up for _, up, _ in seen] == [False] * starting_s + [True] * (12 - starting_s)
    assert [u for _, _, u in seen] == list(range(12))


async def test_stopping_the_home_pod_unloads_its_scope_and_keeps_the_models(sim) -> None:  # type: ignore[no-untyped-def]
    client, clock = sim
    assert (await client.post("/api/v1/pipeline/load", json={"pipeline_ids": ["passthrough"]})).status_code == 200
    for _ in range(100):
        if (await client.get("/api/v1/pipeline/status")).json()["status"] == "loaded":
            break
        await asyncio.sleep(0.05)
    models_before = (await client.get("/sim/state")).json()["models"]
    await gql(client, f'mutation {{ podStop(input: {{podId: "{HOME_POD_ID}"}}) {{ id }} }}')
    await gql(client, f'mutation {{ podResume(input: {{podId: "{HOME_POD_ID}", gpuCount: 1}}) {{ id }} }}')
    clock.now += BOOT_S  # serving again
    status = (await client.get("/api/v1/pipeline/status")).json()
    assert status["status"] == "not_loaded", status  # a stopped pod's process is gone
    assert (await client.get("/sim/state")).json()["models"] == models_before  # its volume is not


async def test_each_pod_port_is_proxied_at_its_path_and_an_unexposed_port_is_404(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    health = await client.get(f"/runpod/proxy/{HOME_POD_ID}-8000/health")
    assert health.status_code == 200 and health.json()["simulator"] is True
    assert (await client.get(f"/runpod/proxy/{HOME_POD_ID}-8888/health")).status_code == 404
    assert (await client.get(f"/runpod/proxy/{OTHER_ACCOUNT_POD_ID}-8000/health")).status_code == 404


async def test_the_api_reports_the_sdk_fields_and_hides_another_accounts_pod(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    pods = (await gql(client, "query { myself { pods { id costPerHr desiredStatus ports env "
                              "machine { gpuDisplayName } } } }"))["data"]["myself"]["pods"]
    assert pods == [{"id": HOME_POD_ID, "costPerHr": 0.89, "desiredStatus": "RUNNING", "ports": "8000/http,22/tcp",
                     "env": ["HF_TOKEN=hf_simulatedtokennotreal00000"], "machine": {"gpuDisplayName": "RTX 5090"}}]
    other = await gql(client, f'query {{ pod(input: {{podId: "{OTHER_ACCOUNT_POD_ID}"}}) {{ id }} }}')
    assert other["data"]["pod"] is None
    refused = await gql(client, f'mutation {{ podStop(input: {{podId: "{OTHER_ACCOUNT_POD_ID}"}}) {{ id }} }}')
    assert "permission" in refused["errors"][0]["message"]


async def test_a_field_runpod_lacks_fails_validation(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    answer = await gql(client, "query { myself { pods { id hourlyPrice } } }")
    assert answer["data"] is None and "hourlyPrice" in answer["errors"][0]["message"]


async def test_a_wrong_key_and_the_invalid_key_fault_get_401(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    wrong = await client.post("/runpod/graphql", json={"query": "{ myself { id } }"},
                              headers={"Authorization": "Bearer rpa_WRONGKEY0123456789abcdef"})
    assert wrong.status_code == 401
    await client.post("/sim/runpod/faults", json={"kind": "invalid_key", "count": 1})
    revoked = await client.post("/runpod/graphql", json={"query": "{ myself { id } }"}, headers=AUTH)
    assert revoked.status_code == 401
    assert (await client.post("/runpod/graphql", json={"query": "{ myself { id } }"}, headers=AUTH)).status_code == 200


async def test_the_unreachable_fault_drops_the_connection(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    await client.post("/sim/runpod/faults", json={"kind": "unreachable", "count": 1})
    with pytest.raises(SimulatedDrop):  # in process, the dropped connection is the app's exception
        await client.post("/runpod/graphql", json={"query": "{ myself { id } }"}, headers=AUTH)
    assert (await client.get("/sim/runpod")).json()["faults"] == []


def test_no_capacity_refuses_a_resume_once_and_leaves_the_pod_stopped() -> None:
    book = PodBook(RunpodSimConfig(faults=[{"kind": "no_capacity", "count": 1}]))
    book.stop(HOME_POD_ID)
    with pytest.raises(Exception, match="not enough free GPUs") as info:
        book.resume(HOME_POD_ID, 1)
    assert str(info.value) == NO_CAPACITY_RESUME and book.phase(book.pods[HOME_POD_ID]) == "stopped"
    book.resume(HOME_POD_ID, 1)
    assert book.pods[HOME_POD_ID].desired == "RUNNING"


async def test_sim_state_shows_env_keys_and_no_key_or_token(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    text = (await client.get("/sim/state")).text + (await client.get("/sim/runpod")).text
    assert KEY not in text and "hf_simulatedtoken" not in text
    assert (await client.get("/sim/runpod")).json()["pods"][0]["env_keys"] == ["HF_TOKEN"]


async def test_reset_brings_the_home_pod_back_running(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    await gql(client, f'mutation {{ podStop(input: {{podId: "{HOME_POD_ID}"}}) {{ id }} }}')
    await client.post("/sim/reset")
    assert (await client.get("/health")).status_code == 200


def test_lab_sim_options_set_the_pods_boot_time_and_start_state() -> None:
    from lab.sim.cli import _config_from_args, build_parser

    config = _config_from_args(build_parser().parse_args(["--pod-boot-s", "5", "--pod-stopped"]))
    assert (config.runpod.boot_s, config.runpod.home_status) == (5.0, "EXITED")
    assert _config_from_args(build_parser().parse_args([])).runpod == RunpodSimConfig()


async def test_a_stopped_home_pod_leaves_the_hosted_api_and_sim_routes_alone(sim) -> None:  # type: ignore[no-untyped-def]
    client, _ = sim
    await gql(client, f'mutation {{ podStop(input: {{podId: "{HOME_POD_ID}"}}) {{ id }} }}')
    assert (await client.get("/health")).status_code == 404
    hosted = await client.get("/v1/streams")  # Daydream's hosted API: another service, not the pod
    assert "runpod-proxy" not in hosted.text and hosted.status_code != 404
    assert (await client.get("/sim/runpod")).status_code == 200
