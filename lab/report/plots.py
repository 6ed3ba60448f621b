"""Plots of runs, for the report and the research-log notebook; readable at a glance.

- :func:`plot_fps` — steady fps per pipeline: median with 95 % CI bars, each trial as a dot,
  the real-time threshold as a line;
- :func:`plot_latency_cdfs` — per-frame latency CDF per pipeline (stamped input), or the
  per-trial step-test latencies where the pipeline redraws the picture;
- :func:`plot_warmup_timeline` — per pipeline, from load request: loading, WebRTC offer to
  first frame, warm-up to steady state;
- :func:`plot_vace_overhead` — fps and latency against the number of reference images, one
  line per context scale, VACE off as its own marker;
- :func:`plot_fps_over_time` — output fps over time, one line per trial, a panel per pipeline;
- :func:`plot_contact_sheet` — sampled output frames per pipeline, for judging quality by eye;
- picture quality (:mod:`lab.report.quality_plots`): similarity to the reference images over
  time per VACE condition, and quality against speed per pipeline and condition.

Each returns a matplotlib figure (None when the runs hold nothing to plot) watermarked
SIMULATED when the data came from the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from lab.logbook.realtime import DEFAULT_REALTIME_FPS, realtime_verdicts
from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace import vace_conditions
from lab.stats import Figure
from lab.report.quality_plots import plot_quality_vs_speed, plot_similarity_over_time
from lab.report.style import rolling_fps, short_condition, watermark
from lab.units import format_value

__all__ = ["plot_fps", "plot_latency_cdfs", "plot_warmup_timeline", "plot_vace_overhead", "plot_fps_over_time",
           "plot_contact_sheet", "plot_similarity_over_time", "plot_quality_vs_speed", "report_figures", "PLOTS",
           "PLOT_CAPTIONS", "short_condition"]

PHASE_COLORS = {"load": "#8da0cb", "first frame": "#fc8d62", "warm-up": "#ffd92f", "steady": "#66c2a5"}


def _title(server_runs: ServerRuns, text: str) -> str:
    return f"{text} — {server_runs.label}"


def _frames(server_runs: ServerRuns, trials: pd.DataFrame) -> list[tuple[pd.Series, pd.DataFrame]]:
    """(trial row, per-frame table) for trials whose frames were stored."""
    out = []
    for _, row in trials.iterrows():
        path = server_runs.runs.roots[row["run_id"]] / "frames" / f"{row['trial_id']}.parquet"
        if path.is_file():
            out.append((row, pd.read_parquet(path)))
    return out


def _finish(figure: MplFigure, server_runs: ServerRuns) -> MplFigure:
    watermark(figure, server_runs.simulated)
    return figure


def plot_fps(server_runs: ServerRuns, realtime_fps: float = DEFAULT_REALTIME_FPS) -> MplFigure | None:
    """Steady output fps per pipeline: bars at the median over trials, 95 % CI whiskers, trials as dots.

    Bars are horizontal, so pipeline names of any length and number sit one per line and
    never collide. They are blue when the pipeline is real time
    (:func:`lab.logbook.realtime.realtime_verdicts`), red when too slow, amber when the CI
    spans the threshold.
    """
    verdicts = realtime_verdicts(server_runs, realtime_fps)
    if not verdicts:
        return None
    colors = {"yes": "#4c72b0", "no": "#c44e52", "borderline": "#dd8452"}
    figure, ax = plt.subplots(figsize=(8.5, 1.6 + 0.55 * len(verdicts)), layout="constrained")
    right = realtime_fps
    for y, verdict in enumerate(verdicts):
        fps = verdict.fps
        assert fps.value is not None
        has_ci = fps.ci_low is not None and fps.ci_high is not None and fps.n > 1
        error = [[fps.value - fps.ci_low], [fps.ci_high - fps.value]] if has_ci else None
        ax.barh(y, fps.value, color=colors[verdict.verdict], alpha=0.85, xerr=error, capsize=5, height=0.6,
                label=verdict.pipeline_id)
        values = pd.to_numeric(server_runs.baseline(verdict.pipeline_id)["fps_out"], errors="coerce").dropna()
        ax.plot(values, np.full(len(values), y), "o", color="black", ms=4, alpha=0.7, zorder=3)
        end = max([fps.value, *(values.tolist()), *([fps.ci_high] if has_ci else [])])
        ax.annotate(f"{format_value(fps.value, fps.unit, 'fps_out')}  n={fps.n}", (end, y),
                    textcoords="offset points", xytext=(8, 0), va="center", fontsize=9)
        right = max(right, end)
    ax.axvline(realtime_fps, color="gray", ls="--", lw=1, label=f"real-time threshold {realtime_fps:g} fps")
    ax.set_yticks(range(len(verdicts)), [v.pipeline_id for v in verdicts])
    ax.invert_yaxis()
    ax.set_xlim(0, right * 1.3)  # room for the value beside the longest bar
    ax.set(xlabel="steady output fps", title=_title(server_runs, "Output fps per pipeline"))
    figure.legend(handles=ax.get_lines()[-1:], fontsize="small", loc="outside lower right")
    ax.grid(axis="x", alpha=0.3)
    return _finish(figure, server_runs)


def _steady(frames: pd.DataFrame) -> pd.DataFrame:
    """Steady-state frames; all of them when the trial never settled (its figures do the same)."""
    steady = frames[frames["phase"].eq("steady")] if "phase" in frames else frames
    return steady if not steady.empty else frames


def _latencies(server_runs: ServerRuns, pipeline_id: str) -> tuple[np.ndarray, str]:
    """Per-frame stamped latencies (steady frames), else the trials' step-test p50s."""
    trials = server_runs.baseline(pipeline_id)
    values = [_steady(frames)["latency_ms"].dropna().to_numpy(dtype=float)
              for _, frames in _frames(server_runs, trials) if "latency_ms" in frames]
    stamped = np.concatenate(values) if values else np.zeros(0)
    if stamped.size:
        return stamped, "frames"
    steps = pd.to_numeric(trials.get("step_latency_p50", pd.Series(dtype=float)), errors="coerce").dropna()
    return steps.to_numpy(dtype=float), "step tests"


