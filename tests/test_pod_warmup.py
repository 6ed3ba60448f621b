"""lab.pods.warmup against the simulator's emulated RunPod account: every stage of a cold start
held to the simulator's own records (the pod's phase times at /sim/runpod, its downloads and
loads at /sim/state, the session's sent frames), bad inputs, and a failure kept halfway.

The simulator runs 100x fast (tests.conftest): the pod boots in 0.3 s, longlive's models
download in about 1.2 s and load in 0.3 s; the trial streams in real time. All its clocks
and ours are CLOCK_MONOTONIC, so the records compare directly with our stage times."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lab import pods
from lab.pods import PodApi
from lab.pods.locate import PodRef, pod_behind
from lab.pods.timeline import STAGES
from lab.pods.warmup import warm_up
from lab.sim.runpod.config import HOME_POD_ID, RunpodSimConfig
from lab.sim import RunningSimulator, SimConfig, start_simulator
from tests.conftest import SIM_SPEED, SimControl, reset_control
from tests.truth.sent_rates import TOLERANCE, SentUnits, warmup_end_s

KEY = RunpodSimConfig().api_key
POLL_S = 0.05
SLACK_S = 0.15  # a status request's own round trip on a loaded 2-core machine, beyond the poll interval
FIRST_FRAME_SLACK_S = 0.5  # the first frame's encode, key frame and loopback transport
WARMUP_TOLERANCE_S = 0.5  # as tests/test_accuracy.py holds warmup_s to the truth
BAND_SLACK = 0.02


BOOT_S = 100.0  # 1 s at 100x: the proxy's "starting" page shows for 0.4 s, 8 polls


@pytest.fixture(scope="module")
def slow_boot_server() -> Iterator[RunningSimulator]:
    """A simulator whose pod boots slowly enough for every boot phase to be polled several times."""
    with start_simulator(SimConfig(speed=SIM_SPEED, runpod={"boot_s": BOOT_S})) as running:
        yield running


@pytest.fixture
def slow_boot(slow_boot_server: RunningSimulator) -> Iterator[SimControl]:
    yield from reset_control(slow_boot_server)


@pytest.fixture
def home(sim: SimControl) -> Iterator[PodRef]:
    yield PodRef(PodApi(api_key=KEY, api_url=f"{sim.url}/runpod"), HOME_POD_ID)
    sim.reset()


def truth_times(sim: SimControl, requested_at: float) -> dict[str, float]:
    """The simulator's own times of each stage, in seconds after our start request."""
    pod = next(p for p in httpx.get(f"{sim.url}/sim/runpod").json()["pods"] if p["id"] == HOME_POD_ID)
    state = sim.state()
    (download,) = state["downloads"]
    load = state["loads"][-1]
    phases = pod["phase_times"]
    return {"resumed": phases["resumed"] - requested_at, "pod_running": phases["container_up"] - requested_at,
            "proxy_answering": phases["container_up"] - requested_at,
            "scope_healthy": phases["serving"] - requested_at,
            "models_present": download["finished_s"] - requested_at, "pipeline_loaded": load["ended_s"] - requested_at}


def newest_session_frames(sim: SimControl) -> pd.DataFrame:
    sessions = httpx.get(f"{sim.url}/sim/sessions").json()
    return pd.DataFrame(sim.truth(sessions[-1]["session_id"])["frames"])


@pytest.mark.slow  # streams in real time
async def test_a_cold_start_times_each_stage_within_a_poll_of_the_simulators_records(
        slow_boot: SimControl, tmp_path: Path) -> None:
    sim = slow_boot
    home = PodRef(PodApi(api_key=KEY, api_url=f"{sim.url}/runpod"), HOME_POD_ID)
    cold = await warm_up(home, "longlive", restart=True, poll_s=POLL_S, trial_s=8.0, out_dir=tmp_path)
    assert cold.error is None, cold.error
    assert sorted(s.name for s in cold.stages) == sorted(STAGES)  # the first two may come in either order
    assert all(b.at_s >= a.at_s for a, b in zip(cold.stages, cold.stages[1:], strict=False))
    truth = truth_times(sim, cold.requested_at)
    assert cold.stage("pod_running").at_s > 0.3  # type: ignore[union-attr]  # its "starting" phase was polled
    assert 0 <= truth["resumed"] < cold.stage("pod_running").at_s  # type: ignore[union-attr]
    for name in ("pod_running", "proxy_answering", "scope_healthy"):  # seen by the poll after it happened
        stage = cold.stage(name)
        assert stage is not None and stage.resolution_s is not None
        assert stage.at_s - stage.resolution_s - 0.01 <= truth[name] <= stage.at_s + 0.01, (name, stage, truth[name])
    for name in ("models_present", "pipeline_loaded"):  # within one status poll of the truth
        stage = cold.stage(name)
        assert stage is not None
        assert -0.01 <= stage.at_s - truth[name] <= POLL_S + SLACK_S, (name, stage, truth[name])
    frames = newest_session_frames(sim)
    first_sent_s = frames["sent_ns"].iloc[0] / 1e9 - cold.requested_at
    first = cold.stage("first_frame")
    assert first is not None and 0 <= first.at_s - first_sent_s <= FIRST_FRAME_SLACK_S
    units = SentUnits.from_truth(frames, chunked=False)
    ends = [e for e in (warmup_end_s(units, t) for t in (TOLERANCE - BAND_SLACK, TOLERANCE, TOLERANCE + BAND_SLACK))
            if e is not None]
    steady = cold.stage("steady_output")
    assert ends and steady is not None
    assert first_sent_s + min(ends) - WARMUP_TOLERANCE_S <= steady.at_s <= first_sent_s + max(ends) + WARMUP_TOLERANCE_S

    manifest = json.loads((tmp_path / str(cold.run_id) / "manifest.json").read_text())
    assert manifest["kind"] == "pod-warmup" and manifest["status"] == "complete" and manifest["simulated"]
    assert manifest["settings"]["simulator_speed"] == SIM_SPEED  # what the answer says the waits were divided by
    assert sorted(s["name"] for s in manifest["stages"]) == sorted(STAGES)
    assert "SIMULATED" in set(cold.table()["source"]) and "SIMULATED" in cold.describe()
    assert_no_secret(tmp_path)


