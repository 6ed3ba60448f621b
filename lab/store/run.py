"""One run's folder: its manifest, its trial rows, and each trial's files (frames, samples,
the server's recording, quality samples and scores, the reference images).

Every write is crash-safe (:mod:`lab.store.durable`); raw data is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.store.durable import (append_row, cut_partial_row, disk_error, dumps, read_rows, redacted_array,
                               replace_rows, temporary_for)
from lab.store.layout import (FRAMES, MANIFEST, QUALITY, QUALITY_DIR, RECORDINGS, REFERENCES, SAMPLES, TRIALS,
                              StoreError, check_run_id, is_run, new_run_id, no_such_run)
from lab.store.manifest import read_manifest
from lab.versions import software_versions


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
        check_run_id(run_id)
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
        if not is_run(root):
            raise no_such_run(out_dir, run_id)
        cut_partial_row(root / TRIALS)
        return cls(root)

    # -- manifest ----------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.root)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest atomically (write a temporary file, then rename)."""
        path = self.root / MANIFEST
        temporary = temporary_for(path)
        try:
            temporary.write_text(json.dumps(json.loads(dumps(manifest)), indent=2) + "\n")
            os.replace(temporary, path)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc) from exc

    def update_manifest(self, **fields: Any) -> None:
        self.write_manifest({**self.manifest(), **fields})

    # -- trial rows --------------------------------------------------------------------

    def append_trial(self, row: Mapping[str, Any]) -> None:
        """Append one trial row and make it durable before returning."""
        self._append_row(self.root / TRIALS, row)

    def _append_row(self, path: Path, row: Mapping[str, Any], then: str | None = None) -> None:
        try:
            append_row(path, row)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc, then) from exc

    def rows(self) -> list[dict[str, Any]]:
        """The finished trial rows, in the order they were written."""
        return read_rows(self.root / TRIALS)

    def finished_trial_ids(self) -> set[str]:
        return {row["trial_id"] for row in self.rows()}

    # -- per-trial files ---------------------------------------------------------------

    def write_frames(self, trial_id: str, frames: pd.DataFrame) -> Path:
        """The per-frame table of a trial as Parquet (columnar, typed, small)."""
        path = self.root / FRAMES / f"{trial_id}.parquet"
        try:
            path.parent.mkdir(exist_ok=True)
            frames.reset_index(drop=True).to_parquet(path, index=False)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc) from exc
        return path

    def read_frames(self, trial_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / FRAMES / f"{trial_id}.parquet")

    def write_samples(self, trial_id: str, images: Sequence[np.ndarray]) -> list[Path]:
        """A few output frames (HxWx3 uint8) as JPEG files."""
        from PIL import Image

        paths = []
        folder = self.root / SAMPLES
        try:
            folder.mkdir(exist_ok=True)
            for k, image in enumerate(images):
                path = folder / f"{trial_id}-{k}.jpg"
                Image.fromarray(image).save(path, quality=85)
                paths.append(path)
        except OSError as exc:
            raise disk_error(folder, self.run_id, exc) from exc
        return paths

    def keep_recording(self, trial_id: str, downloaded: Path) -> Path:
        """Move a downloaded server recording into ``recordings/<trial_id>.mp4`` (never overwritten)."""
        path = self.root / RECORDINGS / f"{trial_id}.mp4"
        if path.exists():
            raise StoreError(f"{path} exists: a recording is raw data and never overwritten.")
        try:
            path.parent.mkdir(exist_ok=True)
            shutil.move(downloaded, path)
        except OSError as exc:
            raise disk_error(path.parent, self.run_id, exc) from exc
        return path

    def sample_paths(self, trial_id: str | None = None) -> list[Path]:
        pattern = f"{trial_id}-*.jpg" if trial_id else "*.jpg"
        return sorted((self.root / SAMPLES).glob(pattern))

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
        temporary = temporary_for(folder)
        try:
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir()
            for path in paths:
                shutil.copyfile(path, temporary / Path(path).name)
            os.replace(temporary, folder)
        except OSError as exc:
            raise disk_error(folder, self.run_id, exc) from exc
        return self.reference_paths()

    def reference_paths(self) -> list[Path]:
        """The run's reference images (none for a run that sent none), sorted by name."""
        folder = self.root / REFERENCES
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def write_quality_samples(self, trial_id: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """A trial's quality samples as a compressed ``.npz`` (plain arrays, text redacted); written once."""
        path = self.root / QUALITY_DIR / f"{trial_id}.npz"
        if path.exists():
            raise StoreError(f"{path} exists: quality samples are raw data and never overwritten.")
        clean = {name: redacted_array(array) for name, array in arrays.items()}
        temporary = temporary_for(path)
        try:
            path.parent.mkdir(exist_ok=True)
            with temporary.open("wb") as handle:
                np.savez_compressed(handle, **clean)
            os.replace(temporary, path)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc) from exc
        return path

    def read_quality_samples(self, trial_id: str) -> dict[str, np.ndarray]:
        with np.load(self.root / QUALITY_DIR / f"{trial_id}.npz", allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    def quality_sample_ids(self) -> list[str]:
        """Trials with stored quality samples, in the order their rows were written."""
        stored = {p.stem for p in (self.root / QUALITY_DIR).glob("*.npz")}
        return [row["trial_id"] for row in self.rows() if row["trial_id"] in stored]

    def write_quality_series(self, trial_id: str, series: pd.DataFrame) -> Path:
        """A trial's scored series (derived: replaced atomically when re-scored)."""
        path = self.root / QUALITY_DIR / f"{trial_id}.parquet"
        temporary = temporary_for(path)
        try:
            path.parent.mkdir(exist_ok=True)
            series.reset_index(drop=True).to_parquet(temporary, index=False)
            os.replace(temporary, path)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc, _rescore_hint(self.run_id)) from exc
        return path

    def read_quality_series(self, trial_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / QUALITY_DIR / f"{trial_id}.parquet")

    def append_quality(self, row: Mapping[str, Any]) -> None:
        """Append one trial's quality row (trial_id, model, figures), durable before returning."""
        self._append_row(self.root / QUALITY, row, _rescore_hint(self.run_id))

    def quality_rows(self) -> list[dict[str, Any]]:
        return read_rows(self.root / QUALITY)

    def replace_quality(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace ``quality.jsonl`` atomically (temporary file, fsync, rename): a re-score."""
        path = self.root / QUALITY
        try:
            replace_rows(path, rows)
        except OSError as exc:
            raise disk_error(path, self.run_id, exc, _rescore_hint(self.run_id)) from exc
