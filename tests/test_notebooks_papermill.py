"""The sweep notebooks as papermill runs them against a pod: parameters in, a run folder out."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

from lab.store import load_runs
from tests.conftest import ROOT, SimControl

pytestmark = pytest.mark.slow  # runs notebook kernels or renders reports: `make check` leaves it out

NOTEBOOKS = ROOT / "notebooks"


def _execute(name: str, tmp_path: Path, **parameters: object) -> Path:
    out = tmp_path / "results"
    papermill.execute_notebook(NOTEBOOKS / name, tmp_path / name, parameters={**parameters, "out_dir": str(out)},
                               cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    (run_dir,) = out.iterdir()
    return run_dir


def test_pipeline_sweep_notebook_leaves_a_complete_run_folder(sim: SimControl, tmp_path: Path) -> None:
    run_dir = _execute("02-pipeline-sweep.ipynb", tmp_path, target=sim.url, duration_s=2.0, repeats=2,
                       pipelines=["passthrough", "gray"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["simulated"] is True
    assert manifest["spec"]["name"] == "pipelines" and manifest["spec"]["duration_s"] == 2.0
    assert manifest["plan"]["loads"] == 2 and manifest["plan"]["trials"] == 4
    trials = load_runs(run_dir).trials
    assert sorted(trials["pipeline_id"]) == ["gray", "gray", "passthrough", "passthrough"]
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    assert len(list((run_dir / "frames").glob("*.parquet"))) == 4
    assert len(list((run_dir / "samples").glob("*.jpg"))) == 12
    executed = (tmp_path / "02-pipeline-sweep.ipynb").read_text()
    assert "SIMULATED" in executed and "image/png" in executed  # the table and the plot are in the notebook


def test_vace_sweep_notebook_records_each_reference_count(sim: SimControl, tmp_path: Path) -> None:
    sim.put("/sim/models", {"longlive": True})
    run_dir = _execute("03-vace-sweep.ipynb", tmp_path, target=sim.url, duration_s=2.0, repeats=1,
                       pipelines=["longlive"], ref_counts=[0, 2], context_scales=[1.0])
    trials = load_runs(run_dir).trials
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    conditions = sorted(zip(trials["vace_enabled"], trials["vace_ref_count"], strict=True))
    assert conditions == [(False, 0), (True, 0), (True, 2)]
    references = json.loads((run_dir / "manifest.json").read_text())["references"]
    assert len(references[sim.url]) == 4


def test_avatar_notebook_scores_every_condition_against_the_given_references(sim: SimControl, tmp_path: Path) -> None:
    from PIL import Image

    sim.put("/sim/models", {"streamdiffusionv2": True})
    folder = tmp_path / "mine"
    folder.mkdir()
    for k, name in enumerate(("front.png", "side.png")):
        Image.new("RGB", (64, 64), (200, 60 * k, 90)).save(folder / name)
    run_dir = _execute("07-avatar-quality.ipynb", tmp_path, target=sim.url, references=str(folder), duration_s=3.0,
                       repeats=1, pipelines=["streamdiffusionv2"], context_scales=[1.0])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["spec"]["references"] == [str(folder / "front.png"), str(folder / "side.png")]
    trials = load_runs(run_dir).trials
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    assert sorted(trials["condition"]) == ["vace_enabled=false",
                                           "vace_enabled=true vace_ref_images=2 vace_context_scale=1.0"]
    assert trials["ref_similarity"].notna().all()  # VACE off too: the baseline is scored against the same set
    executed = (tmp_path / "07-avatar-quality.ipynb").read_text()
    assert "MetaDJ avatar reference test results?" in executed and "SIMULATED" in executed
    assert executed.count("image/png") >= 2  # similarity over time, quality against speed


@pytest.mark.parametrize("name", ["02-pipeline-sweep.ipynb", "03-vace-sweep.ipynb", "07-avatar-quality.ipynb"])
def test_sweep_notebooks_have_papermill_parameters(name: str) -> None:
    parameters = papermill.inspect_notebook(NOTEBOOKS / name)
    assert {"target", "duration_s", "repeats", "pipelines", "run_id", "out_dir"} <= set(parameters)
    assert parameters["target"]["default"] == '"sim"'


def test_deploy_check_notebook_times_a_cold_start_when_asked(sim: SimControl, tmp_path: Path) -> None:
    run_dir = _execute("01-deploy-check.ipynb", tmp_path, target=sim.url, cold_start_pipeline="passthrough",
                       cold_start_trial_s=5.0, results_dir=str(tmp_path / "results"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["kind"] == "pod-warmup" and manifest["status"] == "complete", manifest.get("error")
    assert [s["name"] for s in manifest["stages"]][-1] == "steady_output"
    executed = (tmp_path / "01-deploy-check.ipynb").read_text()
    assert "steady_output" in executed and "SIMULATED" in executed
