"""Small synthetic scored runs, written through lab.store, for the quality answers and plots.

No real quality run exists as a fixture yet, so these build one with known figures: each
trial gets its timing figures in ``trials.jsonl``, its quality figures in ``quality.jsonl``
(as ``lab quality`` writes them), a frame table (for its resolution) and a quality series.
The numbers are chosen by hand so that the expected answers can be worked out by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.resources import REF_DIR
from lab.store import RunStore
from tests.conftest import load_fixture

SIM_SCHEMAS: dict[str, dict[str, Any]] = {
    pipeline: {"id": pipeline, "supports_prompts": True, "requires_models": True, "usage": [], "supports_vace": True,
               "estimated_vram_gb": vram}
    for pipeline, vram in (("longlive", 20.0), ("streamdiffusionv2", 20.0), ("krea-realtime-video", 32.0))
} | {"passthrough": {"id": "passthrough", "supports_prompts": False, "requires_models": False, "usage": []}}
# What a real Scope 0.2.4 on a host without CUDA lists (the captured snapshot, minus config schemas).
CPU_SCOPE_SCHEMAS = {pid: {k: v for k, v in schema.items() if k != "config_schema"}
                     for pid, schema in load_fixture("pipelines_schemas.json")["pipelines"].items()}
AVATAR_SET = sorted(str(p) for p in (REF_DIR / "avatar").glob("*.png"))


@dataclass
class Trial:
    """One trial's figures: ``quality`` maps a figure to (value, ci_low, ci_high)."""

    pipeline_id: str
    condition: str
    vace_enabled: bool
    scale: float | None = None
    ref_count: int = 0
    fps: float = 15.0
    quality: dict[str, tuple[float, float | None, float | None]] = field(default_factory=dict)
    size: tuple[int, int] = (512, 512)
    series: pd.DataFrame | None = None


UNITS = {"ref_similarity": "cosine", "identity_drift": "cosine/s", "flicker": "levels", "sharpness": "levels²",
         "flicker_trend": "levels/s"}


def avatar_spec(**changes: Any) -> dict[str, Any]:
    return {"name": "avatar", "load": {"vace_enabled": [False, True]},
            "runtime": {"vace_ref_images": ["all"], "vace_context_scale": [0.5, 1.0, 1.5]},
            "references": AVATAR_SET, "reference_resend_s": None, "fps": 15.0, "duration_s": 20.0,
            "repeats": 3} | changes


def write_run(out: Path, run_id: str, trials: list[Trial], *, spec: dict[str, Any] | None = None,
              simulated: bool = True, schemas: dict[str, dict[str, Any]] | None = None,
              model: str = "pixels") -> Path:
    """A complete run folder under ``out`` holding ``trials`` (all ok, numbered by repeat)."""
    server = {"url": "http://127.0.0.1:8000", "version": "0.2.4", "simulated": simulated, "vram_gb": 32.0,
              "schemas": schemas if schemas is not None else SIM_SCHEMAS, "models_present": {}, "api": None}
    manifest = {"kind": "sweep", "spec": spec if spec is not None else avatar_spec(), "targets": ["sim"],
                "servers": {"sim": server}, "simulated": simulated, "started_at": "2026-11-27T10:00:00+00:00",
                "status": "complete"}
    store = RunStore.create(out, manifest, run_id)
    seen: dict[tuple[str, str], int] = {}
    quality_rows = []
    for k, trial in enumerate(trials):
        repeat = seen[(trial.pipeline_id, trial.condition)] = seen.get((trial.pipeline_id, trial.condition), -1) + 1
        trial_id = f"{trial.pipeline_id}-{k:04d}"
        store.append_trial({
            "trial_id": trial_id, "run_id": run_id, "target": "sim", "pipeline_id": trial.pipeline_id,
            "mode": "video", "condition": trial.condition, "vace_enabled": trial.vace_enabled,
            "vace_ref_count": trial.ref_count, "vace_context_scale": trial.scale, "repeat": repeat, "segment": 0,
            "status": "ok", "skip_reason": None, "error": None, "simulated": simulated,
            "figures": {"fps_out": {"value": trial.fps, "unit": "fps", "n": 100, "ci_low": None, "ci_high": None,
                                    "warnings": [], "note": "steady state"}}})
        frames = pd.DataFrame({"t_s": np.arange(10) / 15.0, "width": trial.size[0], "height": trial.size[1],
                               "phase": "steady"})
        store.write_frames(trial_id, frames)
        figures = {name: {"value": value, "unit": UNITS[name], "n": 40, "ci_low": low, "ci_high": high,
                          "warnings": [], "note": f"synthetic (embedding: {model})"}
                   for name, (value, low, high) in trial.quality.items()}
        quality_rows.append({"trial_id": trial_id, "model": model, "samples": 40, "figures": figures})
        if trial.series is not None:
            (store.root / "quality").mkdir(exist_ok=True)
            trial.series.to_parquet(store.root / "quality" / f"{trial_id}.parquet", index=False)
    (store.root / "quality.jsonl").write_text("".join(json.dumps(row) + "\n" for row in quality_rows))
    return store.root


def series(start: float, slope: float, seconds: float = 20.0, per_s: float = 2.0) -> pd.DataFrame:
    """A quality series whose reference similarity falls (or rises) linearly: ``start + slope * t``."""
    t = np.arange(0.0, seconds, 1.0 / per_s)
    return pd.DataFrame({"t_s": t, "warp_error": np.full(t.size, 2.0), "ref_similarity": start + slope * t,
                         "prompt_alignment": np.full(t.size, np.nan), "sharpness": np.full(t.size, 300.0)})
