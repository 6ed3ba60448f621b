"""The results store: never overwrites, survives a killed writer, keeps secrets out."""

from __future__ import annotations

import errno
import json
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lab.redact import REDACTED, redact
from lab.store import RunStore, StoreError, load_runs, new_run_id


def _row(trial_id: str, fps: float, status: str = "ok") -> dict:
    return {"trial_id": trial_id, "pipeline_id": "passthrough", "condition": "default", "status": status,
            "simulated": True, "figures": {"fps_out": {"value": fps, "unit": "fps", "n": 40}}}


def test_run_ids_sort_by_time_and_differ() -> None:
    ids = [new_run_id() for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(len(i) == len("20261125T174333Z-1a2b3c") for i in ids)


def test_a_run_folder_is_never_overwritten(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {"kind": "sweep"})
    store.append_trial(_row("a", 15.0))
    with pytest.raises(StoreError, match="never overwritten.*--resume"):
        RunStore.create(tmp_path, {"kind": "sweep"}, run_id=store.run_id)
    assert [r["trial_id"] for r in store.rows()] == ["a"]


def test_the_manifest_records_the_software_measured_with(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {"kind": "sweep", "software": "a caller's guess"})
    software = json.loads((store.root / "manifest.json").read_text())["software"]
    assert software == {
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        **{name: metadata.version(name) for name in ("aiortc", "aioice", "av", "numpy")},
    }


def test_partial_last_row_of_a_killed_writer_is_ignored_and_cut_on_resume(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {"kind": "sweep"})
    store.append_trial(_row("a", 15.0))
    with (store.root / "trials.jsonl").open("a") as handle:
        handle.write('{"trial_id": "b", "status": "o')  # what SIGKILL mid-write leaves
    assert store.finished_trial_ids() == {"a"}
    resumed = RunStore.resume(tmp_path, store.run_id)
    resumed.append_trial(_row("b", 14.0))
    lines = (store.root / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["trial_id"] for line in lines] == ["a", "b"]


def test_resume_of_an_unknown_run_names_the_runs_there(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {"kind": "sweep"})
    with pytest.raises(StoreError, match=store.run_id):
        RunStore.resume(tmp_path, "20990101T000000Z-000000")


def test_disk_full_keeps_earlier_rows_and_says_how_to_continue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore.create(tmp_path, {"kind": "sweep"})
    store.append_trial(_row("a", 15.0))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreError, match=f"No space left.*--resume {store.run_id}"):
        store.append_trial(_row("b", 14.0))
    monkeypatch.undo()
    assert "a" in RunStore.resume(tmp_path, store.run_id).finished_trial_ids()


def test_secrets_never_reach_the_files(tmp_path: Path) -> None:
    token = "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3"
    manifest = {"kind": "sweep", "env": {"HF_TOKEN": token}, "ice": [{"urls": "turn:x", "credential": "s3cret"}],
                "note": f"used {token} and Bearer abc.def"}
    store = RunStore.create(tmp_path, manifest)
    store.append_trial({**_row("a", 15.0), "headers": {"Authorization": "Bearer xyz"}})
    text = (store.root / "manifest.json").read_text() + (store.root / "trials.jsonl").read_text()
    for secret in (token, "s3cret", "Bearer xyz", "abc.def"):
        assert secret not in text
    assert REDACTED in text
    assert redact({"password": None, "urls": "turn:x"}) == {"password": None, "urls": "turn:x"}


def test_loader_returns_trials_figures_manifests_and_frames(tmp_path: Path) -> None:
    first = RunStore.create(tmp_path, {"kind": "sweep", "simulated": True, "spec": {"name": "a"}})
    first.append_trial(_row("a", 15.0))
    first.append_trial(_row("b", 0.0, status="error"))
    first.write_frames("a", pd.DataFrame({"complete_ns": np.arange(5, dtype=np.int64), "phase": ["steady"] * 5}))
    first.write_samples("a", [np.zeros((8, 8, 3), np.uint8)])
    second = RunStore.create(tmp_path, {"kind": "sweep", "simulated": True})
    second.append_trial(_row("c", 20.0))
    runs = load_runs(tmp_path)
    assert sorted(runs.trials["trial_id"]) == ["a", "b", "c"]
    assert runs.trials.set_index("trial_id").loc["c", "fps_out"] == 20.0
    assert set(runs.figures.columns) >= {"run_id", "trial_id", "figure", "value", "unit", "n"}
    assert len(runs.manifests) == 2 and "spec" not in runs.manifests  # big fields stay in the file
    assert runs.frames(first.run_id, "a")["complete_ns"].tolist() == [0, 1, 2, 3, 4]
    assert len(first.sample_paths("a")) == 1
    only = load_runs(tmp_path, [second.run_id])
    assert only.trials["trial_id"].tolist() == ["c"]
    with pytest.raises(StoreError, match="No run"):
        load_runs(tmp_path, ["nope"])
