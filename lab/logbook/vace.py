"""What VACE costs: each VACE condition of a pipeline against its reference condition.

The reference is VACE not loaded (``vace_enabled=false``) where the runs have it, else VACE
loaded with no reference images. Each other condition (VACE loaded, 1..k reference images,
context scales) gets the difference in steady fps and frame latency, with a bootstrap CI
over trials (:func:`lab.stats.compare`). With fewer than three trials a side the
difference is reported but not judged.

Only runs whose spec varies a VACE setting count, so a pipeline measured at its defaults
elsewhere is not mixed in under different trial settings. Of those, the cost comes from
runs that re-send the references so that every chunk carries them (the VACE sweep); runs
that send them once per segment (the avatar sweep, ``reference_resend_s: null``) measure
how long the character holds (:mod:`lab.logbook.quality`), and would mix two regimes here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from lab.logbook.server_runs import LATENCY_FIGURES, MIN_TRIALS_FOR_CI, ServerRuns
from lab.stats import Comparison, Figure, compare

__all__ = ["VaceCondition", "VaceEffect", "vace_conditions", "vace_effects", "vace_label", "vace_runs"]


def vace_label(enabled: bool, ref_count: int, context_scale: float | None) -> str:
    """How tables and plots name a VACE setting: ``VACE off``, ``VACE on, 2 refs, scale 1.0``."""
    if not enabled:
        return "VACE off"
    scale = f", scale {context_scale:.1f}" if context_scale is not None and ref_count else ""
    return f"VACE on, {ref_count} ref{'s' if ref_count != 1 else ''}{scale}"


@dataclass(frozen=True)
class VaceCondition:
    """One VACE setting of one pipeline, with its steady fps and frame latency over trials."""

    pipeline_id: str
    vace_enabled: bool
    ref_count: int
    context_scale: float | None
    fps: Figure | None
    latency: Figure | None
    trials: pd.DataFrame

    @property
    def label(self) -> str:
        return vace_label(self.vace_enabled, self.ref_count, self.context_scale)


@dataclass(frozen=True)
class VaceEffect:
    """A condition against the pipeline's reference condition (b - a)."""

    reference: VaceCondition
    condition: VaceCondition
    fps: Comparison | None
    latency: Comparison | None

    @property
    def judged(self) -> bool:
        """Enough trials on both sides for the significance verdict to mean something."""
        sizes = [c.n_a for c in (self.fps, self.latency) if c] + [c.n_b for c in (self.fps, self.latency) if c]
        return bool(sizes) and min(sizes) >= MIN_TRIALS_FOR_CI


def vace_runs(server_runs: ServerRuns, *, resent: bool) -> set[str]:
    """Runs whose spec varies a VACE setting: re-sending the references (``resent``), or sending them once.

    Runs made before ``reference_resend_s`` existed re-sent them (every 0.5 s).
    """
    runs = set()
    for run_id, manifest in server_runs.manifests.items():
        spec = manifest.get("spec") or {}
        keys = [*(spec.get("load") or {}), *(spec.get("runtime") or {})]
        if any(k.startswith("vace_") for k in keys) and (spec.get("reference_resend_s", 0.5) is not None) == resent:
            runs.add(run_id)
    return runs


def vace_conditions(server_runs: ServerRuns, runs: Collection[str] | None = None) -> dict[str, list[VaceCondition]]:
    """Per pipeline, its VACE conditions in a stable order (off, then by refs and scale).

    ``runs`` None: the runs that measure what VACE costs (``vace_runs(resent=True)``).
    """
    runs = vace_runs(server_runs, resent=True) if runs is None else runs
    trials = server_runs.ok[server_runs.ok["run_id"].isin(set(runs))]
    if trials.empty or "vace_enabled" not in trials:
        return {}
    trials = trials.assign(_scale=pd.to_numeric(trials["vace_context_scale"], errors="coerce"))
    result: dict[str, list[VaceCondition]] = {}
    for pipeline_id in dict.fromkeys(trials["pipeline_id"]):
        mine = trials[trials["pipeline_id"].eq(pipeline_id)]
        conditions = []
        for (enabled, refs, scale), group in mine.groupby(["vace_enabled", "vace_ref_count", "_scale"],
                                                          dropna=False, sort=True):
            context = None if pd.isna(scale) else float(scale)
            conditions.append(VaceCondition(pipeline_id, bool(enabled), int(refs), context,
                                            server_runs.figure(pipeline_id, "fps_out", group),
                                            server_runs.latency(pipeline_id, group), group))
        if len(conditions) > 1:
            result[pipeline_id] = conditions
    return result


def _reference(conditions: list[VaceCondition]) -> VaceCondition:
    off = [c for c in conditions if not c.vace_enabled]
    on_bare = [c for c in conditions if c.vace_enabled and c.ref_count == 0]
    return (off or on_bare or conditions)[0]


def _compare(name: str, a: pd.DataFrame, b: pd.DataFrame, unit: str) -> Comparison | None:
    if name not in a or name not in b:
        return None
    xa = pd.to_numeric(a[name], errors="coerce").dropna()
    xb = pd.to_numeric(b[name], errors="coerce").dropna()
    if xa.empty or xb.empty:
        return None
    return compare(name, xa.to_numpy(dtype=float), xb.to_numpy(dtype=float), unit)


def vace_effects(server_runs: ServerRuns) -> dict[str, list[VaceEffect]]:
    """Per pipeline, every VACE condition against the reference (VACE off, else on with 0 refs)."""
    effects: dict[str, list[VaceEffect]] = {}
    for pipeline_id, conditions in vace_conditions(server_runs).items():
        reference = _reference(conditions)
        latency_name = next((n for n in LATENCY_FIGURES
                             if n in reference.trials and reference.trials[n].notna().any()), LATENCY_FIGURES[0])
        effects[pipeline_id] = [
            VaceEffect(reference, c,
                       _compare("fps_out", reference.trials, c.trials, server_runs.unit("fps_out")),
                       _compare(latency_name, reference.trials, c.trials, server_runs.unit(latency_name)))
            for c in conditions if c is not reference]
    return effects