def assert_no_secret(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data and b"hf_simulated" not in data, path


async def test_a_failure_after_the_start_keeps_the_stages_seen_and_says_where(
        home: PodRef, tmp_path: Path) -> None:
    cold = await warm_up(home, "nosuchpipeline", restart=True, poll_s=POLL_S, out_dir=tmp_path)
    # (the API and the proxy are polled together, and either can be seen first: seen in one
    # loaded run, the proxy's 502 in the poll whose API answer still said "starting")
    assert sorted(s.name for s in cold.stages) == ["pod_running", "proxy_answering", "scope_healthy"]
    assert cold.error is not None and cold.error["class"] == "UnknownPipelineError"
    assert "stopped at models_present: UnknownPipelineError" in cold.describe()
    manifest = json.loads((tmp_path / str(cold.run_id) / "manifest.json").read_text())
    assert manifest["status"] == "error" and len(manifest["stages"]) == 3
    assert_no_secret(tmp_path)


async def test_a_running_pod_is_not_restarted_unless_asked(home: PodRef, tmp_path: Path) -> None:
    with pytest.raises(pods.PodError, match="--restart"):
        await warm_up(home, "passthrough", out_dir=tmp_path)
    assert (await pods.get_pod(home.api, HOME_POD_ID)).status == "running" and not list(tmp_path.iterdir())


async def test_no_capacity_on_the_start_is_raised_and_leaves_no_run(home: PodRef, sim: SimControl,
                                                                      tmp_path: Path) -> None:
    await pods.stop_pod(home.api, HOME_POD_ID)
    httpx.post(f"{sim.url}/sim/runpod/faults", json={"kind": "no_capacity", "count": 1}).raise_for_status()
    with pytest.raises(pods.NoCapacityError, match="not enough free GPUs"):
        await warm_up(home, "passthrough", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("pod_id", ["nosuchpod9", "otheracct02"])
async def test_an_unknown_pod_is_not_found(home: PodRef, pod_id: str, tmp_path: Path) -> None:
    with pytest.raises(pods.PodNotFoundError, match="lab pod list"):
        await warm_up(PodRef(home.api, pod_id), "passthrough", out_dir=tmp_path)


def test_the_cli_prints_the_stage_table_and_exits_2_on_a_failure(
        home: PodRef, sim: SimControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from lab.cli import main

    monkeypatch.setenv("RUNPOD_API_KEY", KEY)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", f"{sim.url}/runpod")
    code = main(["pod", "warmup", HOME_POD_ID, "--pipeline", "nosuchpipeline", "--restart", "--poll-s", "0.05",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2 and "[SIMULATED]" in out and "scope_healthy" in out and KEY not in out
    monkeypatch.delenv("RUNPOD_API_KEY")
    assert main(["pod", "warmup", HOME_POD_ID, "--out", str(tmp_path)]) == 2
    assert "set RUNPOD_API_KEY" in capsys.readouterr().err


async def test_the_pod_behind_a_target(sim: SimControl) -> None:
    ref = await pod_behind(sim.url)
    assert ref is not None and ref.pod_id == HOME_POD_ID and ref.api.simulated
    proxied = await pod_behind(f"{sim.url}/runpod/proxy/abc123def4-8000")
    assert proxied is not None and proxied.pod_id == "abc123def4"
    assert await pod_behind("https://example.org") is None
