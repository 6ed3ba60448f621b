"""A run's manifest: what it records about the checkout, reading it, and its scalar fields.

The manifest is written by :class:`lab.store.run.RunStore` (atomically, secrets redacted).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.store.layout import MANIFEST


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the lab checkout (``+dirty`` if it has changes), or None outside git."""
    where = path or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the run folder ``root``."""
    return json.loads((root / MANIFEST).read_text())


def scalar_fields(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's scalar fields (the big ones, schemas and spec, stay in the file)."""
    return {k: v for k, v in manifest.items() if not isinstance(v, Mapping | list)}
