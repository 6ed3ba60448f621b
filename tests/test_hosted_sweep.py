"""Sweeps with a hosted target (``daydream:``): beside a Scope target, bad input, a killed run resumed.

Every check of what is left behind reads the simulator's own stream list (``GET
/sim/hosted``, deleted streams included), never the workbench's view of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lab import resources
from lab.hosted_errors import HostedKeyError
from lab.report.compare import compare_runs
from lab.report.writer import write_report
from lab.sim.hosted.config import SIM_API_KEY
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep, sweep_table
from lab.sweep.spec import SpecError
from tests.conftest import ROOT, SimControl

HOSTED = {"params": {"model_id": "stabilityai/sd-turbo", "prompt": "a lighthouse at dusk"}, "poll_s": 0.05}
CONNECTION = ("load_s", "signalling_s", "connect_s", "first_frame_s", "ttff_s", "fps_out", "stalls",
              "interval_p95", "server_fps_out")


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAYDREAM_API_KEY", SIM_API_KEY)


def streams(sim: SimControl) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sim.url}/sim/hosted", timeout=10).raise_for_status().json()["streams"])


def live(sim: SimControl) -> list[dict[str, Any]]:
    return [s for s in streams(sim) if not s["deleted"]]


def hosted_spec(sim: SimControl, **changes: Any) -> dict[str, Any]:
    return {"name": "hosted-test", "targets": [f"daydream:{sim.url}"], "pipelines": [], "duration_s": 3,
            "hosted": HOSTED, **changes}


@pytest.mark.slow
async def test_a_scope_and_a_hosted_target_in_one_run_and_table(sim: SimControl, tmp_path: Path) -> None:
    hosted = f"daydream:{sim.url}"
    spec = load_spec(hosted_spec(sim, targets=[sim.url, hosted], pipelines=["passthrough"]))
    outcome = await run_sweep(spec, out_dir=tmp_path, progress=False)
    runs = load_runs(tmp_path, [outcome.run_id])
    trials = runs.trials.set_index("target")
    assert set(trials.index) == {sim.url, hosted} and set(trials["status"]) == {"ok"}
    assert trials.loc[hosted, "pipeline_id"] == "streamdiffusion" and trials.loc[hosted, "via"] == "whip"
    for name in CONNECTION:  # the same figure names as the Scope trial's, with values
        assert pd_value(trials.loc[hosted, name]) is not None and pd_value(trials.loc[sim.url, name]) is not None, name
    manifest = json.loads((tmp_path / outcome.run_id / "manifest.json").read_text())
    assert manifest["targets"] == [sim.url, hosted]
    assert manifest["servers"][hosted]["kind"] == "daydream" and "kind" not in manifest["servers"][sim.url]
    assert SIM_API_KEY not in (tmp_path / outcome.run_id / "manifest.json").read_text()
    table = sweep_table(runs.trials)
    assert list(table["target"]) == [sim.url, hosted] and set(table["source"]) == {"SIMULATED"}
    comparison = compare_runs(outcome.run_id, outcome.run_id, tmp_path)
    assert set(comparison.shown()["target"]) == {sim.url, hosted}
    report = write_report([outcome.run_id], tmp_path, per_run=False, html=tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert report.simulated and hosted in html and "streamdiffusion" in html
    assert streams(sim) and live(sim) == []
    plan = outcome.plan.describe()  # the Scope pod is priced; the hosted API has no pod
    assert f"{hosted}: about" in plan and "min of streams (no pod: Daydream's hosted API bills" in plan


def pd_value(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


async def test_refused_params_and_models_are_rows_and_leave_no_stream(sim: SimControl, tmp_path: Path) -> None:
    load = {"guidance_scale": [-1.0], "model_id": ["stabilityai/sd-turbo", "acme/not-a-model"]}
    outcome = await run_sweep(load_spec(hosted_spec(sim, hosted={**HOSTED, "load": load})), out_dir=tmp_path,
                              progress=False)
    rows = load_runs(tmp_path, [outcome.run_id]).trials.set_index("condition")
    refused = rows.loc["guidance_scale=-1.0 model_id=stabilityai/sd-turbo", "error"]
    assert refused["class"] == "HostedParamsError" and refused["phase"] == "create"
    assert "guidance_scale" in refused["message"] and "Fix these fields" in refused["message"]
    unknown = rows.loc["guidance_scale=-1.0 model_id=acme/not-a-model", "error"]
    assert unknown["class"] == "HostedModelError" and "stabilityai/sd-turbo" in unknown["message"]
    assert set(rows["status"]) == {"error"} and streams(sim) == []
    # a run of the hosted API alone is reported, but never written into the log's Scope column
    log = tmp_path / "research-log.md"
    log.write_bytes(resources.LOG_TEMPLATE.read_bytes())
    report = write_report([outcome.run_id], tmp_path, log=log, per_run=False)
    assert log.read_bytes() == resources.LOG_TEMPLATE.read_bytes() and "not updated" in report.describe()


async def test_a_missing_or_refused_key_stops_the_sweep_before_it_starts(sim: SimControl, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAYDREAM_API_KEY")
    with pytest.raises(HostedKeyError, match="DAYDREAM_API_KEY is not set"):
        await run_sweep(load_spec(hosted_spec(sim)), out_dir=tmp_path, progress=False)
    monkeypatch.setenv("DAYDREAM_API_KEY", "sk_wrong_key_for_this_test_123456")
    with pytest.raises(HostedKeyError, match="refused the API key"):
        await run_sweep(load_spec(hosted_spec(sim)), out_dir=tmp_path, progress=False)
    with pytest.raises(SpecError, match="has none"):
        await run_sweep(load_spec(hosted_spec(sim, hosted=None)), out_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == [] and streams(sim) == []


def _sweep(args: list[str], out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DAYDREAM_API_KEY": SIM_API_KEY}
    return subprocess.Popen([sys.executable, "-m", "lab.cli", "sweep", *args, "--out", str(out), "--no-progress"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _rows(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in out.glob("*/trials.jsonl"))


def _stop_while_streaming(sim: SimControl, process: subprocess.Popen[str], sig: signal.Signals, out: Path) -> str:
    """Send ``sig`` once a row is stored and a new stream of the sweep plays; the process's output."""
    deadline = time.monotonic() + 60
    before = {s["stream_id"] for s in streams(sim)}
    while not (_rows(out) and any(s["hosted_state"] == "ONLINE" and s["stream_id"] not in before for s in live(sim))):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    time.sleep(0.5)  # frames are flowing
    process.send_signal(sig)
    return process.communicate(timeout=60)[0]


