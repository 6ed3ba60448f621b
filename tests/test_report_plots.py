"""Plots of the fixture runs: the figure objects hold the expected series, files are real images."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure as MplFigure
from matplotlib.transforms import Bbox
from PIL import Image

from lab.logbook import ServerRuns
from lab.report.plots import (plot_contact_sheet, plot_fps, plot_fps_over_time, plot_latency_cdfs,
                              plot_vace_overhead, plot_warmup_timeline, report_figures)
from lab.report.style import save_figure
from tests.fixtures import PIPELINES_RUN, RUNS, copy_runs

PIPELINES = ["longlive", "passthrough", "gray"]  # the VACE run (older) introduces longlive first
# Real pipeline ids, long ones among them: the demo's sweep measures this many side by side.
MORE_PIPELINES = ["streamdiffusionv2", "krea-realtime-video", "reward-forcing", "memflow", "video-depth-anything",
                  "controller-viz", "optical-flow"]


@pytest.fixture(scope="module")
def server_runs() -> ServerRuns:
    return ServerRuns.load(None, RUNS)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _visible_axes(figure: MplFigure) -> list[plt.Axes]:
    return [ax for ax in figure.axes if ax.get_visible()]


def _watermarked(figure: MplFigure) -> bool:
    return any(text.get_text() == "SIMULATED" for text in figure.texts)


def test_fps_bars_one_per_pipeline_with_trials_as_dots(server_runs: ServerRuns) -> None:
    figure = plot_fps(server_runs, 15.0)
    assert figure is not None
    (ax,) = figure.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == PIPELINES  # horizontal: a name per line
    widths = [bar.patches[0].get_width() for bar in bars]
    assert widths == pytest.approx([server_runs.figure(p, "fps_out").value for p in PIPELINES])
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [len(line.get_xdata()) for line in dots] == [3, 3, 3]  # three trials each
    # CI whiskers where n >= 3 (every pipeline here), spanning the median
    for bar, pipeline in zip(bars, PIPELINES, strict=True):
        fps = server_runs.figure(pipeline, "fps_out")
        assert bar.errorbar is not None
        (segments,) = [c.get_segments() for c in bar.errorbar.lines[2]]
        (low, high) = segments[0][:, 0]
        assert (low, high) == pytest.approx((fps.ci_low, fps.ci_high))
    assert _watermarked(figure)


def test_latency_cdf_one_line_per_pipeline(server_runs: ServerRuns) -> None:
    figure = plot_latency_cdfs(server_runs)
    assert figure is not None
    (ax,) = figure.axes
    labelled = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label().split(" ")[0] for line in labelled] == PIPELINES
    for line in labelled:
        y = np.asarray(line.get_ydata())
        assert y[-1] == pytest.approx(1.0) and np.all(np.diff(y) >= 0)  # a CDF
    assert ax.get_xscale() == "log"  # 240 ms to 3 s: a wide range


def test_warmup_timeline_segments_per_pipeline(server_runs: ServerRuns) -> None:
    figure = plot_warmup_timeline(server_runs)
    assert figure is not None
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == PIPELINES
    assert len(ax.patches) == 3 * 4  # load, first frame, warm-up, steady per pipeline
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["load", "first frame", "warm-up", "steady"]
    longlive = [p for p in ax.patches if abs(p.get_y() + p.get_height() / 2) < 1e-9]
    # medians over longlive's trials in the pipelines run (trials.jsonl): load 2.3446 s (one load);
    # ttff of 3.2591, 3.2051, 3.2105 s: 3.2105 s; warm-up of 3.2656 and 2.5989 s (the third never
    # settled): 2.9323 s; 2.3446 + 3.2105 + 2.9323 = 8.4874 s
    assert [p.get_width() for p in longlive[:3]] == pytest.approx([2.3446, 3.2105, 2.9323], abs=1e-4)
    assert sum(p.get_width() for p in longlive[:3]) == pytest.approx(8.4874, abs=1e-4)
    assert "20x faster" in ax.get_xlabel()


def test_vace_overhead_lines_per_scale_and_vace_off(server_runs: ServerRuns) -> None:
    figure = plot_vace_overhead(server_runs)
    assert figure is not None
    assert len(figure.axes) == 2  # one pipeline: fps and latency
    for ax in figure.axes:
        series = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert [c.get_label() for c in series] == ["VACE on, scale 1.0", "VACE off"]
        on = series[0].lines[0]
        assert list(on.get_xdata()) == [0, 2]  # reference images


def test_fps_over_time_a_line_per_trial(server_runs: ServerRuns) -> None:
    figure = plot_fps_over_time(server_runs)
    assert figure is not None
    axes = _visible_axes(figure)
    assert [ax.get_title() for ax in axes] == PIPELINES
    assert [len(ax.get_lines()) for ax in axes] == [3, 3, 3]  # the default-settings trials, not the VACE sweep's
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["repeat 0", "repeat 1", "repeat 2"]


def test_contact_sheet_samples_per_pipeline(server_runs: ServerRuns) -> None:
    figure = plot_contact_sheet(server_runs)
    assert figure is not None
    images = [ax for ax in figure.axes if ax.get_images()]
    assert len(images) == 3 * 3
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert labels == [f"{p}\n512x512, video" for p in PIPELINES]  # the stream's resolution, not the sample's


def test_saved_files_are_non_empty_png_and_svg(server_runs: ServerRuns, tmp_path: Path) -> None:
    figures = report_figures(server_runs)
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
    server_runs = ServerRuns.load(None, copy_runs(tmp_path, PIPELINES_RUN))
    assert plot_vace_overhead(server_runs) is None
    assert "vace_overhead" not in report_figures(server_runs)


def test_real_runs_are_not_watermarked(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["simulated"] = False
    path.write_text(json.dumps(manifest))
    figure = plot_fps(ServerRuns.load(None, out))
    assert figure is not None and not _watermarked(figure)
    assert "SIMULATED" not in figure.axes[0].get_title()


def _with_more_pipelines(tmp_path: Path) -> ServerRuns:
    """The fixture runs plus copies of longlive's trials under seven more (real) pipeline ids."""
    out = copy_runs(tmp_path)
    root = out / PIPELINES_RUN
    rows = [json.loads(line) for line in (root / "trials.jsonl").read_text().splitlines()]
    copies = []
    for name in MORE_PIPELINES:
        for row in (r for r in rows if r["pipeline_id"] == "longlive"):
            trial_id = row["trial_id"].replace("longlive", name)
            copies.append({**row, "pipeline_id": name, "trial_id": trial_id})
            shutil.copy(root / "frames" / f"{row['trial_id']}.parquet", root / "frames" / f"{trial_id}.parquet")
            for sample in (root / "samples").glob(f"{row['trial_id']}-*.jpg"):
                shutil.copy(sample, sample.with_name(sample.name.replace(row["trial_id"], trial_id)))
    with (root / "trials.jsonl").open("a") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in copies)
    return ServerRuns.load(None, out)


