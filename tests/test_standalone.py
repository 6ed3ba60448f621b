"""The repo stands alone: a clone of it alone passes the contract tests, and its wheel works
installed, from any directory.

Both tests start from a ``git clone`` of this checkout's HEAD into a temp dir, so they check
what is committed: an uncommitted or untracked file (a fixture, a data file, a stale
``build/``) can't make them pass here and fail on CI's fresh clone. Nothing is downloaded:
the wheel is built without build isolation and installed with ``--no-index --no-deps`` into
a fresh venv that borrows only the dependencies from this venv's site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STEP_TIMEOUT_S = 240  # one subprocess step; a pip or simulator start on a loaded 2-core box
# Run by the installed venv's python: where lab and the data it reads come from.
WHERE = """
import json, lab, lab.resources as r
data = [r.SWEEP_DIR / "pipelines.yaml", r.CLIP, r.LOG_TEMPLATE, *r.reference_images()]
print(json.dumps({"lab": lab.__file__, "data": [str(path) for path in data]}))
"""


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a step, failing with its output when it exits non-zero."""
    done = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env or clean_env(), capture_output=True,
                          text=True, timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def clean_env() -> dict[str, str]:
    """This environment without anything that could put the checkout on the path or reach PyPI."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1"}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HEAD of this checkout, cloned alone into a temp dir (nothing beside it)."""
    head = run(["git", "rev-parse", "HEAD"], cwd=ROOT).stdout.strip()
    path = tmp_path_factory.mktemp("standalone") / "scope-lab"
    run(["git", "clone", "--quiet", ROOT, path], cwd=path.parent)
    run(["git", "checkout", "--quiet", "--detach", head], cwd=path)
    assert not (path.parent / "shared").exists()
    return path


@pytest.fixture(scope="module")
def venv(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the clone's wheel installed (not editable)."""
    base = tmp_path_factory.mktemp("installed")
    run([sys.executable, "-m", "pip", "wheel", clone, "--no-deps", "--no-build-isolation", "-w", base / "dist"],
        cwd=base)
    (wheel,) = (base / "dist").glob("scope_lab-*.whl")
    env = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", env], cwd=base)
    python = env / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip())
    # A path line in a .pth is appended to sys.path, after the venv's own site-packages: the
    # wheel's lab is found first, the dependencies come from this venv. (.pth files in the
    # added directories are not run, so this venv's editable install of lab stays out.)
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "zz-dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel], cwd=base)
    return env


def test_installed_wheel_works_from_another_directory(venv: Path, clone: Path, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    found = json.loads(run([bin_dir / "python", "-c", WHERE], cwd=tmp_path).stdout)
    assert Path(found["lab"]).is_relative_to(venv), f"lab imported from {found['lab']}, not the installed wheel"
    assert len(found["data"]) == 3 + 4  # a spec, the clip, the log template and the 4 reference images
    for path in map(Path, found["data"]):
        assert path.is_relative_to(venv) and path.is_file(), path

    plan = run([bin_dir / "lab", "sweep", "pipelines", "--target", "sim", "--dry-run"], cwd=tmp_path).stdout
    # Checked against the clone's own files, read here as plain YAML: the shipped spec plans
    # every pipeline the simulator's profile lists, in its order, once per load.
    spec = yaml.safe_load((clone / "lab" / "data" / "sweeps" / "pipelines.yaml").read_text())
    profile = yaml.safe_load((clone / "lab" / "sim" / "profiles" / "scope-0.2.4.yaml").read_text())
    assert spec["pipelines"] == "all"
    pipelines = [entry["id"] for entry in profile["pipelines"]]
    loads = [line.split()[1] for line in plan.splitlines() if line.startswith("  load ")]
    assert loads == pipelines, plan
    trials = len(pipelines) * spec["repeats"]
    assert plan.startswith(f"sweep 'pipelines': {trials} trials in {len(pipelines)} loads"), plan

    doctor = run([bin_dir / "lab", "doctor", "sim", "--no-stream"], cwd=tmp_path).stdout
    assert "Scope 0.2.4 (simulator)" in doctor and "FAIL" not in doctor, doctor
    assert doctor.rstrip().endswith("ready (exit 0)"), doctor
    assert list(tmp_path.iterdir()) == []  # a dry run and a deploy check write nothing


def test_a_clone_alone_passes_the_contract_tests(clone: Path) -> None:
    check = "import lab, tests.conftest as c; print(lab.__file__); print(c.FIXTURES)"
    lab_file, fixtures = run([sys.executable, "-c", check], cwd=clone).stdout.split()
    assert Path(lab_file).is_relative_to(clone) and Path(fixtures).is_relative_to(clone)

    done = run([sys.executable, "-m", "pytest", "tests/test_sim_contract.py", "-q", "-p", "no:cacheprovider"],
               cwd=clone)
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
