"""Writing that survives a crash: redacted JSON rows appended and fsync'ed, files replaced
atomically (a temporary file, then a rename), and reading rows back past a killed writer.

A write that fails says what was kept and what to do (:func:`disk_error`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lab.redact import redact
from lab.store.layout import StoreError


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """``value`` as one line of JSON, secrets redacted, numpy values and dates as plain JSON."""
    return json.dumps(redact(value), default=_json_default, allow_nan=False, sort_keys=False)


def redacted_array(array: np.ndarray) -> np.ndarray:
    """Text arrays (the prompt) redacted like every other stored text; other arrays as they are."""
    array = np.asarray(array)
    if array.dtype.kind != "U":
        return array
    return np.array([redact(str(item)) for item in array.ravel()]).reshape(array.shape)


def disk_error(path: Path, run_id: str, exc: OSError, then: str | None = None) -> StoreError:
    """A failed write: what was kept, and ``then`` (default: resume the run) after freeing space."""
    then = then or f"continue with --resume {run_id}"
    return StoreError(f"Could not write {path}: {exc.strerror or exc}. What was recorded before is kept "
                      f"(trials.jsonl is flushed after every trial). Free disk space, then {then}.")


def temporary_for(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place (``x.json`` -> ``x.json.tmp``)."""
    return path.with_name(path.name + ".tmp")


def append_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one row (it needs a ``trial_id``) and make it durable before returning."""
    if "trial_id" not in row:
        raise ValueError("a row needs a trial_id")
    line = dumps(row) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def replace_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Replace a rows file atomically (temporary file, fsync, rename)."""
    temporary = temporary_for(path)
    with temporary.open("w", encoding="utf-8") as handle:
        handle.writelines(dumps(row) + "\n" for row in rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``trials.jsonl``; a partial last line (killed writer) is ignored."""
    if not path.exists():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines[:-1], 1):  # text after the last newline is unfinished
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StoreError(f"{path}:{number} is not a JSON row ({exc.msg}); the file was edited "
                                 "or corrupted. Remove that line to load the rest.") from exc
    return rows


def cut_partial_row(path: Path) -> None:
    """Cut off the unfinished last line a killed writer left, so the next row starts clean."""
    data = path.read_bytes() if path.exists() else b""
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
