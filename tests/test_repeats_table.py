"""Tables of trial figures for people: numbers rounded to their resolution, with units."""

from __future__ import annotations

from lab.measure.repeats import repeats_figures, repeats_table, trial_table
from lab.stats import Figure
from lab.measure.result import TrialResult
from lab.measure.spec import TrialSpec


def _trial(fps: float, latency_ms: float) -> TrialResult:
    figures = [Figure("fps_out", fps, "fps", 45), Figure("latency_p50", latency_ms, "ms", 45, latency_ms - 4.2,
                                                        latency_ms + 6.4, note="stamped")]
    return TrialResult(TrialSpec("passthrough"), "http://127.0.0.1:8000", True, "0.2.4", 0.0, figures=figures)


TRIALS = [_trial(14.93, 361.2), _trial(15.02, 370.9), _trial(14.88, 355.55)]


def test_repeats_table_shows_median_ci_and_range_in_each_figures_unit() -> None:
    numbers = repeats_figures(TRIALS).set_index("figure")
    assert numbers.loc["fps_out", "median"] == 14.93  # the middle of 14.88, 14.93, 15.02
    table = repeats_table(TRIALS).set_index("figure")
    assert list(table.columns) == ["median", "95% CI", "range", "trials", "frames_per_trial", "warnings", "source"]
    assert table.loc["fps_out", "median"] == "14.9 fps"
    assert table.loc["fps_out", "range"] == "14.9–15.0 fps"  # 14.88 and 15.02 to 0.1 fps
    assert table.loc["latency_p50", "median"] == "361 ms"
    assert table.loc["latency_p50", "range"] == "356–371 ms"  # 355.55 and 370.9 to 1 ms
    # three trials: the bootstrap CI of the median is their range (tests/test_logbook_tables.py says why)
    assert table.loc["latency_p50", "95% CI"] == "356–371 ms"
    assert table.loc["fps_out", "trials"] == 3 and set(table["source"]) == {"SIMULATED"}


def test_trial_table_shows_value_and_ci_in_the_figures_unit() -> None:
    table = trial_table(TRIALS[0]).set_index("name")
    assert table.loc["latency_p50", "value"] == "361 ms"
    assert table.loc["latency_p50", "95% CI"] == "357–368 ms"  # 361.2 - 4.2 and 361.2 + 6.4
    assert table.loc["fps_out", "value"] == "14.9 fps"
    assert table.loc["fps_out", "95% CI"] == "" and table.loc["fps_out", "note"] == ""  # none: nothing shown
    assert "nan" not in table.to_string() and "None" not in table.to_string()
