"""How a figure is shown to a person: rounded to its resolution, with its unit.

Every table a person reads (terminal, notebooks, HTML report, research log) goes through
here, so ``3.101844`` never shows up and a figure reads the same everywhere: ``3.1 s``,
``205 ms``, ``15.0 fps``. Machine-readable outputs (JSON, parquet, jsonl) keep full
precision and never pass through here.

A figure's resolution is the finest step its measurement can tell apart, or finer: 1 ms
for latencies and frame intervals, 0.01 s for times on the frame clock, 0.1 fps for
rates, the status poll interval for a pipeline load; for picture quality 0.01 luma levels
(flicker), 0.001 of a cosine (similarity) and 0.0001 cosine per second (drift). Showing more digits would
claim precision the measurement does not have.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from lab.client import DEFAULT_POLL_INTERVAL_S

if TYPE_CHECKING:
    from lab.stats import Figure

__all__ = ["resolution", "format_value", "format_range", "format_figure", "format_columns", "format_by_row",
           "UNIT_RESOLUTION", "FIGURE_RESOLUTION"]

UNIT_RESOLUTION: dict[str, float] = {"ms": 1.0, "s": 0.01, "fps": 0.1, "count": 1.0, "frames": 1.0, "GB": 0.1,
                                     "%": 0.1,
                                     # picture quality (lab.quality): luma levels of 0-255 and cosines
                                     "levels": 0.01, "levels/s": 0.001, "levels²": 0.1,
                                     "cosine": 0.001, "cosine/s": 0.0001, "SSIM": 0.001}
# Figures measured more coarsely than their unit: a load is timed by polling its status.
FIGURE_RESOLUTION: dict[str, float] = {"load_s": DEFAULT_POLL_INTERVAL_S}


def resolution(unit: str, figure: str | None = None) -> float | None:
    """The step a figure is rounded to; None for a unit without one (shown to 3 significant digits)."""
    return FIGURE_RESOLUTION.get(figure or "", UNIT_RESOLUTION.get(unit))


def _shown(unit: str) -> str:
    """The unit as written after a number: a count needs none (``2``, not ``2 count``)."""
    return "" if unit == "count" else unit


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _number(value: float, unit: str, figure: str | None) -> str:
    """The number alone, rounded to the figure's resolution."""
    step = resolution(unit, figure)
    if step is None:
        digits = 2 if value == 0 or not math.isfinite(value) else max(0, 2 - math.floor(math.log10(abs(value))))
        return f"{value:.{digits}f}"
    digits = max(0, -Decimal(str(step)).normalize().as_tuple().exponent)  # type: ignore[operator]
    rounded = round(value / step) * step + 0.0  # + 0.0: no "-0.0"
    return f"{rounded:.{digits}f}"


def format_value(value: float | None, unit: str, figure: str | None = None) -> str:
    """``3.1 s``, ``205 ms``, ``15.0 fps``; an empty string for a missing value.

    >>> format_value(3.101844, "s", "load_s"), format_value(204.6, "ms"), format_value(15, "fps")
    ('3.1 s', '205 ms', '15.0 fps')
    """
    if _missing(value):
        return ""
    assert value is not None
    return f"{_number(float(value), unit, figure)} {_shown(unit)}".strip()


def format_range(low: float | None, high: float | None, unit: str, figure: str | None = None) -> str:
    """``14.8–15.1 fps``, or empty when either end is missing (a CI, or min to max)."""
    if _missing(low) or _missing(high):
        return ""
    assert low is not None and high is not None
    return f"{_number(float(low), unit, figure)}–{format_value(high, unit, figure)}"


def format_figure(figure: Figure, *, n: bool = True) -> str:
    """``10.3 fps [10.2–10.3] n=2``: the median, its 95 % CI (when there is one) and the trials."""
    if figure.value is None:
        return f"n/a n={figure.n}" if n else "n/a"
    text = format_value(figure.value, figure.unit, figure.name)
    if figure.ci_low is not None and figure.ci_high is not None and figure.n > 1:
        text += f" [{_number(figure.ci_low, figure.unit, figure.name)}–{_number(figure.ci_high, figure.unit, figure.name)}]"
    return f"{text} n={figure.n}" if n else text


def format_columns(frame: pd.DataFrame, units: Mapping[str, str]) -> pd.DataFrame:
    """A copy with each column named in ``units`` as text in that unit (figure name = column name).

    Missing values become empty cells, so a table shows nothing where nothing was measured.
    """
    out = frame.copy()
    for column, unit in units.items():
        if column in out:
            out[column] = [format_value(v, unit, column) for v in out[column]]
    return out


def format_by_row(frame: pd.DataFrame, values: Iterable[str], *, ranges: Mapping[str, tuple[str, str]] | None = None,
                  unit: str = "unit", figure: str = "figure") -> pd.DataFrame:
    """A copy of a table with one figure per row, its numbers as text in the row's own unit.

    ``values`` are columns shown as single values; ``ranges`` maps a new column to its
    (low, high) columns, shown as ``low–high unit`` in place of the two. The unit column
    goes, since every cell now carries its unit.
    """
    out = frame.copy()
    rows = list(out.itertuples(index=False))
    names = list(out.columns)

    def cell(row: tuple[Any, ...], column: str) -> Any:
        return row[names.index(column)]

    for column in values:
        out[column] = [format_value(cell(r, column), cell(r, unit), cell(r, figure)) for r in rows]
    for column, (low, high) in (ranges or {}).items():
        out[column] = [format_range(cell(r, low), cell(r, high), cell(r, unit), cell(r, figure)) for r in rows]
        position = min(out.columns.get_loc(low), out.columns.get_loc(high))
        out = out.drop(columns=[low, high])
        out.insert(position, column, out.pop(column))
    return out.drop(columns=[unit])
