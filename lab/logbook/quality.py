"""What the output looks like, from scored runs: does VACE keep the character, how steady and detailed.

**Avatar runs** are runs that vary VACE settings and send the reference images once per
segment (``reference_resend_s: null``, as ``avatar.yaml`` does), scored for reference
similarity (``lab quality``). Only there does the similarity over a segment show how long
the character holds; runs that re-send the references every chunk (the VACE sweep) keep it
artificially fresh.

Per pipeline and VACE condition (off; on at each context scale) the figures are the median
over trials with a bootstrap 95 % CI when there are at least three trials. With a single
trial, the trial's own CI over its samples is shown and said to be one (frames of one
stream are autocorrelated, so it is optimistic).

**The best condition** (:func:`best_condition`): among the conditions with VACE on and
reference images, those whose reference-similarity CI overlaps the CI of the highest
similarity are tied with it; of those, the one that drifts least wins (the largest
``identity_drift``: similarity lost per second is negative, so closest to zero or rising),
and a tie on drift goes to the higher similarity. In words: as close to the references as
the best, and holding the character longest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace import VaceCondition, vace_conditions, vace_runs
from lab.stats import Figure
from lab.units import format_range, format_value

__all__ = ["QualityCondition", "avatar_runs", "avatar_conditions", "best_condition", "condition_figure",
           "show_figure", "reference_set", "embedding_models", "plain_trials", "trial_resolution"]

SIMILARITY, DRIFT = "ref_similarity", "identity_drift"
PLAIN_CONDITIONS = ("default", "vace_enabled=false")  # default settings; VACE off in a VACE sweep
SHIPPED_SET = ("data", "ref", "avatar")  # lab/data/ref/avatar/, wherever lab is installed


@dataclass(frozen=True)
class QualityCondition:
    """One VACE condition of one pipeline with its quality figures (None: not scored)."""

    condition: VaceCondition
    similarity: Figure | None
    drift: Figure | None
    flicker: Figure | None

    @property
    def pipeline_id(self) -> str:
        return self.condition.pipeline_id

    @property
    def label(self) -> str:
        return self.condition.label

    @property
    def with_references(self) -> bool:
        return self.condition.vace_enabled and self.condition.ref_count > 0


def avatar_runs(server_runs: ServerRuns) -> set[str]:
    """Runs that send the references once per segment and have reference similarity scored."""
    runs = vace_runs(server_runs, resent=False)
    scored = server_runs.ok
    if SIMILARITY not in scored:
        return set()
    return {r for r in runs if scored.loc[scored["run_id"].eq(r), SIMILARITY].notna().any()}


def condition_figure(server_runs: ServerRuns, name: str, trials: pd.DataFrame) -> Figure | None:
    """Median over ``trials`` (CI with n >= 3); one trial: its own figure, CI over its samples."""
    if trials.empty:
        return None
    figure = server_runs.figure(str(trials["pipeline_id"].iloc[0]), name, trials)
    if figure is None or figure.n != 1:
        return figure
    figures = server_runs.runs.figures
    row = figures[figures["trial_id"].isin(trials["trial_id"]) & figures["figure"].eq(name)
                  & figures["value"].notna()]
    if row.empty:
        return figure
    own = row.iloc[0]
    return Figure(name, float(own["value"]), str(own["unit"]), 1, _number(own.get("ci_low")),
                  _number(own.get("ci_high")), note=f"one trial: CI over its {int(own['n'])} samples")


def _number(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)  # type: ignore[arg-type]


def show_figure(figure: Figure) -> str:
    """``0.91 cosine [0.89–0.93] n=3``, or for one trial ``0.91 cosine [0.89–0.93 over its samples, 1 trial]``."""
    value = format_value(figure.value, figure.unit, figure.name)
    has_ci = figure.ci_low is not None and figure.ci_high is not None
    if figure.n == 1:
        inner = f"[{format_range(figure.ci_low, figure.ci_high, figure.unit, figure.name)} over its samples, 1 trial]"
        return f"{value} {inner}" if has_ci else f"{value} (1 trial)"
    if has_ci and figure.n >= 3:
        low = format_value(figure.ci_low, figure.unit, figure.name).rsplit(" ", 1)[0]
        high = format_value(figure.ci_high, figure.unit, figure.name).rsplit(" ", 1)[0]
        return f"{value} [{low}–{high}] n={figure.n}"
    return f"{value} n={figure.n}"


def avatar_conditions(server_runs: ServerRuns) -> dict[str, list[QualityCondition]]:
    """Per pipeline, its conditions in the avatar runs (VACE off first) with their quality figures."""
    runs = avatar_runs(server_runs)
    if not runs:
        return {}
    result = {}
    for pipeline_id, conditions in vace_conditions(server_runs, runs).items():
        result[pipeline_id] = [QualityCondition(c, condition_figure(server_runs, SIMILARITY, c.trials),
                                                condition_figure(server_runs, DRIFT, c.trials),
                                                condition_figure(server_runs, "flicker", c.trials))
                               for c in conditions]
    return result


def _value(figure: Figure | None) -> float | None:
    return figure.value if figure is not None else None


def best_condition(conditions: Iterable[QualityCondition]) -> QualityCondition | None:
    """The best condition with references (see the module docstring); None if none was scored."""
    scored = [c for c in conditions if c.with_references and _value(c.similarity) is not None]
    if not scored:
        return None

    def similarity(c: QualityCondition) -> float:
        return float(_value(c.similarity))  # type: ignore[arg-type]

    top = max(scored, key=similarity)
    assert top.similarity is not None
    top_low = top.similarity.ci_low if top.similarity.ci_low is not None else similarity(top)

    def reaches_top(c: QualityCondition) -> bool:
        assert c.similarity is not None
        high = c.similarity.ci_high if c.similarity.ci_high is not None else similarity(c)
        return high >= top_low

    tied = [c for c in scored if reaches_top(c)]
    return max(tied, key=lambda c: (_value(c.drift) if _value(c.drift) is not None else -math.inf, similarity(c)))


def reference_set(server_runs: ServerRuns, runs: Iterable[str]) -> str:
    """``3 images (dj-front.png, ...), the shipped stand-in set``: what the trials were compared with."""
    paths = list(dict.fromkeys(p for r in runs
                               for p in (server_runs.manifests[r].get("spec") or {}).get("references") or []))
    if not paths:
        return "the run's reference images"
    names = ", ".join(Path(p).name for p in paths)
    shipped = all(Path(p).parts[-4:-1] == SHIPPED_SET for p in paths)
    where = ("the shipped drawn stand-in set (lab/data/ref/avatar/), not the MetaDJ avatar: pass yours with "
             "`--set references=FOLDER/`" if shipped else f"from {Path(paths[0]).parent}")
    return f"{len(paths)} image{'s' if len(paths) != 1 else ''} ({names}), {where}"


def embedding_models(trials: pd.DataFrame) -> str:
    """The embedding model(s) the similarity was scored with, and what ``pixels`` can tell."""
    models = sorted({str(m) for m in trials.get("quality_model", pd.Series(dtype=object)).dropna()})
    if not models:
        return "embedding model not recorded"
    described = [f"`{m}` (colour layout, not identity: score with a CLIP model for identity)" if m == "pixels"
                 else f"`{m}`" for m in models]
    return "embedding " + ", ".join(described)


def plain_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials at the pipeline's plain settings: default, else VACE off, else the first condition."""
    if trials.empty:
        return trials
    for condition in PLAIN_CONDITIONS:
        chosen = trials[trials["condition"].eq(condition)]
        if not chosen.empty:
            return chosen
    return trials[trials["condition"].eq(trials["condition"].iloc[0])]


def trial_resolution(server_runs: ServerRuns, run_id: str, trial_id: str) -> tuple[int, int] | None:
    """(width, height) of the output the trial received, from its frame table (None: not stored)."""
    path = server_runs.runs.roots[run_id] / "frames" / f"{trial_id}.parquet"
    if not path.is_file():
        return None
    frames = pd.read_parquet(path, columns=["width", "height"])
    return None if frames.empty else (int(frames["width"].iloc[0]), int(frames["height"].iloc[0]))
