"""``lab doctor POD`` with ``RUNPOD_API_KEY`` set: the API's view of the pod as a row, the
remedies for a stopped pod, an unexposed port 8000 and a missing HF_TOKEN, and (against the
simulator's emulated API) every request kept on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lab.doctor import DoctorReport, run_doctor
from lab.doctor.pod_api import pod_verdict, check_pod_api
from lab.doctor.state import DoctorRun
from lab.pods.facts import pod_facts
from lab.sim.runpod.config import HOME_POD_ID, OTHER_ACCOUNT_POD_ID, RunpodSimConfig
from lab.target import Target
from tests.conftest import SimControl

KEY = RunpodSimConfig().api_key


@pytest.fixture
def emulated(sim: SimControl, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimControl]:
    monkeypatch.setenv("RUNPOD_API_KEY", KEY)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", f"{sim.url}/runpod")
    yield sim
    sim.reset()


def row(report, name: str):  # type: ignore[no-untyped-def]
    return next(check for check in report.checks if check.name == name)


async def test_a_running_pod_gets_the_apis_view_and_is_checked_on_loopback(emulated: SimControl) -> None:
    report = await run_doctor(HOME_POD_ID, stream=False)
    api = row(report, "runpod api")
    assert api.status == "pass"
    for fact in ("RUNNING", "RTX 5090", "$0.89/h", "8000/http", "HF_TOKEN set", "SIMULATED"):
        assert fact in api.value
    assert report.url == f"{emulated.url}/runpod/proxy/{HOME_POD_ID}-8000"
    assert row(report, "health").status == "pass" and report.simulated
    assert "hf_simulated" not in json.dumps(report.as_dict()) and KEY not in json.dumps(report.as_dict())


async def test_a_stopped_pod_fails_with_the_start_command(emulated: SimControl) -> None:
    from lab import pods

    await pods.stop_pod(pods.PodApi(), HOME_POD_ID)
    report = await run_doctor(HOME_POD_ID, stream=False)
    assert row(report, "runpod api").status == "fail" and f"lab pod start {HOME_POD_ID}" in row(report, "runpod api").remedy
    assert row(report, "health").status == "fail" and report.exit_code == 2


async def test_another_accounts_pod_fails_and_nothing_else_is_reached(emulated: SimControl) -> None:
    report = await run_doctor(OTHER_ACCOUNT_POD_ID, stream=False)
    assert row(report, "runpod api").status == "fail" and "another account" in row(report, "runpod api").remedy
    assert {c.status for c in report.checks if c.name not in ("target", "runpod api")} == {"skip"}


@pytest.mark.parametrize("target, key", [(HOME_POD_ID, ""), ("http://127.0.0.1:8000", KEY)])
async def test_no_api_row_without_a_key_or_for_a_target_that_is_no_pod(
        emulated: SimControl, monkeypatch: pytest.MonkeyPatch, target: str, key: str) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", key)
    run = DoctorRun(DoctorReport(target), judge_as_remote=False, deep=False, stream=False)
    run.target = Target.parse(target)  # the check alone: the doctor would go on to a real pod's proxy
    assert await check_pod_api(run) is None and run.blocked_by is None


POD = {"id": "abc123def4", "desiredStatus": "RUNNING", "costPerHr": 0.89, "uptimeSeconds": 60, "ports": "8000/http",
       "env": ["HF_TOKEN=hf_secretvaluenotshown1234"], "runtime": {"ports": []}, "machine": {"gpuDisplayName": "RTX 5090"}}


def test_port_8000_not_exposed_gets_that_remedy() -> None:
    check = pod_verdict(pod_facts(POD | {"ports": "8888/http,22/tcp"}, scope_url="x", simulated=False), False)
    assert check.status == "fail" and "expose 8000/http" in (check.remedy or "") and "8888/http" in check.value


def test_a_pod_without_hf_token_warns_and_a_value_is_never_shown() -> None:
    check = pod_verdict(pod_facts(POD | {"env": ["OTHER=1"]}, scope_url="x", simulated=False), False)
    assert check.status == "warn" and "Add HF_TOKEN" in (check.remedy or "")
    passing = pod_verdict(pod_facts(POD, scope_url="x", simulated=False), False)
    assert passing.status == "pass" and "hf_secret" not in passing.value
