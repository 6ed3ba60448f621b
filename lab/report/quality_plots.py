"""Plots of picture quality: does the character hold over time, and what each setting costs in speed.

- :func:`plot_similarity_over_time` — similarity of the output to the reference images over
  a trial, a line per VACE condition (median over its trials, their range shaded), a panel
  per pipeline; from the avatar runs' scored series (``quality/<trial>.parquet``);
- :func:`plot_quality_vs_speed` — per generative pipeline and condition, quality against
  steady output fps with 95 % CI bars both ways: reference similarity (avatar runs) and
  flicker, the trade-off a user picks a setting from.

Both are watermarked SIMULATED when the runs came from the simulator, like every plot.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D

from lab.logbook.generative import split_by_generation
from lab.logbook.quality import QualityCondition, avatar_conditions, condition_figure
from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace import vace_label
from lab.stats import Figure
from lab.report.style import short_condition, watermark

__all__ = ["plot_similarity_over_time", "plot_quality_vs_speed", "condition_style"]

BIN_S = 0.5  # series are sampled about twice a second: trials are aligned on this grid
OFF_COLOR = "#555555"
MARKERS = ("o", "^", "D", "v", "P", "X", "*")


def _title(server_runs: ServerRuns, text: str) -> str:
    return f"{text} — {server_runs.label}"


def condition_style(condition: QualityCondition, scales: list[float]) -> dict[str, object]:
    """VACE off grey and dashed; VACE on coloured by context scale (darker = stronger)."""
    if not condition.with_references:
        return {"color": OFF_COLOR, "linestyle": "--", "marker": "s"}
    colors = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, max(len(scales), 1)))
    index = scales.index(condition.condition.context_scale) if condition.condition.context_scale in scales else 0
    return {"color": colors[len(scales) - 1 - index], "linestyle": "-", "marker": MARKERS[index % len(MARKERS)]}


def _scales(conditions: list[QualityCondition]) -> list[float]:
    return sorted({c.condition.context_scale for c in conditions
                   if c.with_references and c.condition.context_scale is not None})


def _series(server_runs: ServerRuns, trials: pd.DataFrame) -> list[pd.DataFrame]:
    """The scored series of ``trials`` that were stored, with reference similarity."""
    out = []
    for run_id, trial_id in zip(trials["run_id"], trials["trial_id"], strict=True):
        path = server_runs.runs.roots[run_id] / "quality" / f"{trial_id}.parquet"
        if path.is_file():
            series = pd.read_parquet(path, columns=["t_s", "ref_similarity"]).dropna()
            if not series.empty:
                out.append(series)
    return out


def _binned(series: list[pd.DataFrame]) -> pd.DataFrame:
    """Median, min and max over trials at each ``BIN_S`` step (bins every trial reached)."""
    frames = [s.assign(bin=(s["t_s"] / BIN_S).round() * BIN_S) for s in series]
    per_trial = pd.concat([f.groupby("bin")["ref_similarity"].mean().rename(k) for k, f in enumerate(frames)], axis=1)
    per_trial = per_trial.dropna() if len(frames) > 1 else per_trial
    return pd.DataFrame({"median": per_trial.median(axis=1), "low": per_trial.min(axis=1),
                         "high": per_trial.max(axis=1)})


def plot_similarity_over_time(server_runs: ServerRuns) -> MplFigure | None:
    """Reference similarity over a trial: a line per VACE condition, a panel per pipeline (avatar runs)."""
    panels = {}
    for pipeline_id, conditions in avatar_conditions(server_runs).items():
        lines = [(c, _series(server_runs, c.condition.trials)) for c in conditions]
        lines = [(c, s) for c, s in lines if s]
        if lines:
            panels[pipeline_id] = lines
    if not panels:
        return None
    columns = min(2, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.2 * columns + 1.0, 3.6 * rows + 1.2), layout="constrained",
                                squeeze=False, sharey=True)
    handles: dict[str, Line2D] = {}
    for ax, (pipeline_id, lines) in zip(axes.flat, panels.items()):
        scales = _scales([c for c, _ in lines])
        for condition, series in lines:
            style = condition_style(condition, scales)
            binned = _binned(series)
            line, = ax.plot(binned.index, binned["median"], lw=2, color=style["color"], linestyle=style["linestyle"],
                            label=condition.label)
            if len(series) > 1:
                ax.fill_between(binned.index, binned["low"], binned["high"], color=style["color"], alpha=0.15, lw=0)
            handles.setdefault(condition.label, line)
        ax.set(title=pipeline_id, xlabel="seconds into the measured trial (references sent just before)")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("similarity to the references (cosine)")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    # below the panels: never under the title, whatever the number of panels
    figure.legend(handles=list(handles.values()), fontsize="small", loc="outside lower center",
                  ncols=min(len(handles), 2 * columns), title="condition (median over trials, shaded: their range)",
                  title_fontsize="small")
    figure.suptitle(_title(server_runs, "Similarity to the reference images over time"))
    watermark(figure, server_runs.simulated)
    return figure


def _point(figure: Figure | None) -> tuple[float, float, float] | None:
    """(value, minus, plus) for an error bar; no bar without a CI."""
    if figure is None or figure.value is None:
        return None
    low = figure.ci_low if figure.ci_low is not None else figure.value
    high = figure.ci_high if figure.ci_high is not None else figure.value
    return figure.value, max(figure.value - low, 0.0), max(high - figure.value, 0.0)


class _Point(NamedTuple):
    """One condition of one pipeline in one run: where it sits, with its CI bars."""

    pipeline_id: str
    run_id: str
    label: str
    fps: tuple[float, float, float]
    quality: tuple[float, float, float]


def _condition_label(trials: pd.DataFrame) -> str:
    """The VACE setting's name (:func:`lab.logbook.vace.vace_label`) where the rows have one, else the condition."""
    row = trials.iloc[0]
    enabled = row.get("vace_enabled")
    if isinstance(enabled, bool | np.bool_) and not pd.isna(row.get("vace_ref_count")):
        scale = row.get("vace_context_scale")
        return vace_label(bool(enabled), int(row["vace_ref_count"]), None if pd.isna(scale) else float(scale))
    return short_condition(str(row["condition"]))


