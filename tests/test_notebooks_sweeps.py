"""What nbval would check in the notebooks that write run folders, with those folders in a temp dir.

nbval runs a notebook with its default parameters, so the sweep notebooks (default
``out_dir="../results"``) would fill the checkout's results/; the root conftest.py keeps them
out of nbval. Here their checked cells (``NBVAL_CHECK_OUTPUT``: the sweep plan of the default
parameters) run under papermill and must print what the committed notebook shows, and
notebook 06 runs whole against a fresh results folder, as on a fresh checkout. The sweeps
themselves are run in tests/test_notebooks_papermill.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from lab.store import load_runs
from tests.conftest import ROOT, SimControl

pytestmark = pytest.mark.slow  # runs notebook kernels or renders reports: `make check` leaves it out

NOTEBOOKS = ROOT / "notebooks"
CHECK = "NBVAL_CHECK_OUTPUT"


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


def _checked(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code" and CHECK in cell.source]


def _with_checked_cells() -> list[str]:
    return sorted(path.name for path in NOTEBOOKS.glob("*.ipynb") if _checked(nbformat.read(path, as_version=4)))


@pytest.mark.parametrize("name", _with_checked_cells())
def test_checked_cells_print_what_the_committed_notebook_shows(name: str, tmp_path: Path) -> None:
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    checked = _checked(committed)
    last = committed.cells.index(checked[-1])
    prefix = tmp_path / name  # the notebook up to its last checked cell: the plan, before any sweep runs
    nbformat.write(nbformat.v4.new_notebook(cells=committed.cells[: last + 1], metadata=committed.metadata), prefix)
    out = tmp_path / "results"
    parameters = {"out_dir": str(out)} if "out_dir" in papermill.inspect_notebook(prefix) else {}
    executed = papermill.execute_notebook(prefix, tmp_path / f"executed-{name}", parameters=parameters,
                                          cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    by_id = {cell.id: cell for cell in executed.cells}
    for cell in checked:
        assert _stdout(by_id[cell.id]) == _stdout(cell), f"{name} {cell.id}: regenerate the notebook if intended"
    assert not out.exists() or not any(out.iterdir())  # the checked cells are dry runs


def test_research_log_notebook_on_a_fresh_results_folder(sim: SimControl, tmp_path: Path) -> None:
    out, log, html = tmp_path / "results", tmp_path / "results" / "research-log.md", tmp_path / "report.html"
    papermill.execute_notebook(NOTEBOOKS / "06-research-log.ipynb", tmp_path / "06.ipynb", cwd=str(NOTEBOOKS),
                               kernel_name="python3", progress_bar=False,
                               parameters={"target": sim.url, "out_dir": str(out), "log_path": str(log),
                                           "html_path": str(html)})
    (run_dir,) = (path for path in out.iterdir() if path.is_dir())  # the notebook's own short sweep
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["simulated"] is True
    trials = load_runs(run_dir).trials
    assert sorted(set(trials["pipeline_id"])) == ["gray", "passthrough"]
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    assert run_dir.name in log.read_text()  # the log's tables cite the run they came from
    assert "SIMULATED" in html.read_text()
    executed = (tmp_path / "06.ipynb").read_text()
    assert "SIMULATED" in executed and executed.count("image/png") >= 3  # fps, latency CDFs, warm-up plots
