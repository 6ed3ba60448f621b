"""The data shipped inside the package: sweep specs, VACE reference images, the clip, the log
template, and the two APIs' OpenAPI documents (Scope 0.2.4's as captured, the hosted API's as
rebuilt from its SDK by ``tools/hosted_openapi.py``).

Found through :mod:`importlib.resources`, not relative to a checkout, so an installed wheel
works from any directory. (The simulator's profiles live beside their loader, in
``lab/sim/profiles``.) The files are regular files of the installed package, so their paths
can be handed to code that opens files by name (PyAV, ``shutil``, uploads).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DATA_DIR", "SWEEP_DIR", "REF_DIR", "CLIP", "LOG_TEMPLATE", "SCOPE_OPENAPI", "SCOPE_PIPELINE_SCHEMAS",
           "HOSTED_OPENAPI",
           "shipped_spec", "shipped_specs", "reference_images"]


def _data_dir() -> Path:
    root = resources.files("lab") / "data"
    if not isinstance(root, Path) or not root.is_dir():
        raise RuntimeError(f"lab's data files are not on the file system ({root}); "
                           "install scope-lab from its wheel or a checkout, not from a zip.")
    return root


DATA_DIR = _data_dir()
SWEEP_DIR = DATA_DIR / "sweeps"
REF_DIR = DATA_DIR / "ref"
CLIP = DATA_DIR / "clips" / "test-loop-512.mp4"
LOG_TEMPLATE = DATA_DIR / "research-log.md"
# Captured from a real Scope 0.2.4 (tests/fixtures/scope-0.2.4/README.md): the log answers API questions from them
SCOPE_OPENAPI = DATA_DIR / "api" / "scope-0.2.4-openapi.json"
SCOPE_PIPELINE_SCHEMAS = DATA_DIR / "api" / "scope-0.2.4-pipelines-schemas.json"
HOSTED_OPENAPI = DATA_DIR / "api" / "daydream-openapi.json"


def shipped_specs() -> list[str]:
    """Names of the shipped sweep specs (``pipelines``, ``vace``), sorted."""
    return sorted(path.stem for path in SWEEP_DIR.glob("*.yaml"))


def shipped_spec(name: str) -> Path | None:
    """The YAML file of the shipped spec ``name``, or None if there is none by that name."""
    return SWEEP_DIR / f"{name}.yaml" if name in shipped_specs() else None


def reference_images() -> list[Path]:
    """The shipped VACE reference images, in a fixed (sorted) order."""
    return sorted(REF_DIR.glob("*.png"))
