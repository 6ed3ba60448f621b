"""Settings for the whole test run (tests/ and the notebooks under nbval)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# The notebooks' kernels start the shared simulator ("sim") themselves; its emulated loads
# and downloads run this many times faster than the profile's real-time values (streaming
# is always real time). Set LAB_SIM_SPEED yourself to override.
os.environ.setdefault("LAB_SIM_SPEED", "20")

CHECKOUT_RESULTS = Path(__file__).resolve().parent / "results"


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``folder`` with its modification time and size."""
    files = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            files[path] = (stat.st_mtime_ns, stat.st_size)
    return files


@pytest.fixture(scope="session", autouse=True)
def checkout_results_untouched() -> Iterator[None]:
    """Fail the session if a test or notebook wrote into the checkout's results/: the folder is
    the user's own runs, and a test's run there would pass for one of them."""
    before = _files(CHECKOUT_RESULTS)
    yield
    after = _files(CHECKOUT_RESULTS)
    changed = sorted(str(path.relative_to(CHECKOUT_RESULTS)) for path in after if after[path] != before.get(path))
    if changed:
        pytest.fail(f"the tests wrote into {CHECKOUT_RESULTS}: {', '.join(changed[:10])}"
                    f"{' ...' if len(changed) > 10 else ''}; give that test an out_dir under tmp_path",
                    pytrace=False)


def _writes_run_folders(notebook: Path) -> bool:
    """A notebook whose parameters cell sets ``out_dir`` writes run folders there."""
    cells = json.loads(notebook.read_text())["cells"]
    return any("parameters" in cell["metadata"].get("tags", []) and
               re.search(r"^out_dir\b", "".join(cell["source"]), re.MULTILINE) for cell in cells)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """nbval runs a notebook with its default parameters and cannot change them, so a notebook
    that writes run folders (default ``out_dir="../results"``) would fill the checkout's
    results/. Those run under papermill with ``out_dir`` in a temp dir instead
    (tests/test_notebooks_papermill.py, tests/test_notebooks_sweeps.py)."""
    if collection_path.suffix == ".ipynb" and _writes_run_folders(collection_path):
        return True
    return None