def _quality_points(server_runs: ServerRuns, name: str) -> list[_Point]:
    """A point per generative pipeline, run and condition (a run's conditions share its trial settings)."""
    trials = server_runs.ok[server_runs.ok[name].notna()] if name in server_runs.ok else server_runs.ok.iloc[0:0]
    generative = split_by_generation(list(dict.fromkeys(trials["pipeline_id"])), server_runs.server.schemas).generative
    points = []
    for (pipeline_id, run_id, _), group in trials.groupby(["pipeline_id", "run_id", "condition"], sort=False):
        if pipeline_id not in generative:
            continue
        fps = _point(condition_figure(server_runs, "fps_out", group))
        quality = _point(condition_figure(server_runs, name, group))
        if fps is not None and quality is not None:
            points.append(_Point(pipeline_id, run_id, _condition_label(group), fps, quality))
    return points


def _scatter(ax: Axes, points: list[_Point], colors: dict[str, object], markers: dict[str, str]) -> None:
    """A point per condition with CI bars both ways; a faint line joins the conditions one run of a
    pipeline measured (never across runs, whose trial settings may differ)."""
    for (pipeline_id, _), mine in _by_run(points).items():
        line = sorted((p.label, p.fps[0], p.quality[0]) for p in mine)
        ax.plot([x for _, x, _ in line], [y for *_, y in line], color=colors[pipeline_id], alpha=0.3, lw=1, zorder=1)
    for pipeline_id, _, label, (x, x_minus, x_plus), (y, y_minus, y_plus) in points:
        ax.errorbar([x], [y], xerr=[[x_minus], [x_plus]], yerr=[[y_minus], [y_plus]], color=colors[pipeline_id],
                    marker=markers[label], ms=8, capsize=3, lw=1.2, linestyle="none", markeredgecolor="white")


def _by_run(points: list[_Point]) -> dict[tuple[str, str], list[_Point]]:
    runs: dict[tuple[str, str], list[_Point]] = {}
    for point in points:
        runs.setdefault((point.pipeline_id, point.run_id), []).append(point)
    return runs


def _two_rows(first: list[Line2D], second: list[Line2D]) -> tuple[list[Line2D], int]:
    """Legend handles and column count putting ``first`` on the top row and ``second`` below it.

    A legend fills column by column, so the two lists are interleaved (the shorter padded
    with blank entries).
    """
    width = max(len(first), len(second))
    blank = Line2D([], [], linestyle="none", label=" ")
    padded = [[*items, *[blank] * (width - len(items))] for items in (first, second)]
    return [h for pair in zip(*padded, strict=True) for h in pair], width


def plot_quality_vs_speed(server_runs: ServerRuns) -> MplFigure | None:
    """Quality against steady fps per generative pipeline and condition: pick a setting from it."""
    panels = [(name, label, note) for name, label, note in (
        ("ref_similarity", "similarity to the references (cosine)", "higher: closer to the character"),
        ("flicker", "flicker (levels of 0–255)", "lower: steadier picture"))]
    data = [(name, label, note, _quality_points(server_runs, name)) for name, label, note in panels]
    data = [d for d in data if d[3]]
    if not data:
        return None
    pipelines = list(dict.fromkeys(p.pipeline_id for *_, points in data for p in points))
    labels = sorted({p.label for *_, points in data for p in points})  # VACE off, then by refs and scale
    colors = dict(zip(pipelines, plt.get_cmap("tab10").colors, strict=False))
    markers = {label: ("s" if "off" in label.lower() else MARKERS[k % len(MARKERS)])
               for k, label in enumerate(labels)}
    figure, axes = plt.subplots(1, len(data), figsize=(max(5.6 * len(data), 8.0), 5.4), layout="constrained",
                                squeeze=False)
    for ax, (_, label, note, points) in zip(axes[0], data, strict=True):
        _scatter(ax, points, colors, markers)
        ax.set(xlabel="steady output fps", ylabel=label, title=f"{label.split(' (')[0]} ({note})")
        ax.grid(alpha=0.3)
    by_pipeline = [Line2D([], [], color=colors[p], marker="o", linestyle="none", ms=8, label=p) for p in pipelines]
    by_condition = [Line2D([], [], color="#444444", marker=markers[label], linestyle="none", ms=8, label=label)
                    for label in labels]
    handles, width = _two_rows(by_pipeline, by_condition)
    figure.legend(handles=handles, fontsize="small", loc="outside lower center", ncols=width,
                  title="colour: pipeline, marker: condition", title_fontsize="small")
    figure.suptitle(_title(server_runs, "Quality against speed per condition (median over trials, 95 % CI)"))
    watermark(figure, server_runs.simulated)
    return figure
