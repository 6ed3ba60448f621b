"""The runner: rows and files per trial, failures as rows, resumable after SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.sim import SimConfig, start_simulator
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep
from tests.conftest import ROOT, SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

QUICK = {"duration_s": 1.5, "settle_timeout_s": 1.0, "repeats": 1}


async def test_a_sweep_records_every_trial_with_its_frames_and_samples(sim: SimControl, tmp_path: Path) -> None:
    spec = load_spec({**QUICK, "pipelines": ["passthrough", "gray"], "runtime": {"noise_scale": [0.3, 0.7]}})
    outcome = await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    runs = load_runs(tmp_path)
    trials = runs.trials.set_index("trial_id")
    assert sorted(trials.index) == sorted(t.trial_id for t in outcome.plan.trials) and len(trials) == 4
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    assert trials["simulated"].all()
    assert set(trials["segment"]) == {0, 1}
    first = trials[trials["segment"] == 0]
    assert first["ttff_s"].notna().all() and first["load_s"].notna().all()
    later = trials[trials["segment"] == 1]
    assert later["load_s"].isna().all() and "settle_s" in later  # no reload, no new connection
    assert (trials["fps_out"] > 10).all()
    root = outcome.root
    assert root is not None
    for trial_id in trials.index:
        assert len(runs.frames(outcome.run_id, trial_id)) == trials.loc[trial_id, "frames"] > 0
        assert len(list((root / "samples").glob(f"{trial_id}-*.jpg"))) == 3
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["simulated"] is True
    # estimate per load group (planner's costs): a 5 s load (no models) + one session's 5 s
    # + 2 segments x 1.5 s + one settle of 2 s between them = 15 s; two groups: 30 s
    assert manifest["plan"] == {"trials": 4, "skipped": 0, "loads": 2, "naive_loads": 4, "estimated_s": 30.0}
    assert manifest["servers"][sim.url]["schemas"]["gray"]["id"] == "gray"
    assert manifest["timing"][sim.url]["loads"] == 2


async def test_vace_reference_images_are_uploaded_once_and_sent_by_server_path(sim: SimControl, tmp_path: Path) -> None:
    sim.put("/sim/models", {"longlive": True})
    spec = load_spec({**QUICK, "duration_s": 3.0, "settle_timeout_s": 10.0, "pipelines": ["longlive"],
                      "load": {"vace_enabled": [True]}, "runtime": {"vace_ref_images": [0, 2]},
                      "parameters": {"prompts": [{"text": "a fox", "weight": 1.0}]}})
    outcome = await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    trials = load_runs(tmp_path).trials.sort_values("segment")
    assert trials["status"].tolist() == ["ok", "ok"], trials["error"].tolist()
    assert trials["vace_ref_count"].tolist() == [0, 2]
    assert trials["settle_s"].iloc[1] > 0  # the references visibly changed the output
    references = json.loads((outcome.root / "manifest.json").read_text())["references"][sim.url]
    assert len(references) == 4 and all(Path(p).is_absolute() for p in references)
    assets = sim._http.get("/api/v1/assets").json()["assets"]
    assert sorted(a["path"] for a in assets) == sorted(references)  # uploaded once, nothing else


async def test_failures_become_rows_and_the_sweep_goes_on(sim: SimControl, tmp_path: Path) -> None:
    sim.fault("http_error", paths=["/api/v1/pipeline/load"], status=500, count=1, message="boom")
    sim.fault("oom", count=1)
    sim.fault("stream_stopped", after_s=0.3, count=1, message="pipeline crashed")
    spec = load_spec({**QUICK, "pipelines": ["passthrough", "gray", "optical-flow", "rife"],
                      "runtime": {"noise_scale": [0.3, 0.7]}})
    sim.put("/sim/models", {"rife": True})
    await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    trials = load_runs(tmp_path).trials
    by_pipeline = {p: g.sort_values("segment") for p, g in trials.groupby("pipeline_id")}
    assert len(trials) == 8
    first = by_pipeline["passthrough"]["error"].tolist()
    assert [e["phase"] for e in first] == ["load", "load"] and first[0]["class"] == "ServerError"
    second = by_pipeline["gray"]["error"].tolist()
    assert [e["phase"] for e in second] == ["load", "load"] and second[0]["class"] == "PipelineLoadError"
    stopped = by_pipeline["optical-flow"]["error"].tolist()
    assert stopped[0]["class"] == "StreamStoppedError" and stopped[0]["phase"] == "stream"
    assert stopped[1]["phase"] == "not run"
    assert by_pipeline["rife"]["status"].tolist() == ["ok", "ok"]


def test_a_killed_sweep_resumes_without_repeating_a_trial(sim: SimControl, tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump({**QUICK, "duration_s": 1.0, "pipelines": ["passthrough", "gray"],
                                         "runtime": {"noise_scale": [0.2, 0.5, 0.8]}}))
    out = tmp_path / "results"
    command = [sys.executable, "-m", "lab.cli", "sweep", str(spec_path), "--target", sim.url, "--out", str(out),
               "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _rows(out) < 2:
            time.sleep(0.1)
        assert _rows(out) >= 2, "the sweep wrote no rows within 60 s"
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    (run_dir,) = out.iterdir()
    killed_at = _rows(out)
    assert killed_at < 6, "the sweep finished before it could be killed"
    resumed = subprocess.run([*command, "--resume", run_dir.name], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=90)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{6 - killed_at} rows written now, {killed_at} earlier" in resumed.stdout
    rows = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    ids = [r["trial_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 6
    assert {r["status"] for r in rows} == {"ok"}


def _rows(out: Path) -> int:
    files = list(out.glob("*/trials.jsonl"))
    return files[0].read_text().count("\n") if files else 0


@contextlib.contextmanager
def sigint_at_its_default() -> Iterator[None]:
    """Start children as a terminal would, with SIGINT at its default (Ctrl-C interrupts).

    A test run started in the background (a shell's ``&``, as CI may) ignores SIGINT, and so
    would its children: the sweep then ignored the Ctrl-C and ran to the end (exit 0, three
    times in pytest-xdist workers). A Python handler here is reset to the default on exec.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_keeps_the_rows_and_says_how_to_resume(sim: SimControl, tmp_path: Path) -> None:
    values = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # about 10 s of segments after the first row
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump({**QUICK, "duration_s": 1.0, "pipelines": ["passthrough"],
                                         "runtime": {"noise_scale": values}}))
    out = tmp_path / "results"
    command = [sys.executable, "-m", "lab.cli", "sweep", str(spec_path), "--target", sim.url, "--out", str(out),
               "--no-progress"]
    with sigint_at_its_default():
        process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _rows(out) < 1 and process.poll() is None:
        time.sleep(0.05)
    ended_first = process.poll() is not None
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    rows = [json.loads(line) for path in out.glob("*/trials.jsonl") for line in path.read_text().splitlines()]
    story = (f"exit {process.returncode}; rows {[(r.get('status'), r.get('error')) for r in rows]}\n"
             f"stdout: {stdout[-1500:]}\nstderr: {stderr[-1500:]}")
    assert not ended_first, f"the sweep ended before Ctrl-C was sent: {story}"
    assert process.returncode == 130, story
    (run_dir,) = out.iterdir()
    assert f"--resume {run_dir.name}" in stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert 1 <= len(rows) < len(values), story


async def test_several_targets_run_concurrently(sim: SimControl, tmp_path: Path) -> None:
    spec = load_spec({**QUICK, "duration_s": 2.0, "repeats": 2, "pipelines": ["passthrough"]})
    with start_simulator(SimConfig(speed=100)) as other:
        started = time.perf_counter()
        outcome = await run_sweep(spec, targets=[sim.url, other.url], out_dir=tmp_path, progress=False)
        elapsed = time.perf_counter() - started
    trials = load_runs(tmp_path).trials
    assert trials.groupby("target")["status"].apply(list).to_dict() == {sim.url: ["ok", "ok"], other.url: ["ok", "ok"]}
    walls = [t.wall_s for t in outcome.timing.values()]
    # one after the other would take the sum of both targets' times; together, about the longer one
    assert elapsed < 0.75 * sum(walls), f"{elapsed:.1f} s elapsed for targets busy {walls} s"
