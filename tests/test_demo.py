"""``lab demo``: its sizes and arguments, the stop on a failed deploy check, its progress bar,
and a papermill kernel that does not warn about unencrypted TCP."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from lab.cli import build_parser
from lab.demo import FULL, KERNEL_CONFIG, QUICK, DemoSize, RunProgress, demo_size, deploy_check
from lab.logbook.server_runs import MIN_TRIALS_FOR_CI
from lab.store import RunStore


def _demo_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["demo", *argv])


def test_the_quick_look_is_the_default_and_full_the_long_version() -> None:
    assert demo_size(_demo_args()) is QUICK
    assert demo_size(_demo_args("--full")) is FULL
    quick_pipelines = QUICK.sweeps["02-pipeline-sweep.ipynb"]["pipelines"]
    assert set(quick_pipelines) < set(FULL.sweeps["02-pipeline-sweep.ipynb"]["pipelines"])
    assert set(QUICK.sweeps["03-vace-sweep.ipynb"]["ref_counts"]) < set(FULL.sweeps["03-vace-sweep.ipynb"]["ref_counts"])
    assert not QUICK.run_reports and FULL.run_reports


@pytest.mark.parametrize("size", [QUICK, FULL], ids=["quick", "full"])
def test_every_speed_condition_gets_enough_trials_for_a_confidence_interval(size: DemoSize) -> None:
    speed_sweeps = [parameters for name, parameters in size.sweeps.items() if not name.startswith("07-")]
    assert len(speed_sweeps) == 2
    assert all(parameters["repeats"] >= MIN_TRIALS_FOR_CI for parameters in speed_sweeps)


def test_the_avatar_sweep_runs_longer_trials_than_the_speed_sweeps() -> None:
    # Identity drift is a slope over a trial: it needs more than the speed sweeps' 3 s.
    for size in (QUICK, FULL):
        assert size.duration_s_of("07-avatar-quality.ipynb") > size.duration_s_of("02-pipeline-sweep.ipynb") == 3.0
    assert FULL.sweeps["07-avatar-quality.ipynb"]["repeats"] >= MIN_TRIALS_FOR_CI


def test_duration_overrides_the_size_and_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    size = demo_size(_demo_args("--full", "--duration", "5"))
    assert size.duration_s == 5.0 and size.sweeps.keys() == FULL.sweeps.keys()
    assert {size.duration_s_of(name) for name in size.sweeps} == {5.0}  # every sweep, the avatar one too
    assert size.sweeps["02-pipeline-sweep.ipynb"]["pipelines"] == FULL.sweeps["02-pipeline-sweep.ipynb"]["pipelines"]
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SystemExit) as exit_info:
            _demo_args("--duration", bad)
        assert exit_info.value.code == 2
        assert f"{bad!r} is not a number of seconds above 0" in capsys.readouterr().err


def test_the_heading_says_what_each_sweep_measures() -> None:
    assert QUICK.describe("02-pipeline-sweep.ipynb") == "3 pipelines, 3 trials each of 3 s"
    assert QUICK.describe("03-vace-sweep.ipynb") == ("1 pipeline, VACE off and on with 2 reference images, "
                                                     "3 trials each of 3 s")
    assert QUICK.describe("07-avatar-quality.ipynb") == ("1 pipeline, VACE off and on at context scales "
                                                         "0.5/1.0/1.5, 1 trial each of 6 s")


def test_the_integration_sweep_reads_every_path_and_keeps_its_own_length() -> None:
    for size in (QUICK, FULL):
        spec = size.integration_spec()
        assert spec.via == ["webrtc", "headless-ts", "headless-frame"]
        assert spec.duration_s > max(control.at_s for control in spec.controls)  # the prompt change is measured
    assert demo_size(_demo_args("--duration", "2")).integration_spec() == QUICK.integration_spec()
    assert QUICK.describe_integration() == ("1 pipeline read over WebRTC, headless output.ts, headless "
                                            "/session/frame polling, 1 trial each of 6 s")


def test_a_failed_deploy_check_stops_the_demo_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert deploy_check(url) is False
    captured = capsys.readouterr()
    assert "FAIL  tcp" in captured.out
    assert "The deploy check failed (lab doctor exit 2)" in captured.err and "the demo stops here" in captured.err


def test_progress_follows_the_rows_of_the_new_run_only(tmp_path: Path) -> None:
    older = RunStore.create(tmp_path, {"kind": "sweep", "plan": {"trials": 9, "skipped": 0}})
    older.append_trial({"trial_id": "old-1", "pipeline_id": "gray", "condition": "default"})
    progress = RunProgress(tmp_path, "02-pipeline-sweep", interval_s=0.05)
    with progress:
        assert progress.bar.n == 0 and "starting the kernel" in str(progress.bar.postfix)
        store = RunStore.create(tmp_path, {"kind": "sweep", "plan": {"trials": 3, "skipped": 1}})
        store.append_trial({"trial_id": "a-1", "pipeline_id": "rife", "condition": "default", "status": "skipped"})
        store.append_trial({"trial_id": "b-1", "pipeline_id": "longlive", "condition": "vace_enabled=true"})
    assert (progress.bar.n, progress.bar.total) == (2, 4)  # the skipped row counts: the plan lists it
    assert str(progress.bar.postfix).endswith("done: longlive vace_enabled=true")


def test_the_notebook_kernel_does_not_warn_about_unencrypted_tcp(tmp_path: Path,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    notebook = new_notebook(cells=[new_code_cell("print(6 * 7)")],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, tmp_path / "in.ipynb")
    papermill.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", kernel_name="python3",
                               progress_bar=False, config=Config(KERNEL_CONFIG))
    assert "42" in (tmp_path / "out.ipynb").read_text()
    assert "without encryption" not in capfd.readouterr().err  # the kernel's stderr is this process's


def test_the_hosted_stage_measures_nexus_briefly_with_the_simulators_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.demo import _simulated_key
    from lab.sim.hosted.config import SIM_API_KEY

    for size in (QUICK, FULL):
        spec = size.hosted_spec()
        assert spec.name == "nexus" and spec.repeats >= 3 and spec.hosted is not None
        assert all(control.at_s + 1.0 < spec.duration_s for control in spec.hosted.controls)  # its response fits
    assert QUICK.hosted_spec().duration_s <= 6
    monkeypatch.setenv("DAYDREAM_API_KEY", "sk_the_shells_own_key_000000")
    with _simulated_key():
        assert os.environ["DAYDREAM_API_KEY"] == SIM_API_KEY
    assert os.environ["DAYDREAM_API_KEY"] == "sk_the_shells_own_key_000000"
    monkeypatch.delenv("DAYDREAM_API_KEY")
    with _simulated_key():
        pass
    assert "DAYDREAM_API_KEY" not in os.environ
