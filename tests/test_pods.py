"""lab.pods through RunPod's own SDK against the simulator's emulated API: listing, stopping
and starting the home pod (whose Scope is the simulator's), creating pods, and every bad input
as its lab.pods error. The key never appears in an error."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import httpx
import pytest

from lab import pods
from lab.client import ScopeClient
from lab.errors import PodNotReadyError
from lab.http import RetryPolicy
from lab.pods import PodApi
from lab.redact import redact
from lab.sim.runpod.config import HOME_POD_ID, OTHER_ACCOUNT_POD_ID, RunpodSimConfig
from lab.store.run import RunStore
from tests.conftest import SimControl

KEY = RunpodSimConfig().api_key  # the key the session simulator's emulated API accepts
HF_TOKEN = "hf_" + "Zy9x8W7v" * 4


@pytest.fixture
def api(sim: SimControl) -> Iterator[PodApi]:
    yield PodApi(api_key=KEY, api_url=f"{sim.url}/runpod")
    sim.reset()  # the home pod running again for the next test


def runpod_fault(sim: SimControl, kind: str) -> None:
    httpx.post(f"{sim.url}/sim/runpod/faults", json={"kind": kind, "count": 1}).raise_for_status()


async def test_list_shows_the_home_pod_with_a_scope_url_that_serves(api: PodApi, sim: SimControl) -> None:
    [home] = await pods.list_pods(api)
    assert (home.id, home.status, home.gpu, home.cost_per_h) == (HOME_POD_ID, "running", "RTX 5090", 0.89)
    assert home.env_keys == ("HF_TOKEN",) and home.has_hf_token and home.simulated
    assert home.scope_url == f"{sim.url}/runpod/proxy/{HOME_POD_ID}-8000"
    async with ScopeClient(home.scope_url) as scope:
        assert (await scope.health()).is_simulator
    assert "hf_simulated" not in repr(home) and KEY not in repr(api)


async def test_stop_then_start_goes_through_the_proxy_pages_to_a_healthy_scope(api: PodApi) -> None:
    stopped = await pods.stop_pod(api, HOME_POD_ID)
    assert stopped.status == "stopped" and stopped.uptime_s == 0
    async with ScopeClient(stopped.scope_url, retry=RetryPolicy.none()) as scope:
        with pytest.raises(PodNotReadyError) as info:
            await scope.health()
        assert info.value.status_code == 404
    started = await pods.start_pod(api, HOME_POD_ID)
    assert started.desired_status == "RUNNING"
    statuses = []
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(2000):  # the boot takes 0.3 s here; each poll is a round trip
            statuses.append((await http.get(f"{started.scope_url}/health")).status_code)
            if statuses[-1] == 200:
                break
    assert statuses[-1] == 200
    order = {503: 0, 502: 1, 200: 2}
    assert set(statuses) <= set(order) and [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert (await pods.get_pod(api, HOME_POD_ID)).status == "running"


async def test_a_resumed_pod_without_models_downloads_them_with_progress(api: PodApi) -> None:
    await pods.stop_pod(api, HOME_POD_ID)
    pod = await pods.start_pod(api, HOME_POD_ID)
    retry = RetryPolicy(attempts=60, budget_s=30, initial_backoff_s=0.02, max_backoff_s=0.1)
    events = []
    async with ScopeClient(pod.scope_url, poll_interval_s=0.01, retry=retry) as scope:
        assert not (await scope.models_status("memflow")).downloaded  # SimConfig's default: models missing
        result = await scope.download_models("memflow", on_progress=events.append)
        assert result.download_s > 0 and (await scope.models_status("memflow")).downloaded
    assert events and max(e.percentage or 0 for e in events) > 0


async def test_create_deploys_from_the_template_and_keeps_only_env_keys(api: PodApi) -> None:
    pod = await pods.create_pod(api, template="daydream-scope", gpu="RTX 5090", env={"HF_TOKEN": HF_TOKEN})
    assert (pod.gpu, pod.cost_per_h, pod.env_keys, pod.desired_status) == ("RTX 5090", 0.89, ("HF_TOKEN",), "RUNNING")
    assert pod.id in {p.id for p in await pods.list_pods(api)}
    assert HF_TOKEN not in repr(pod.as_dict())


async def test_a_stop_is_refused_while_a_sweep_runs_on_the_pod_unless_forced(api: PodApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = api.scope_url(HOME_POD_ID)
    store = RunStore.create(tmp_path, {"kind": "sweep", "targets": [url], "servers": {url: {"url": url}}})
    store.update_manifest(status="running")
    with pytest.raises(pods.PodBusyError, match=store.run_id) as info:
        await pods.stop_pod(api, HOME_POD_ID, results_dir=tmp_path)
    assert info.value.run_ids == [store.run_id] and "--force" in str(info.value)
    assert (await pods.get_pod(api, HOME_POD_ID)).status == "running"  # nothing was stopped
    assert (await pods.stop_pod(api, HOME_POD_ID, force=True, results_dir=tmp_path)).status == "stopped"


async def test_a_finished_sweep_or_one_on_another_pod_does_not_block_a_stop(api: PodApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    RunStore.create(tmp_path, {"kind": "sweep", "targets": ["gbc63llq1zdxki"], "status": "running"})
    done = RunStore.create(tmp_path, {"kind": "sweep", "targets": [api.scope_url(HOME_POD_ID)]})
    done.update_manifest(status="complete")
    assert (await pods.stop_pod(api, HOME_POD_ID, results_dir=tmp_path)).status == "stopped"


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("pod_id", ["nosuchpod9", OTHER_ACCOUNT_POD_ID, 'x") { id } }'])
@pytest.mark.parametrize("operation", [pods.get_pod, pods.start_pod, pods.stop_pod])
async def test_an_unknown_or_foreign_or_malformed_pod_id_is_not_found(api: PodApi, operation, pod_id: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pods.PodNotFoundError, match="lab pod list") as info:
        await operation(api, pod_id)
    assert info.value.pod_id == pod_id


async def test_a_wrong_key_is_refused_without_showing_it(sim: SimControl) -> None:
    wrong = "rpa_WRONG0123456789abcdefghijkl"
    with pytest.raises(pods.PodAuthError, match="refused the key") as info:
        await pods.list_pods(PodApi(api_key=wrong, api_url=f"{sim.url}/runpod"))
    assert wrong not in str(info.value) and info.value.action == "list pods"


def test_a_missing_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    with pytest.raises(pods.PodAuthError, match="set RUNPOD_API_KEY"):
        PodApi()


async def test_a_revoked_key_is_refused(api: PodApi, sim: SimControl) -> None:
    runpod_fault(sim, "invalid_key")
    with pytest.raises(pods.PodAuthError):
        await pods.list_pods(api)


@pytest.mark.parametrize("gpu, words", [("RTX 9999", "offers no GPU type 'RTX 9999'"),
                                        ("RTX 3070", "it has 8 GB"), ("NVIDIA RTX A4000", "it has 16 GB")])
async def test_a_gpu_not_offered_or_under_24_gb_is_refused_before_deploying(api: PodApi, gpu: str, words: str) -> None:
    with pytest.raises(pods.GpuNotOfferedError, match=words):
        await pods.create_pod(api, template="daydream-scope", gpu=gpu)
    assert len(await pods.list_pods(api)) == 1


async def test_an_unknown_template_is_refused(api: PodApi) -> None:
    with pytest.raises(pods.TemplateNotFoundError, match="no-such-template"):
        await pods.create_pod(api, template="no-such-template", gpu="RTX 4090")


async def test_an_env_value_the_sdk_cannot_pass_is_refused(api: PodApi) -> None:
    with pytest.raises(pods.PodError, match="cannot pass intact"):
        await pods.create_pod(api, template="daydream-scope", gpu="RTX 4090", env={"X": 'a"b'})


async def test_no_capacity_on_resume_and_on_create(api: PodApi, sim: SimControl) -> None:
    await pods.stop_pod(api, HOME_POD_ID)
    runpod_fault(sim, "no_capacity")
    with pytest.raises(pods.NoCapacityError, match="not enough free GPUs") as info:
        await pods.start_pod(api, HOME_POD_ID)
    assert info.value.pod_id == HOME_POD_ID and (await pods.get_pod(api, HOME_POD_ID)).status == "stopped"
    runpod_fault(sim, "no_capacity")
    with pytest.raises(pods.NoCapacityError, match="no longer any instances"):
        await pods.create_pod(api, template="daydream-scope", gpu="RTX 5090")


async def test_an_unreachable_api(api: PodApi, sim: SimControl) -> None:
    runpod_fault(sim, "unreachable")
    with pytest.raises(pods.PodApiUnreachableError, match="No usable answer"):
        await pods.list_pods(api)
    with pytest.raises(pods.PodApiUnreachableError):
        await pods.list_pods(PodApi(api_key=KEY, api_url="http://127.0.0.1:9/runpod"))  # nothing listens


async def test_the_sdk_missing_names_the_extra(api: PodApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "runpod", None)  # import runpod now raises ImportError
    with pytest.raises(pods.RunpodExtraMissingError, match=r"scope-lab\[runpod\]"):
        await pods.list_pods(api)


async def test_the_api_address_is_set_only_for_the_call(api: PodApi) -> None:
    before = os.environ.get("RUNPOD_API_BASE_URL")
    await pods.list_pods(api)
    assert os.environ.get("RUNPOD_API_BASE_URL") == before


def test_a_key_echoed_by_the_api_or_shaped_like_runpods_is_scrubbed() -> None:
    api = PodApi(api_key="plain-key-without-a-shape", api_url="http://127.0.0.1:9/runpod")
    error = api._refusal("stop the pod", "bad key plain-key-without-a-shape", "abc123def4")
    assert "plain-key-without-a-shape" not in str(error) and "<redacted>" in str(error)
    assert redact("Authorization failed for rpa_ABCDEF0123456789XYZ") == "Authorization failed for <redacted>"
