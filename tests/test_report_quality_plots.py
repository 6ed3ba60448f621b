"""Quality plots from a synthetic scored avatar run: the lines and points are the stored figures,
only generative pipelines are placed, the legend sits clear of the axes, SIMULATED is stamped."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lab.logbook import ServerRuns
from lab.report.plots import report_figures
from lab.report.quality_plots import BIN_S, plot_quality_vs_speed, plot_similarity_over_time
from tests.avatar_runs import Trial, avatar_spec, series, write_run
from tests.fixtures import RUNS

RUN = "20261127T100000Z-b2b2b2"
ON = "vace_enabled=true vace_ref_images=3 vace_context_scale={}"
OFFSETS = (-0.02, 0.0, 0.02)  # three trials per condition around a known line: the median is the middle one


def _trials() -> list[Trial]:
    trials = []
    for pipeline, fps in (("longlive", 18.0), ("streamdiffusionv2", 22.0)):
        for scale, start, slope in ((None, 0.3, 0.0), (1.0, 0.8, -0.01)):
            condition = "vace_enabled=false" if scale is None else ON.format(scale)
            for k, offset in enumerate(OFFSETS):
                curve = series(start + offset, slope, seconds=10.0)
                mean = float(curve["ref_similarity"].mean())
                trials.append(Trial(pipeline, condition, scale is not None, scale, 3 if scale else 0, fps + k,
                                    {"ref_similarity": (mean, mean - 0.01, mean + 0.01),
                                     "identity_drift": (slope, slope - 0.001, slope + 0.001),
                                     "flicker": (2.0 + k, None, None)}, series=curve))
    # passthrough draws nothing: scored for flicker, but never placed on a generation trade-off
    trials.append(Trial("passthrough", "vace_enabled=false", False, None, 0, 30.0, {"flicker": (0.0, None, None)}))
    return trials


@pytest.fixture(scope="module")
def server_runs(tmp_path_factory: pytest.TempPathFactory) -> ServerRuns:
    out = tmp_path_factory.mktemp("runs")
    write_run(out, RUN, _trials())
    return ServerRuns.load(None, out)


def _legend_clear_of_axes(figure: plt.Figure) -> None:
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    for ax in figure.axes:
        if ax.get_visible():
            assert not legend.overlaps(ax.get_tightbbox(renderer)), f"legend over {ax.get_title()}"


def test_similarity_over_time_draws_each_condition_median_over_trials(server_runs: ServerRuns) -> None:
    figure = plot_similarity_over_time(server_runs)
    assert figure is not None
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_visible()}
    assert set(panels) == {"longlive", "streamdiffusionv2"}
    lines = {line.get_label(): line for line in panels["longlive"].get_lines()}
    assert set(lines) == {"VACE off", "VACE on, 3 refs, scale 1.0"}
    t, y = lines["VACE on, 3 refs, scale 1.0"].get_data()
    assert np.allclose(t, np.arange(0.0, 10.0, BIN_S))
    assert np.allclose(y, 0.8 - 0.01 * t)  # the middle trial of the three, sample by sample
    assert np.allclose(lines["VACE off"].get_ydata(), 0.3)
    assert [t.get_text() for t in figure.texts if t.get_text() == "SIMULATED"] == ["SIMULATED"]
    assert "SIMULATED" in figure._suptitle.get_text()
    _legend_clear_of_axes(figure)
    plt.close(figure)


def test_quality_against_speed_places_generative_conditions_at_their_medians(server_runs: ServerRuns) -> None:
    figure = plot_quality_vs_speed(server_runs)
    assert figure is not None
    similarity, flicker = figure.axes[:2]
    assert similarity.get_ylabel() == "similarity to the references (cosine)"
    points = sorted((round(float(c.lines[0].get_xdata()[0]), 6), round(float(c.lines[0].get_ydata()[0]), 6))
                    for c in similarity.containers)  # one error-bar container per condition
    # fps are fps + 0, 1, 2 over the three trials: median fps + 1; similarity: the middle trial's mean
    expected = sorted((fps + 1, round(start + slope * 4.75, 6)) for fps in (18.0, 22.0)
                      for start, slope in ((0.3, 0.0), (0.8, -0.01)))
    assert points == expected
    flicker_x = sorted(float(c.lines[0].get_xdata()[0]) for c in flicker.containers)
    assert flicker_x == [19.0, 19.0, 23.0, 23.0]  # passthrough (30 fps) left out: it generates nothing
    labels = [t.get_text() for t in figure.legends[0].get_texts()]  # filled column by column
    assert labels[0::2] == ["longlive", "streamdiffusionv2"]  # top row: colours
    assert labels[1::2] == ["VACE off", "VACE on, 3 refs, scale 1.0"]  # bottom row: markers
    _legend_clear_of_axes(figure)
    plt.close(figure)


def test_runs_without_quality_have_no_quality_plots() -> None:
    server_runs = ServerRuns.load(None, RUNS)
    assert plot_similarity_over_time(server_runs) is None and plot_quality_vs_speed(server_runs) is None
    names = set(report_figures(server_runs))
    assert "similarity_over_time" not in names and "quality_vs_speed" not in names


def test_the_report_includes_them_for_an_avatar_run(server_runs: ServerRuns, tmp_path: Path) -> None:
    from lab.report.html import write_html_report

    path, files = write_html_report(server_runs, tmp_path / "report.html")
    names = {f.name for f in files}
    assert {"similarity_over_time.png", "quality_vs_speed.png"} <= names
    page = path.read_text()
    assert "Similarity of the output to the VACE reference images over a trial" in page
    sheet = os.path.relpath(server_runs.runs.roots[RUN] / "plots" / "contact_sheet.png", tmp_path)
    assert f'<a href="{sheet}">contact sheet {RUN}</a>' in page  # relative to the report, wherever it is


def test_conditions_of_two_runs_share_one_naming_and_are_joined_only_within_a_run(tmp_path: Path) -> None:
    """A VACE sweep (references re-sent) beside an avatar run: the same VACE setting gets the same
    name, and the faint line joins a pipeline's conditions within each run, never across."""
    write_run(tmp_path, RUN, _trials())
    vace_run = "20261127T110000Z-c3c3c3"
    vace_trials = [Trial("longlive", f"vace_enabled=true vace_ref_images={refs} vace_context_scale=1.0", True, 1.0,
                         refs, 17.0 + k, {"flicker": (3.0 + refs, None, None)})
                   for refs in (1, 2) for k in range(3)]
    write_run(tmp_path, vace_run, vace_trials, spec=avatar_spec(name="vace", reference_resend_s=0.5))
    figure = plot_quality_vs_speed(ServerRuns.load(None, tmp_path))
    assert figure is not None
    flicker = next(ax for ax in figure.axes if ax.get_ylabel().startswith("flicker"))
    labels = {t.get_text() for t in figure.legends[0].get_texts()}
    assert {"VACE on, 1 ref, scale 1.0", "VACE on, 2 refs, scale 1.0", "VACE on, 3 refs, scale 1.0"} <= labels
    assert not any("=" in label for label in labels)  # no raw condition strings
    joins = [line for line in flicker.get_lines() if line.get_alpha() == 0.3]
    # longlive in the avatar run, longlive in the VACE run, streamdiffusionv2 in the avatar run
    assert sorted(len(line.get_xdata()) for line in joins) == [2, 2, 2]
    vace_join = next(line for line in joins if set(line.get_ydata()) == {4.0, 5.0})
    assert sorted(vace_join.get_xdata()) == [18.0, 18.0]  # its own two conditions only
    plt.close(figure)
