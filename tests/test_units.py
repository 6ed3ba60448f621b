"""Figures as people read them: rounded to their resolution, with their unit (lab.units)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lab.stats import Figure
from lab.units import format_by_row, format_columns, format_figure, format_range, format_value


@pytest.mark.parametrize(("value", "unit", "figure", "expected"), [
    (3.101844, "s", "load_s", "3.1 s"),  # a load is timed by polling every 0.1 s
    (3.101844, "s", "ttff_s", "3.10 s"),  # other times: 0.01 s
    (0.0196, "s", None, "0.02 s"),
    (204.6, "ms", None, "205 ms"),
    (2997.5089, "ms", "latency_p50", "2998 ms"),  # no switch to seconds: the unit stays the figure's
    (15, "fps", None, "15.0 fps"),
    (14.96, "fps", "fps_out", "15.0 fps"),
    (2.0, "count", "stalls", "2"),  # a count needs no unit after it
    (-0.00799, "cosine", "ref_similarity", "-0.008 cosine"),  # picture quality (lab.quality)
    (-0.001362, "cosine/s", "identity_drift", "-0.0014 cosine/s"),
    (3.6912, "levels", "flicker", "3.69 levels"),
    (13.149, "levels²", "sharpness", "13.1 levels²"),
    (-0.004, "s", None, "0.00 s"),  # never "-0.00"
    (-12.4, "ms", None, "-12 ms"),  # a difference keeps its sign
])
def test_a_value_is_rounded_to_its_resolution_with_its_unit(value: float, unit: str, figure: str | None,
                                                            expected: str) -> None:
    assert format_value(value, unit, figure) == expected


def test_a_unit_without_a_resolution_gets_three_significant_digits() -> None:
    assert format_value(123.456, "px") == "123 px"
    assert format_value(0.0012345, "") == "0.00123"


@pytest.mark.parametrize("missing", [None, math.nan, pd.NA])
def test_a_missing_value_is_an_empty_cell(missing: object) -> None:
    assert format_value(missing, "s") == ""  # type: ignore[arg-type]
    assert format_range(missing, 3.0, "s") == ""  # type: ignore[arg-type]


def test_a_range_carries_the_unit_once() -> None:
    assert format_range(14.83, 15.12, "fps") == "14.8–15.1 fps"


def test_a_figure_with_its_ci_and_trials() -> None:
    assert format_figure(Figure("fps_out", 10.26, "fps", 3, 10.21, 10.34)) == "10.3 fps [10.2–10.3] n=3"
    assert format_figure(Figure("load_s", 2.3446, "s", 1)) == "2.3 s n=1"  # one trial: no CI
    assert format_figure(Figure("latency_p50", 361.4, "ms", 3, 340.2, 380.9), n=False) == "361 ms [340–381]"
    assert format_figure(Figure("ttff_s", None, "s", 0)) == "n/a n=0"


def test_columns_named_with_units_become_text_and_the_rest_stays() -> None:
    frame = pd.DataFrame({"pipeline_id": ["a", "b"], "fps_out": [14.9612, math.nan], "ok": [3, 2]})
    shown = format_columns(frame, {"fps_out": "fps", "not_there": "s"})
    assert shown.to_dict("list") == {"pipeline_id": ["a", "b"], "fps_out": ["15.0 fps", ""], "ok": [3, 2]}
    assert frame["fps_out"].iloc[0] == 14.9612  # the numbers themselves are untouched


def test_a_figure_per_row_is_shown_in_its_own_unit() -> None:
    frame = pd.DataFrame({"figure": ["fps_out", "latency_p50"], "median": [14.96, 361.4],
                          "ci_low": [14.81, 340.2], "ci_high": [15.04, None], "unit": ["fps", "ms"], "trials": [3, 3]})
    shown = format_by_row(frame, ["median"], ranges={"95% CI": ("ci_low", "ci_high")})
    assert list(shown.columns) == ["figure", "median", "95% CI", "trials"]  # the range where its ends were
    assert shown.to_dict("list") == {"figure": ["fps_out", "latency_p50"], "median": ["15.0 fps", "361 ms"],
                                     "95% CI": ["14.8–15.0 fps", ""], "trials": [3, 3]}
