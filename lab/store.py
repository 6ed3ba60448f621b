"""The results store: one folder per run, written so that a crash loses at most one trial.

Layout of ``results/<run-id>/`` (the run id is UTC start time + a short random hash, so
ids sort by time and two runs never collide)::

    manifest.json        what was measured, where, with what: target, server health and
                         version, hardware, schema snapshot, the spec, lab version, git
                         commit, the software measured with (Python, aiortc, aioice, av,
                         numpy versions), simulated or real, start/end, status. Rewritten
                         atomically.
    trials.jsonl         one JSON object per finished trial (ok, error or skipped),
                         appended, flushed and fsync'ed as each trial ends. Never rewritten.
    frames/<trial>.parquet   the per-frame table of a trial (arrival times, intervals, ids)
    samples/<trial>-<k>.jpg  a few output frames of a trial
    recordings/<trial>.mp4   the server's own recording of a session (``record_server``),
                         kept under the id of the session's last trial
    contact_sheet.jpg    the samples of the run on one page
    references/<name>    the reference images the quality figures compare with (copied once)
    quality/<trial>.npz  a trial's quality samples (frame pairs, inputs, per-frame luma
                         change, prompt; :class:`lab.quality.samples.QualitySamples`), written
                         once: what ``lab quality`` re-scores from
    quality/<trial>.parquet  its scored series (one row per sampled pair)
    quality.jsonl        one row per scored trial (trial_id, model, figures); appended during
                         a sweep, replaced atomically by a re-score. ``load_runs`` joins its
                         figures to the trials'.

Rules: a run folder is never overwritten (creating an existing id fails); resuming
appends to it. A process killed mid-write can leave a partial last line in
``trials.jsonl``; readers ignore it and :meth:`RunStore.resume` cuts it off before
appending. Anything that looks like a secret (tokens, credentials, auth headers) is
replaced by ``"<redacted>"`` before it is written.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.errors import LabError
from lab.redact import REDACTED, redact
from lab.versions import software_versions

__all__ = ["RunStore", "Runs", "StoreError", "load_runs", "new_run_id", "redact", "REDACTED", "git_commit", "RESULTS_DIR"]

RESULTS_DIR = Path("results")
MANIFEST = "manifest.json"
TRIALS = "trials.jsonl"
QUALITY = "quality.jsonl"
REFERENCES = "references"
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")


class StoreError(LabError):
    """The results store cannot do what was asked (missing run, existing run, disk full)."""


def new_run_id(now: datetime | None = None) -> str:
    """``20261125T174333Z-1a2b3c``: sortable by start time, unique by its random tail."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


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


def _dumps(value: Any) -> str:
    return json.dumps(redact(value), default=_json_default, allow_nan=False, sort_keys=False)


def _disk_error(path: Path, run_id: str, exc: OSError, then: str | None = None) -> StoreError:
    then = then or f"continue with --resume {run_id}"
    return StoreError(f"Could not write {path}: {exc.strerror or exc}. What was recorded before is kept "
                      f"(trials.jsonl is flushed after every trial). Free disk space, then {then}.")


def _rescore_hint(run_id: str) -> str:
    return f"score the run again with `lab quality {run_id}`"


