"""The sweep's summary table: medians over ok trials, notes only where there is something to say."""

from __future__ import annotations

import math

import pandas as pd

from lab.sweep.summary import sweep_medians, sweep_table


def _trials() -> pd.DataFrame:
    """Trials as ``load_runs`` gives them: rows without a skip reason have None or (a key
    absent in that row) NaN there."""
    rows = [
        {"pipeline_id": "longlive", "condition": "default", "status": "ok", "fps_out": 10.04, "load_s": 4.5251,
         "skip_reason": None, "error": None, "simulated": True},
        {"pipeline_id": "longlive", "condition": "default", "status": "ok", "fps_out": 10.61, "simulated": True},
        {"pipeline_id": "longlive", "condition": "default", "status": "ok", "fps_out": 11.22, "simulated": True},
        {"pipeline_id": "passthrough", "condition": "default", "status": "ok", "fps_out": 14.9612, "load_s": 0.0476,
         "simulated": True},
        {"pipeline_id": "passthrough", "condition": "default", "status": "error", "fps_out": 3.0, "simulated": True,
         "error": {"class": "StreamStoppedError", "phase": "stream", "message": "gone"}},
        {"pipeline_id": "rife", "condition": "default", "status": "skipped", "simulated": True,
         "skip_reason": "mode video not supported"},
    ]
    return pd.DataFrame(rows)


def test_medians_are_over_the_ok_trials() -> None:
    table = sweep_medians(_trials()).set_index("pipeline_id")
    assert table.loc["longlive", "fps_out"] == 10.61
    assert table.loc["passthrough", "fps_out"] == 14.9612  # the failed trial's 3.0 is not in it
    assert table.loc["passthrough", ["ok", "failed", "skipped"]].tolist() == [1, 1, 0]
    assert math.isnan(table.loc["rife", "fps_out"])


def test_the_note_is_empty_where_there_is_nothing_to_say() -> None:
    table = sweep_table(_trials()).set_index("pipeline_id")
    assert table["note"].to_dict() == {"longlive": "", "passthrough": "StreamStoppedError in stream",
                                       "rife": "mode video not supported"}
    assert "nan" not in table.to_string()


def test_figures_are_shown_rounded_with_their_units() -> None:
    table = sweep_table(_trials()).set_index("pipeline_id")
    assert table.loc["longlive", "fps_out"] == "10.6 fps"
    assert table.loc["passthrough", "load_s"] == "0.0 s"  # a load is timed to the 0.1 s poll
    assert table.loc["longlive", "load_s"] == "4.5 s"
    assert table.loc["rife", "fps_out"] == ""  # nothing measured: nothing shown
    assert set(table["source"]) == {"SIMULATED"}