def plot_latency_cdfs(server_runs: ServerRuns) -> MplFigure | None:
    """Empirical CDF of frame latency per pipeline (x on a log scale when the range is wide)."""
    series = {p: _latencies(server_runs, p) for p in server_runs.pipelines()}
    series = {p: v for p, v in series.items() if v[0].size}
    if not series:
        return None
    # the legend goes beside the plot: every corner inside holds a curve's start or end
    figure, ax = plt.subplots(figsize=(10.5, 4.4), layout="constrained")
    colors = plt.get_cmap("tab20" if len(series) > 10 else "tab10").colors
    for index, (pipeline_id, (values, kind)) in enumerate(series.items()):
        values = np.sort(values)
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", lw=1.6,
                color=colors[index % len(colors)],
                label=f"{pipeline_id} (p50 {format_value(float(np.median(values)), 'ms')}, {values.size} {kind})")
    low = min(v.min() for v, _ in series.values())
    high = max(v.max() for v, _ in series.values())
    if low > 0 and high / low > 8:
        ax.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if str(value)[0] in "25" else ""))
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="latency, input sent → output received (ms)", ylabel="fraction of frames", ylim=(0, 1.02),
           title=_title(server_runs, "Frame latency CDF per pipeline"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(figure, server_runs)


def plot_warmup_timeline(server_runs: ServerRuns) -> MplFigure | None:
    """From load request to steady output per pipeline: load, offer → first frame, warm-up (medians)."""
    rows = []
    for pipeline_id in server_runs.pipelines():
        parts = {name: server_runs.figure(pipeline_id, key) for name, key in
                 (("load", "load_s"), ("first frame", "ttff_s"), ("warm-up", "warmup_s"))}
        if all(f is None for f in parts.values()):
            continue
        rows.append((pipeline_id, {k: (f.value or 0.0) if f is not None else 0.0 for k, f in parts.items()}))
    if not rows:
        return None
    figure, ax = plt.subplots(figsize=(8.5, 1.0 + 0.7 * len(rows)), layout="constrained")
    total_max = max(sum(parts.values()) for _, parts in rows)
    tail = max(total_max * 0.12, 0.2)
    for y, (pipeline_id, parts) in enumerate(rows):
        start = 0.0
        for phase, width in parts.items():
            ax.barh(y, width, left=start, color=PHASE_COLORS[phase], edgecolor="white",
                    label=phase if y == 0 else None)
            if width > total_max * 0.09:
                ax.text(start + width / 2, y, f"{width:.2g} s", ha="center", va="center", fontsize=8)
            start += width
        ax.barh(y, tail, left=start, color=PHASE_COLORS["steady"], alpha=0.5, hatch="//", edgecolor="white",
                label="steady" if y == 0 else None)
        ax.text(start + tail + total_max * 0.01, y, f"steady after {start:.2g} s", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [p for p, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, (total_max + tail) * 1.3)
    speed = server_runs.server.simulator_speed
    note = f" (simulator loads {speed:g}x faster than real time)" if speed and speed != 1 else ""
    ax.set(xlabel=f"seconds from load request{note}",
           title=_title(server_runs, "Warm-up timeline (medians over trials)"))
    figure.legend(ncols=4, fontsize="small", loc="outside lower center")  # below: never over a bar or its text
    ax.grid(axis="x", alpha=0.3)
    return _finish(figure, server_runs)


def plot_vace_overhead(server_runs: ServerRuns) -> MplFigure | None:
    """Steady fps and frame latency against reference images: a line per context scale, VACE off apart."""
    conditions = vace_conditions(server_runs)
    if not conditions:
        return None
    figure, axes = plt.subplots(len(conditions), 2, figsize=(10, 3.6 * len(conditions)), layout="constrained",
                                squeeze=False)
    for row, (pipeline_id, items) in enumerate(conditions.items()):
        for ax, (metric, label) in zip(axes[row], (("fps", "steady fps"), ("latency", "frame latency p50 (ms)")),
                                       strict=True):
            off = [c for c in items if not c.vace_enabled]
            on = [c for c in items if c.vace_enabled]
            scales = sorted({c.context_scale for c in on if c.ref_count}, key=lambda s: (s is None, s))
            for scale in scales or [None]:
                line = sorted((c for c in on if c.ref_count == 0 or c.context_scale == scale), key=lambda c: c.ref_count)
                _errorline(ax, [c.ref_count for c in line], [getattr(c, metric) for c in line],
                           label=f"VACE on, scale {scale:.1f}" if scale is not None else "VACE on", marker="o")
            if off:
                _errorline(ax, [0] * len(off), [getattr(c, metric) for c in off], label="VACE off", marker="s",
                           color="black", linestyle="none")
            ax.set(xlabel="reference images", ylabel=label, title=f"{pipeline_id}: {label}")
            ax.set_xticks(sorted({c.ref_count for c in items}))
            ax.grid(alpha=0.3)
        # both panels hold the same series: one legend beside the row, clear of the whiskers
        axes[row, 1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle(_title(server_runs, "VACE overhead (median over trials, 95 % CI)"))
    return _finish(figure, server_runs)


def _errorline(ax: Axes, xs: list[int], figures: list[Figure | None], *, label: str, marker: str,
               **style: Any) -> None:
    points = [(x, f) for x, f in zip(xs, figures, strict=True) if f is not None and f.value is not None]
    if not points:
        return
    x = [p[0] for p in points]
    y = [p[1].value for p in points]
    low = [p[1].value - p[1].ci_low if p[1].ci_low is not None and p[1].n > 1 else 0 for p in points]
    high = [p[1].ci_high - p[1].value if p[1].ci_high is not None and p[1].n > 1 else 0 for p in points]
    ax.errorbar(x, y, yerr=[low, high], label=label, marker=marker, capsize=4, **style)


def plot_fps_over_time(server_runs: ServerRuns) -> MplFigure | None:
    """Output fps (1 s window) over time since the offer, a line per trial at default settings,
    a panel per pipeline (VACE settings have their own plot)."""
    panels = {p: _frames(server_runs, server_runs.baseline(p)) for p in server_runs.pipelines()}
    panels = {p: f for p, f in panels.items() if f}
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.3 * rows), layout="constrained",
                                squeeze=False, sharey=True)
    for ax, (pipeline_id, trials) in zip(axes.flat, panels.items()):
        for row, frames in trials:
            if frames.empty:
                continue
            times, rates = rolling_fps(frames["t_s"].to_numpy())
            condition = "" if row["condition"] == "default" else f" {short_condition(row['condition'])}"
            ax.plot(times, rates, lw=1.2, label=f"repeat {row['repeat']}{condition}")
        ax.set(title=pipeline_id, xlabel="seconds since offer")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower right")  # output ramps up from the left: that corner stays empty
    for ax in axes[:, 0]:
        ax.set_ylabel("output fps (1 s window)")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    figure.suptitle(_title(server_runs, "Output fps over time, per trial"))
    return _finish(figure, server_runs)


def _resolution(server_runs: ServerRuns, trial: pd.Series) -> str | None:
    """The output resolution the trial received (from its frame table; samples may be scaled)."""
    frames = _frames(server_runs, trial.to_frame().T)
    if not frames or frames[0][1].empty or "width" not in frames[0][1]:
        return None
    first = frames[0][1].iloc[0]
    return f"{int(first['width'])}x{int(first['height'])}"


def plot_contact_sheet(server_runs: ServerRuns, per_pipeline: int = 3) -> MplFigure | None:
    """Sampled output frames per pipeline (first trial at default settings), labelled with resolution."""
    from PIL import Image

    rows = []
    for pipeline_id in server_runs.pipelines():
        for _, trial in server_runs.baseline(pipeline_id).iterrows():
            samples = sorted((server_runs.runs.roots[trial["run_id"]] / "samples").glob(f"{trial['trial_id']}-*.jpg"))
            if samples:
                rows.append((pipeline_id, trial, samples[:per_pipeline]))
                break
    if not rows:
        return None
    blocks = 1 if len(rows) <= 4 else 2  # many pipelines: two side by side, so the sheet stays screen-sized
    lines = math.ceil(len(rows) / blocks)
    figure, axes = plt.subplots(lines, per_pipeline * blocks, figsize=(2.6 * per_pipeline * blocks, 2.75 * lines),
                                layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_visible(False)
    for index, (pipeline_id, trial, samples) in enumerate(rows):
        line = axes[index % lines, (index // lines) * per_pipeline:(index // lines + 1) * per_pipeline]
        for k, ax in enumerate(line[:len(samples)]):
            ax.set_visible(True)
            with Image.open(samples[k]) as image:
                ax.imshow(np.asarray(image.convert("RGB")))
                size = _resolution(server_runs, trial) or f"{image.width}x{image.height}"
            if k == 0:
                ax.set_ylabel(f"{pipeline_id}\n{size}, {trial['mode']}", fontsize=9)
    figure.suptitle(_title(server_runs, "Output samples (early, middle, late in a trial)"))
    return _finish(figure, server_runs)


# name -> plot(server_runs, realtime_fps); only the fps plot uses the threshold
PLOTS: dict[str, Callable[[ServerRuns, float], MplFigure | None]] = {
    "fps_per_pipeline": plot_fps,
    "latency_cdf": lambda server_runs, _: plot_latency_cdfs(server_runs),
    "warmup_timeline": lambda server_runs, _: plot_warmup_timeline(server_runs),
    "vace_overhead": lambda server_runs, _: plot_vace_overhead(server_runs),
    "fps_over_time": lambda server_runs, _: plot_fps_over_time(server_runs),
    "contact_sheet": lambda server_runs, _: plot_contact_sheet(server_runs),
    "similarity_over_time": lambda server_runs, _: plot_similarity_over_time(server_runs),
    "quality_vs_speed": lambda server_runs, _: plot_quality_vs_speed(server_runs),
}


PLOT_CAPTIONS: dict[str, str] = {
    "fps_per_pipeline": "Steady output fps per pipeline at default settings: bar = median over trials, whiskers = "
                        "95 % CI (n ≥ 3), dots = trials; blue real-time, red too slow, amber undecided.",
    "latency_cdf": "Frame latency (input sent → output received) per pipeline: per-frame from stamped input where "
                   "the pipeline keeps the picture, else the trials' step-test medians.",
    "warmup_timeline": "From load request to steady output per pipeline (medians): model load, WebRTC offer to the "
                       "first frame, warm-up until the output rate is steady.",
    "vace_overhead": "What VACE costs: steady fps and frame latency against the number of reference images, a line "
                     "per context scale; VACE not loaded as a black square.",
    "fps_over_time": "Output fps over time (1 s window) since the WebRTC offer, one line per trial at default "
                     "settings, a panel per pipeline.",
    "contact_sheet": "Output frames sampled early, mid-way and late in a trial at default settings, per pipeline: "
                     "judge the quality by eye.",
    "similarity_over_time": "Similarity of the output to the VACE reference images over a trial (avatar runs: "
                            "references sent once, as the segment began), a line per condition: median over "
                            "trials, their range shaded. A falling line is identity drift; VACE off is the baseline.",
    "quality_vs_speed": "Quality against speed, a point per generative pipeline and condition (median over trials, "
                        "95 % CI bars): similarity to the references (higher is closer to the character) and "
                        "flicker (lower is steadier) against steady output fps. Pick a setting from it.",
}


def report_figures(server_runs: ServerRuns, realtime_fps: float = DEFAULT_REALTIME_FPS) -> dict[str, MplFigure]:
    """Every plot the runs support, by name (those without data are left out)."""
    figures = {}
    for name, plot in PLOTS.items():
        figure = plot(server_runs, realtime_fps)
        if figure is not None:
            figures[name] = figure
    return figures
