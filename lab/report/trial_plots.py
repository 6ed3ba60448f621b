"""Plots of one or more trials: fps over time, latency CDF, interval histogram.

Every figure made from simulated data carries a SIMULATED watermark, so it cannot pass
for a real measurement when it is copied out of its notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from lab.measure.result import TrialResult
from lab.report.style import rolling_fps, watermark

__all__ = ["watermark", "rolling_fps", "plot_fps_over_time", "plot_latency_cdf", "plot_interval_histogram", "trial_dashboard"]


def _label(result: TrialResult) -> str:
    mode = "t2v" if result.spec.mode == "text" else "v2v"
    return f"{result.spec.pipeline_id} ({mode})"


def plot_fps_over_time(results: Sequence[TrialResult], ax: Axes) -> None:
    """Output fps over time (1 s rolling), with each trial's warm-up shaded."""
    for result in results:
        frames = result.frames
        if frames.empty:
            continue
        t = frames["t_s"].to_numpy()
        times, rates = rolling_fps(t)
        line, = ax.plot(times, rates, label=_label(result), lw=1.4)
        steady = frames.index[frames["phase"] == "steady"]
        end = float(frames.loc[steady[0], "t_s"]) if len(steady) else float(t[-1])
        ax.axvspan(float(t[0]), end, color=line.get_color(), alpha=0.12)
    ax.set(xlabel="time since offer (s)", ylabel="output fps (1 s window)", title="Output rate (warm-up shaded)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def plot_latency_cdf(results: Sequence[TrialResult], ax: Axes) -> None:
    """Empirical CDF of per-frame latency (stamped) or step latency per trial."""
    for result in results:
        frames = result.frames
        if "latency_ms" in frames and frames["latency_ms"].notna().any():
            values = frames.loc[frames["phase"] == "steady", "latency_ms"].dropna().to_numpy(dtype=float)
            kind = "frame"
        else:
            values = np.array([d.latency_s * 1e3 for d in result.step_detections if d.latency_s is not None])
            kind = "step"
        if values.size == 0:
            continue
        values = np.sort(values)
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                label=f"{_label(result)} {kind} n={values.size}")
    ax.set(xlabel="latency (ms)", ylabel="fraction of frames", title="Latency CDF", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def plot_interval_histogram(results: Sequence[TrialResult], ax: Axes) -> None:
    """Histogram of inter-frame intervals in steady state (chunked arrival shows as two humps)."""
    for result in results:
        frames = result.frames
        if frames.empty:
            continue
        values = frames.loc[frames["phase"] == "steady", "interval_ms"].dropna().to_numpy(dtype=float)
        if values.size:
            ax.hist(values, bins=40, alpha=0.55, label=_label(result))
    ax.set(xlabel="inter-frame interval (ms)", ylabel="frames", title="Frame intervals (steady state)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def trial_dashboard(results: Sequence[TrialResult]) -> MplFigure:
    """The three trial plots side by side, watermarked if any trial is simulated."""
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    plot_fps_over_time(results, axes[0])
    plot_latency_cdf(results, axes[1])
    plot_interval_histogram(results, axes[2])
    watermark(figure, any(r.simulated for r in results))
    return figure
