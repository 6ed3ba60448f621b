"""Plots of the fixture runs: the figure objects hold the expected series, files are real images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure as MplFigure
from PIL import Image

from lab.logbook import Evidence
from lab.report.plots import (plot_contact_sheet, plot_fps, plot_fps_over_time, plot_latency_cdfs,
                              plot_vace_overhead, plot_warmup_timeline, report_figures)
from lab.report.style import save_figure
from tests.fixtures import PIPELINES_RUN, RUNS, copy_runs

PIPELINES = ["longlive", "passthrough", "gray"]  # the VACE run (older) introduces longlive first


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return Evidence.load(None, RUNS)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _visible_axes(figure: MplFigure) -> list[plt.Axes]:
    return [ax for ax in figure.axes if ax.get_visible()]


def _watermarked(figure: MplFigure) -> bool:
    return any(text.get_text() == "SIMULATED" for text in figure.texts)


def test_fps_bars_one_per_pipeline_with_trials_as_dots(evidence: Evidence) -> None:
    figure = plot_fps(evidence, 15.0)
    assert figure is not None
    (ax,) = figure.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == PIPELINES
    heights = [bar.patches[0].get_height() for bar in bars]
    assert heights == pytest.approx([evidence.figure(p, "fps_out").value for p in PIPELINES])
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [len(line.get_xdata()) for line in dots] == [3, 3, 3]  # three trials each
    # CI whiskers where n >= 3 (every pipeline here), spanning the median
    for bar, pipeline in zip(bars, PIPELINES, strict=True):
        fps = evidence.figure(pipeline, "fps_out")
        assert bar.errorbar is not None
        (segments,) = [c.get_segments() for c in bar.errorbar.lines[2]]
        (low, high) = segments[0][:, 1]
        assert (low, high) == pytest.approx((fps.ci_low, fps.ci_high))
    assert _watermarked(figure)


def test_latency_cdf_one_line_per_pipeline(evidence: Evidence) -> None:
    figure = plot_latency_cdfs(evidence)
    assert figure is not None
    (ax,) = figure.axes
    labelled = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label().split(" ")[0] for line in labelled] == PIPELINES
    for line in labelled:
        y = np.asarray(line.get_ydata())
        assert y[-1] == pytest.approx(1.0) and np.all(np.diff(y) >= 0)  # a CDF
    assert ax.get_xscale() == "log"  # 240 ms to 3 s: a wide range


def test_warmup_timeline_segments_per_pipeline(evidence: Evidence) -> None:
    figure = plot_warmup_timeline(evidence)
    assert figure is not None
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == PIPELINES
    assert len(ax.patches) == 3 * 4  # load, first frame, warm-up, steady per pipeline
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["load", "first frame", "warm-up", "steady"]
    longlive = [p for p in ax.patches if abs(p.get_y() + p.get_height() / 2) < 1e-9]
    assert sum(p.get_width() for p in longlive[:3]) == pytest.approx(8.48, abs=0.02)  # load + ttff + warm-up
    assert "20x faster" in ax.get_xlabel()


def test_vace_overhead_lines_per_scale_and_vace_off(evidence: Evidence) -> None:
    figure = plot_vace_overhead(evidence)
    assert figure is not None
    assert len(figure.axes) == 2  # one pipeline: fps and latency
    for ax in figure.axes:
        series = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert [c.get_label() for c in series] == ["VACE on, scale 1.0", "VACE off"]
        on = series[0].lines[0]
        assert list(on.get_xdata()) == [0, 2]  # reference images


def test_fps_over_time_a_line_per_trial(evidence: Evidence) -> None:
    figure = plot_fps_over_time(evidence)
    assert figure is not None
    axes = _visible_axes(figure)
    assert [ax.get_title() for ax in axes] == PIPELINES
    assert [len(ax.get_lines()) for ax in axes] == [3, 3, 3]  # the default-settings trials, not the VACE sweep's
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["repeat 0", "repeat 1", "repeat 2"]


def test_contact_sheet_samples_per_pipeline(evidence: Evidence) -> None:
    figure = plot_contact_sheet(evidence)
    assert figure is not None
    images = [ax for ax in figure.axes if ax.get_images()]
    assert len(images) == 3 * 3
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert labels == [f"{p}\n512x512, video" for p in PIPELINES]  # the stream's resolution, not the sample's


def test_saved_files_are_non_empty_png_and_svg(evidence: Evidence, tmp_path: Path) -> None:
    figures = report_figures(evidence)
    assert list(figures) == ["fps_per_pipeline", "latency_cdf", "warmup_timeline", "vace_overhead",
                             "fps_over_time", "contact_sheet"]
    for name, figure in figures.items():
        png, svg = save_figure(figure, tmp_path, name)
        with Image.open(png) as image:
            pixels = np.asarray(image.convert("RGB")).astype(np.uint32)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300
        colours = np.unique((pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2])
        assert colours.size > 20, f"{name} looks blank"
        text = svg.read_text()
        assert "<svg" in text and "SIMULATED" in text


def test_a_run_without_vace_conditions_has_no_vace_plot(tmp_path: Path) -> None:
    evidence = Evidence.load(None, copy_runs(tmp_path, PIPELINES_RUN))
    assert plot_vace_overhead(evidence) is None
    assert "vace_overhead" not in report_figures(evidence)


def test_real_runs_are_not_watermarked(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["simulated"] = False
    path.write_text(json.dumps(manifest))
    figure = plot_fps(Evidence.load(None, out))
    assert figure is not None and not _watermarked(figure)
    assert "SIMULATED" not in figure.axes[0].get_title()