def _drawn_labels(figure: MplFigure) -> list[tuple[str, Bbox]]:
    """Every piece of text the figure draws (tick labels in view, titles, axis labels,
    annotations, legends), with its box in pixels; the SIMULATED watermark crosses the plot
    on purpose and is left out."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = []
    for ax in _visible_axes(figure):
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(limits)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if low <= tick.get_loc() <= high and tick.label1.get_visible() and tick.label1.get_text():
                    labels.append((tick.label1.get_text(), tick.label1.get_window_extent(renderer)))
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        labels += [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text()]
        if ax.get_legend() is not None:
            labels.append(("legend", ax.get_legend().get_window_extent(renderer)))
    labels += [("figure legend", legend.get_window_extent(renderer)) for legend in figure.legends]
    labels += [(t.get_text(), t.get_window_extent(renderer)) for t in figure.texts
               if t.get_visible() and t.get_text() and t.get_text() != "SIMULATED"]
    return labels


def test_no_two_labels_overlap_with_ten_pipelines(tmp_path: Path) -> None:
    server_runs = _with_more_pipelines(tmp_path)
    assert len(server_runs.pipelines()) == 10
    figures = report_figures(server_runs)
    assert len(figures) == 6
    for name, figure in figures.items():
        labels = _drawn_labels(figure)
        assert len(labels) > 5, name
        clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(labels, 2) if box_a.overlaps(box_b)]
        assert not clashes, f"{name}: overlapping labels {clashes}"