class RunStore:
    """One run's folder. Create with :meth:`create`, reopen with :meth:`resume`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def run_id(self) -> str:
        return self.root.name

    @classmethod
    def create(cls, out_dir: Path | str, manifest: Mapping[str, Any], run_id: str | None = None) -> RunStore:
        """A new run folder with its manifest; refuses to reuse an existing folder.

        The manifest also gets ``software``: the versions of Python and the media and numeric
        stack measured with (:func:`lab.versions.software_versions`), so runs stay comparable.
        """
        run_id = run_id or new_run_id()
        if not _RUN_ID.match(run_id):
            raise StoreError(f"Run id {run_id!r} is not of the form 20261125T174333Z-1a2b3c; "
                             "leave it out to get a fresh one.")
        root = Path(out_dir) / run_id
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            root.mkdir()
        except FileExistsError:
            raise StoreError(f"Run folder {root} already exists and runs are never overwritten: "
                             f"use --resume {run_id} to continue it, or leave the run id out.") from None
        store = cls(root)
        store.write_manifest({"run_id": run_id, **manifest, "software": software_versions()})
        (root / TRIALS).touch()
        return store

    @classmethod
    def resume(cls, out_dir: Path | str, run_id: str) -> RunStore:
        """Reopen a run to append to it; cuts off a partial last row left by a killed process."""
        root = Path(out_dir) / run_id
        if not (root / MANIFEST).is_file():
            known = ", ".join(r.name for r in list_runs(out_dir)[-5:]) or "none"
            raise StoreError(f"No run {run_id!r} in {Path(out_dir).resolve()} (latest runs there: {known}).")
        store = cls(root)
        store._cut_partial_row()
        return store

    # -- manifest ----------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.root / MANIFEST).read_text())

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest atomically (write a temporary file, then rename)."""
        path = self.root / MANIFEST
        temporary = path.with_suffix(".json.tmp")
        try:
            temporary.write_text(json.dumps(json.loads(_dumps(manifest)), indent=2) + "\n")
            os.replace(temporary, path)
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc) from exc

    def update_manifest(self, **fields: Any) -> None:
        self.write_manifest({**self.manifest(), **fields})

    # -- trial rows --------------------------------------------------------------------

    def append_trial(self, row: Mapping[str, Any]) -> None:
        """Append one trial row and make it durable before returning."""
        self._append_row(self.root / TRIALS, row)

    def _append_row(self, path: Path, row: Mapping[str, Any], then: str | None = None) -> None:
        if "trial_id" not in row:
            raise ValueError("a row needs a trial_id")
        line = _dumps(row) + "\n"
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc, then) from exc

    def rows(self) -> list[dict[str, Any]]:
        """The finished trial rows, in the order they were written."""
        return read_rows(self.root / TRIALS)

    def finished_trial_ids(self) -> set[str]:
        return {row["trial_id"] for row in self.rows()}

    def _cut_partial_row(self) -> None:
        path = self.root / TRIALS
        data = path.read_bytes() if path.exists() else b""
        if data and not data.endswith(b"\n"):
            with path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    # -- per-trial files ---------------------------------------------------------------

    def write_frames(self, trial_id: str, frames: pd.DataFrame) -> Path:
        """The per-frame table of a trial as Parquet (columnar, typed, small)."""
        path = self.root / "frames" / f"{trial_id}.parquet"
        try:
            path.parent.mkdir(exist_ok=True)
            frames.reset_index(drop=True).to_parquet(path, index=False)
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc) from exc
        return path

    def read_frames(self, trial_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / "frames" / f"{trial_id}.parquet")

    def write_samples(self, trial_id: str, images: Sequence[np.ndarray]) -> list[Path]:
        """A few output frames (HxWx3 uint8) as JPEG files."""
        from PIL import Image

        paths = []
        folder = self.root / "samples"
        try:
            folder.mkdir(exist_ok=True)
            for k, image in enumerate(images):
                path = folder / f"{trial_id}-{k}.jpg"
                Image.fromarray(image).save(path, quality=85)
                paths.append(path)
        except OSError as exc:
            raise _disk_error(folder, self.run_id, exc) from exc
        return paths

    def keep_recording(self, trial_id: str, downloaded: Path) -> Path:
        """Move a downloaded server recording into ``recordings/<trial_id>.mp4`` (never overwritten)."""
        path = self.root / "recordings" / f"{trial_id}.mp4"
        if path.exists():
            raise StoreError(f"{path} exists: a recording is raw data and never overwritten.")
        try:
            path.parent.mkdir(exist_ok=True)
            shutil.move(downloaded, path)
        except OSError as exc:
            raise _disk_error(path.parent, self.run_id, exc) from exc
        return path

    def sample_paths(self, trial_id: str | None = None) -> list[Path]:
        pattern = f"{trial_id}-*.jpg" if trial_id else "*.jpg"
        return sorted((self.root / "samples").glob(pattern))

    # -- quality: samples, references, scores --------------------------------------------

    def copy_references(self, paths: Sequence[Path]) -> list[Path]:
        """Copy the reference images into ``references/`` once, so a re-score needs nothing else.

        A run keeps the set it was first given: a second call with the same names keeps the
        copies; a different set is refused (the figures already scored used the first).
        """
        folder = self.root / REFERENCES
        names = sorted(Path(p).name for p in paths)
        if folder.is_dir():
            kept = sorted(p.name for p in folder.iterdir())
            if kept != names:
                raise StoreError(f"Run {self.run_id} already holds the reference images {kept}; a run is "
                                 f"scored against one set, so {names} cannot replace them. Start a new run.")
            return self.reference_paths()
        temporary = folder.with_name(REFERENCES + ".tmp")
        try:
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir()
            for path in paths:
                shutil.copyfile(path, temporary / Path(path).name)
            os.replace(temporary, folder)
        except OSError as exc:
            raise _disk_error(folder, self.run_id, exc) from exc
        return self.reference_paths()

    def reference_paths(self) -> list[Path]:
        """The run's reference images (none for a run that sent none), sorted by name."""
        folder = self.root / REFERENCES
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def write_quality_samples(self, trial_id: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """A trial's quality samples as a compressed ``.npz`` (plain arrays, text redacted); written once."""
        path = self.root / "quality" / f"{trial_id}.npz"
        if path.exists():
            raise StoreError(f"{path} exists: quality samples are raw data and never overwritten.")
        clean = {name: _redacted_array(array) for name, array in arrays.items()}
        temporary = path.with_suffix(".npz.tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            with temporary.open("wb") as handle:
                np.savez_compressed(handle, **clean)
            os.replace(temporary, path)
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc) from exc
        return path

    def read_quality_samples(self, trial_id: str) -> dict[str, np.ndarray]:
        with np.load(self.root / "quality" / f"{trial_id}.npz", allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    def quality_sample_ids(self) -> list[str]:
        """Trials with stored quality samples, in the order their rows were written."""
        stored = {p.stem for p in (self.root / "quality").glob("*.npz")}
        return [row["trial_id"] for row in self.rows() if row["trial_id"] in stored]

    def write_quality_series(self, trial_id: str, series: pd.DataFrame) -> Path:
        """A trial's scored series (derived: replaced atomically when re-scored)."""
        path = self.root / "quality" / f"{trial_id}.parquet"
        temporary = path.with_suffix(".parquet.tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            series.reset_index(drop=True).to_parquet(temporary, index=False)
            os.replace(temporary, path)
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc, _rescore_hint(self.run_id)) from exc
        return path

    def read_quality_series(self, trial_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / "quality" / f"{trial_id}.parquet")

    def append_quality(self, row: Mapping[str, Any]) -> None:
        """Append one trial's quality row (trial_id, model, figures), durable before returning."""
        self._append_row(self.root / QUALITY, row, _rescore_hint(self.run_id))

    def quality_rows(self) -> list[dict[str, Any]]:
        return read_rows(self.root / QUALITY)

    def replace_quality(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace ``quality.jsonl`` atomically (temporary file, fsync, rename): a re-score."""
        path = self.root / QUALITY
        temporary = path.with_suffix(".jsonl.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                handle.writelines(_dumps(row) + "\n" for row in rows)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            raise _disk_error(path, self.run_id, exc, _rescore_hint(self.run_id)) from exc


def _redacted_array(array: np.ndarray) -> np.ndarray:
    """Text arrays (the prompt) redacted like every other stored text; other arrays as they are."""
    array = np.asarray(array)
    if array.dtype.kind != "U":
        return array
    return np.array([redact(str(item)) for item in array.ravel()]).reshape(array.shape)


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


def list_runs(out_dir: Path | str = RESULTS_DIR) -> list[Path]:
    """Run folders under ``out_dir``, oldest first."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if (p / MANIFEST).is_file())


@dataclass
class Runs:
    """Runs as tables: ``trials`` (one row per trial, figures as columns), ``figures``
    (one row per trial and figure, with unit, n and CI) and ``manifests`` (one per run)."""

    trials: pd.DataFrame
    figures: pd.DataFrame
    manifests: pd.DataFrame
    roots: dict[str, Path]

    def frames(self, run_id: str, trial_id: str) -> pd.DataFrame:
        """The per-frame table of one trial."""
        return RunStore(self.roots[run_id]).read_frames(trial_id)

    def quality_series(self, run_id: str, trial_id: str) -> pd.DataFrame:
        """The scored quality series of one trial (t_s, warp_error, ref_similarity, ...)."""
        return RunStore(self.roots[run_id]).read_quality_series(trial_id)


def load_runs(out_dir: Path | str = RESULTS_DIR, run_ids: Iterable[str] | None = None) -> Runs:
    """All runs under ``out_dir`` (or the chosen ones; a path to a run folder works too).

    Quality figures (``quality.jsonl``) join their trials as any other figure, with the
    embedding model they were scored with in the trial's ``quality_model``.
    """
    roots = _resolve_runs(out_dir, run_ids)
    trial_rows, figure_rows, manifests = [], [], []
    for root in roots:
        manifest = json.loads((root / MANIFEST).read_text())
        manifests.append(_flat_manifest(manifest))
        quality = {row["trial_id"]: row for row in read_rows(root / QUALITY)}
        for row in read_rows(root / TRIALS):
            scored = quality.get(row["trial_id"], {})
            figures = {**(row.get("figures") or {}), **(scored.get("figures") or {})}
            flat = {k: v for k, v in row.items() if k != "figures"}
            flat["run_id"] = root.name
            flat["quality_model"] = scored.get("model")
            for name, figure in figures.items():
                flat[name] = figure.get("value")
                figure_rows.append({"run_id": root.name, "trial_id": row["trial_id"],
                                    "pipeline_id": row.get("pipeline_id"), "condition": row.get("condition"),
                                    "simulated": row.get("simulated"), "figure": name, **figure})
            trial_rows.append(flat)
    return Runs(pd.DataFrame(trial_rows), pd.DataFrame(figure_rows), pd.DataFrame(manifests),
                {root.name: root for root in roots})


def _resolve_runs(out_dir: Path | str, run_ids: Iterable[str] | None) -> list[Path]:
    out = Path(out_dir)
    if (out / MANIFEST).is_file():
        return [out]
    if run_ids is None:
        return list_runs(out)
    roots = []
    for run_id in run_ids:
        root = Path(run_id) if (Path(run_id) / MANIFEST).is_file() else out / run_id
        if not (root / MANIFEST).is_file():
            known = ", ".join(r.name for r in list_runs(out)[-5:]) or "none"
            raise StoreError(f"No run {run_id!r} in {out.resolve()} (latest runs there: {known}).")
        roots.append(root)
    return roots


def _flat_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's scalar fields (the big ones, schemas and spec, stay in the file)."""
    return {k: v for k, v in manifest.items() if not isinstance(v, Mapping | list)}

