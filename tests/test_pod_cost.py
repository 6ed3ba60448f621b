"""Pod cost in sweeps (lab.pods.cost): the plan prices the pod from its own $/h, the manifest
keeps $/h, pod time and dollars, the report shows $ per run and per trial, and the pod is
stopped after the last trial (--stop-pod-when-done) or said to bill idle.

Against the simulator's emulated RunPod account: its home pod is the simulator's Scope and
bills $0.89/h (SIMULATED). The price is checked against the emulated API's own costPerHr,
asked directly; the pod time against how long the sweep took."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.pods.cost import dollars_text, pod_price
from lab.report.cost import run_cost
from lab.sim.runpod.config import HOME_POD_ID, RunpodSimConfig
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep
from lab.target import Target
from tests.conftest import SimControl

KEY = RunpodSimConfig().api_key
QUICK = {"duration_s": 1.0, "settle_timeout_s": 1.0, "repeats": 1, "pipelines": ["passthrough"]}


def emulated_cost_per_h(sim: SimControl) -> float:
    """The home pod's costPerHr as the emulated API itself answers it."""
    answer = httpx.post(f"{sim.url}/runpod/graphql", headers={"Authorization": f"Bearer {KEY}"},
                        json={"query": f'query {{ pod(input: {{podId: "{HOME_POD_ID}"}}) {{ costPerHr }} }}'})
    return float(answer.raise_for_status().json()["data"]["pod"]["costPerHr"])


def home_phase(sim: SimControl) -> str:
    pods = httpx.get(f"{sim.url}/sim/runpod").raise_for_status().json()["pods"]
    return str(next(p for p in pods if p["id"] == HOME_POD_ID)["phase"])


def failing_load(sim: SimControl) -> None:
    """The one load of a QUICK sweep fails: its trial is an error row, and nothing streams."""
    sim.fault("http_error", paths=["/api/v1/pipeline/load"], status=500, count=1, message="boom")


async def swept(sim: SimControl, tmp_path: Path, **options: Any) -> tuple[dict[str, Any], list[str], float]:
    """The sweep's manifest, what it said, and how long run_sweep took (s)."""
    said: list[str] = []
    started = time.perf_counter()
    outcome = await run_sweep(load_spec(QUICK), targets=[sim.url], out_dir=tmp_path, progress=False,
                              say=said.append, **options)
    assert outcome.root is not None
    return json.loads((outcome.root / "manifest.json").read_text()), said, time.perf_counter() - started


async def test_the_dry_run_plan_prices_the_simulators_pod_from_its_own_rate(sim: SimControl) -> None:
    outcome = await run_sweep(load_spec({**QUICK, "pipelines": ["passthrough", "gray"]}), targets=[sim.url],
                              dry_run=True, progress=False)
    price = outcome.plan.prices[sim.url]
    assert price is not None and price.simulated and price.pod_id == HOME_POD_ID
    assert price.cost_per_h == emulated_cost_per_h(sim) == 0.89
    seconds = outcome.plan.estimates_s[sim.url]
    line = next(line for line in outcome.plan.describe().splitlines() if sim.url in line)
    assert f"about {dollars_text(seconds * 0.89 / 3600)} at $0.89/h" in line and "SIMULATED" in line


async def test_a_failed_sweep_stops_its_pod_when_asked_and_keeps_the_bill(sim: SimControl, tmp_path: Path) -> None:
    failing_load(sim)
    manifest, said, swept_s = await swept(sim, tmp_path, stop_pod_when_done=True)
    assert load_runs(tmp_path).trials["status"].tolist() == ["error"]
    assert home_phase(sim) == "stopped" and any("stopped (--stop-pod-when-done)" in s for s in said)
    bill = manifest["pods"][sim.url]
    assert bill["cost_per_h"] == emulated_cost_per_h(sim) and bill["after"] == "stopped"
    assert swept_s - 1.0 <= bill["pod_s"] <= swept_s  # priced first thing while planning, billed to the end
    assert bill["dollars"] == pytest.approx(0.89 * bill["pod_s"] / 3600, abs=0.89 * 0.01 / 3600)  # pod_s to 0.01 s
    cost = run_cost(manifest)
    assert cost.startswith(dollars_text(bill["dollars"]) + " SIMULATED, ") and "per trial (1 trials)" in cost
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes()


async def test_a_sweep_that_leaves_its_pod_running_says_it_bills_idle(sim: SimControl, tmp_path: Path) -> None:
    failing_load(sim)
    manifest, said, _ = await swept(sim, tmp_path)
    assert home_phase(sim) == "serving" and manifest["pods"][sim.url]["after"] == "idle-billed"
    assert any(f"pod {HOME_POD_ID}" in s and "still RUNNING" in s and "$0.89/h while idle (SIMULATED)" in s
               for s in said), said


@pytest.mark.slow  # streams in real time
async def test_a_successful_sweep_stops_its_pod_when_asked(sim: SimControl, tmp_path: Path) -> None:
    manifest, _, _ = await swept(sim, tmp_path, stop_pod_when_done=True)
    assert load_runs(tmp_path).trials["status"].tolist() == ["ok"]
    assert home_phase(sim) == "stopped" and manifest["pods"][sim.url]["after"] == "stopped"


async def test_a_pod_target_without_a_key_has_no_price_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    price = await pod_price(Target.parse("gbc63llq1zdxki"), simulated=False)
    assert price.cost_per_h is None and "set RUNPOD_API_KEY" in str(price.why_unknown)
    assert price.describe(60).startswith("cost unknown: No RunPod API key")
    local = await pod_price(Target.parse("http://127.0.0.1:9"), simulated=False)
    assert local.why_unknown == "not a RunPod pod"


async def test_the_pod_is_not_stopped_under_another_sweep_still_running_on_it(sim: SimControl, tmp_path: Path) -> None:
    from lab.store import RunStore

    proxied = f"{sim.url}/runpod/proxy/{HOME_POD_ID}-8000"  # the pod's address as lab.pods knows it
    other = RunStore.create(tmp_path, {"kind": "sweep", "targets": [proxied], "servers": {proxied: {"url": proxied}}})
    other.update_manifest(status="running")
    failing_load(sim)
    manifest, said, _ = await swept(sim, tmp_path, stop_pod_when_done=True)
    assert home_phase(sim) == "serving" and manifest["pods"][sim.url]["after"].startswith("unknown: Not stopping")
    assert any("could not stop" in s and other.run_id in s for s in said), said


def test_a_hosted_api_run_has_no_pod_to_price() -> None:
    hosted = {"servers": {"daydream:sim": {"kind": "daydream"}}}
    assert run_cost(hosted).startswith("no pod: Daydream's hosted API bills by its own plan")
    mixed = {"servers": {"sim": {"version": "0.2.4"}, "daydream:sim": {"kind": "daydream"}}}
    assert run_cost(mixed).startswith("not recorded")  # a Scope server's run without bills is an old one
