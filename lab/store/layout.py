"""Where things are in a results folder: the file names of a run, run ids, and finding runs.

The layout itself (what each file holds) is described in :mod:`lab.store`.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from lab.errors import LabError

RESULTS_DIR = Path("results")
MANIFEST = "manifest.json"
TRIALS = "trials.jsonl"
QUALITY = "quality.jsonl"
REFERENCES = "references"
FRAMES = "frames"
SAMPLES = "samples"
RECORDINGS = "recordings"
QUALITY_DIR = "quality"
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")


class StoreError(LabError):
    """The results store cannot do what was asked (missing run, existing run, disk full)."""


def new_run_id(now: datetime | None = None) -> str:
    """``20261125T174333Z-1a2b3c``: sortable by start time, unique by its random tail."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> None:
    """Refuse a run id that is not of the form :func:`new_run_id` gives."""
    if not _RUN_ID.match(run_id):
        raise StoreError(f"Run id {run_id!r} is not of the form 20261125T174333Z-1a2b3c; "
                         "leave it out to get a fresh one.")


def is_run(root: Path) -> bool:
    """A folder is a run when it has a manifest."""
    return (root / MANIFEST).is_file()


def list_runs(out_dir: Path | str = RESULTS_DIR) -> list[Path]:
    """Run folders under ``out_dir``, oldest first."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if is_run(p))


def no_such_run(out_dir: Path | str, run_id: str) -> StoreError:
    """The error for a run id that is not in ``out_dir``, naming the latest runs there."""
    known = ", ".join(r.name for r in list_runs(out_dir)[-5:]) or "none"
    return StoreError(f"No run {run_id!r} in {Path(out_dir).resolve()} (latest runs there: {known}).")