@pytest.mark.slow
def test_a_killed_sweep_resumed_leaves_no_stream_and_keeps_its_rows(sim: SimControl, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(hosted_spec(sim, repeats=3)))
    out = tmp_path / "results"
    # SIGKILL in the second trial: nothing can delete that stream but the next attempt, which finds it by its name
    killed = _sweep([str(spec)], out)
    _stop_while_streaming(sim, killed, signal.SIGKILL, out)
    (run_id,) = [p.name for p in out.iterdir()]
    left = live(sim)
    assert len(left) == 1
    # SIGINT (Ctrl-C) in the resumed run: its own stream is deleted on the way out, its rows kept
    interrupted = _sweep([str(spec), "--resume", run_id], out)
    said = _stop_while_streaming(sim, interrupted, signal.SIGINT, out)
    assert interrupted.returncode == 130, said
    assert f"deleted stream {left[0]['stream_id']}" in said and live(sim) == []
    kept = load_runs(out, [run_id]).trials
    assert len(kept) == 1 and set(kept["status"]) == {"ok"}  # the killed run's; each stop lost its trial in flight
    assert json.loads((out / run_id / "manifest.json").read_text())["status"] == "interrupted"
    finished = _sweep([str(spec), "--resume", run_id], out)
    said = finished.communicate(timeout=120)[0]
    assert finished.returncode == 0, said
    trials = load_runs(out, [run_id]).trials
    assert len(trials) == trials["trial_id"].nunique() == 3 and set(trials["status"]) == {"ok"}
    assert set(kept["trial_id"]) <= set(trials["trial_id"])
    assert live(sim) == [] and len(streams(sim)) >= 4


def test_the_nexus_spec_holds_the_logs_production_settings_and_the_api_takes_them() -> None:
    from lab.hosted.client import _sdk
    from lab.sim.hosted.params import check_create

    rows = {}
    for line in resources.LOG_TEMPLATE.read_text().splitlines():
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and "Nexus" in cells[2]:
            rows.setdefault(cells[0], cells[1])
    spec = load_spec("nexus")
    assert spec.hosted is not None
    params = spec.hosted.params
    assert params["model_id"] == rows["Model"]
    assert f"{params['width']}×{params['height']}" == rows["Resolution"]
    assert (params["num_inference_steps"], params["guidance_scale"], params["delta"]) == (
        int(rows["Steps"]), float(rows["Guidance"]), float(rows["Delta"]))
    assert rows["ControlNets"] == "SD2.1 set"
    assert all("-sd21-" in c["model_id"] for c in params["controlnets"]) and len(params["controlnets"]) == 5
    body = {"pipeline": "streamdiffusion", "params": params}
    _sdk().models.CreateStreamRequest.model_validate(body)  # the SDK's own models accept it
    assert check_create(body) == []
