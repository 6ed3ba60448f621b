"""The research log's tables rendered from the fixture runs, checked cell by cell."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lab.logbook import LogbookError, ServerRuns
from lab.logbook.performance_rows import performance_table
from lab.logbook.tables import models_table, vace_table
from lab.stats import Figure
from lab.units import format_figure, format_value
from tests.fixtures import PIPELINES_RUN, RUNS, VACE_RUN, copy_runs

BOTH = f"runs `{VACE_RUN}`, `{PIPELINES_RUN}`, 2026-11-25, SIMULATED"
# The log's own rows, as the seed research log has them.
LOG_VACE_ROWS = [["`longlive`", "✅ **Yes**", "Dec 26"], ["`krea-realtime-video`", "❌ **No**", "Dec 26"],
                 ["`streamdiffusionv2`", "❓ TBD", "-"], ["`reward-forcing`", "❓ TBD", "-"],
                 ["`passthrough`", "N/A", "-"]]
LOG_PERFORMANCE_ROWS = [["Warm-up time", "15-25s", "TBD"], ["Inference latency", "~100ms/frame", "TBD"],
                        ["VACE latency", "N/A", "TBD"], ["Memory usage", "-", "20GB (longlive), 32GB (krea)"]]
LOG_MODEL_ROWS = [["`longlive`", "✅ Downloaded", "Stylized output with VACE support"],
                  ["`krea-realtime-video`", "✅ Downloaded", "Photorealistic (no VACE)"],
                  ["`streamdiffusionv2`", "✅ Downloaded", "General-purpose"],
                  ["`reward-forcing`", "✅ Downloaded", "Experimental alignment"],
                  ["`passthrough`", "✅ Ready", "No model needed"]]


@pytest.fixture(scope="module")
def server_runs() -> ServerRuns:
    return ServerRuns.load(None, RUNS)


def _trial_values(run: str, pipeline: str, figure: str) -> np.ndarray:
    rows = [json.loads(line) for line in (RUNS / run / "trials.jsonl").read_text().splitlines()]
    values = [r["figures"][figure]["value"] for r in rows
              if r["pipeline_id"] == pipeline and r["status"] == "ok" and figure in r.get("figures", {})]
    return np.array([v for v in values if v is not None], dtype=float)


def test_vace_compatibility_table_cell_by_cell(server_runs: ServerRuns) -> None:
    rows, caption = vace_table(server_runs, LOG_VACE_ROWS)
    schema_only = "schema only, no VACE trial (2026-11-25, SIMULATED)"
    assert rows == [
        ["`longlive`", "✅ **Yes**", f"✅ 5 trials with VACE loaded, 0–2 reference images ({BOTH})"],
        # the schema says yes: the research log's Dec 26 UI observation is out of date
        ["`krea-realtime-video`", "✅ **Yes**", schema_only],
        ["`streamdiffusionv2`", "✅ **Yes**", schema_only],
        ["`reward-forcing`", "✅ **Yes**", schema_only],
        ["`passthrough`", "N/A", schema_only],
        ["`memflow`", "✅ **Yes**", schema_only],  # supports VACE, not in the log yet
        ["`gray`", "N/A", schema_only],  # measured, so listed
    ]
    assert "`supports_vace`" in caption and BOTH in caption


def test_vace_trial_count_matches_the_stored_rows() -> None:
    rows = [json.loads(line) for run in (PIPELINES_RUN, VACE_RUN)
            for line in (RUNS / run / "trials.jsonl").read_text().splitlines()]
    vace_ok = [r for r in rows if r["pipeline_id"] == "longlive" and r["vace_enabled"] and r["status"] == "ok"]
    assert len(vace_ok) == 5
    assert sorted({r["vace_ref_count"] for r in vace_ok}) == [0, 2]


def test_performance_table_cell_by_cell(server_runs: ServerRuns) -> None:
    rows, caption = performance_table(server_runs, LOG_PERFORMANCE_ROWS)
    speed = ", simulator loads ran 20x faster than its real-time profile"
    assert rows == [
        ["Warm-up time", "15-25s", "SIMULATED: longlive 8.49 s; passthrough 0.44 s; gray 0.44 s "
                                   f"(load + first frame + to steady, medians; rows below{speed})"],
        ["Inference latency", "~100ms/frame", "SIMULATED: longlive 2998 ms [2945–3006] n=3; passthrough 366 ms "
         "[363–367] n=3; gray 243 ms [240–250] n=3 (frame latency p50, input sent → output received; stamped "
         "or step test)"],
        ["VACE latency", "N/A", "SIMULATED: longlive vs VACE off: VACE on, 0 refs: +173 ms latency, fps 11.7 → "
         "10.8 (n=1/1, too few trials to judge); VACE on, 2 refs, scale 1.0: +568 ms latency, fps 11.7 → 12.6 "
         "(n=1/1, too few trials to judge)"],
        ["Memory usage", "-", "SIMULATED: 20 GB (streamdiffusionv2), 20 GB (longlive), 32 GB (krea-realtime-video), "
         "20 GB (reward-forcing), 20 GB (memflow) on a 32 GB GPU (the server's estimates; Scope reports no "
         "per-pipeline usage)"],  # the preprocessor video-depth-anything (1 GB) is left out
        ["Model load time", "-", "SIMULATED: longlive 2.3 s n=1; passthrough 0.0 s n=1; gray 0.1 s n=1 "
                                 f"(load request → status loaded{speed})"],
        ["Time to first frame", "-", "SIMULATED: longlive 3.21 s [3.21–3.26] n=3; passthrough 0.42 s "
         "[0.41–0.46] n=3; gray 0.31 s [0.29–0.33] n=3 (WebRTC offer → first output frame)"],
        ["Steady FPS", "-", "SIMULATED: longlive 10.3 fps [9.7–10.6] n=3; passthrough 15.0 fps [15.0–15.1] n=3; "
         "gray 15.0 fps [15.0–15.0] n=3 (output, after warm-up)"],
        ["p95 frame interval", "-", "SIMULATED: longlive 144 ms [130–184] n=3; passthrough 76 ms [71–82] "
         "n=3; gray 97 ms [96–99] n=3 (steady state)"],
        ["Control latency", "-", "SIMULATED: longlive 3.31 s n=1 (runtime update over the data channel → "
                                 "visible response)"],
    ]
    assert "**SIMULATED**" in caption and "n = trials" in caption


@pytest.mark.parametrize(("pipeline", "figure", "unit"), [
    pytest.param("longlive", "fps_out", "fps", id="longlive-fps"),
    pytest.param("gray", "latency_p50", "ms", id="gray-latency"),
    pytest.param("passthrough", "ttff_s", "s", id="passthrough-ttff"),
    pytest.param("longlive", "interval_p95", "ms", id="longlive-interval"),
])
def test_measured_cells_are_medians_over_trials(server_runs: ServerRuns, pipeline: str, figure: str, unit: str) -> None:
    """Recomputed from trials.jsonl with numpy: the cell shows the median, its CI and n = trials.

    With three trials the 95 % percentile-bootstrap CI of the median is their range: a
    resample's median is the smallest value whenever two or three of its three draws are
    (7/27 of resamples, far more than 2.5 %), and likewise the largest.
    """
    values = _trial_values(PIPELINES_RUN, pipeline, figure)
    assert values.size == 3
    rows, _ = performance_table(server_runs, None)
    cells = " ".join(row[2] for row in rows)
    expected = Figure(figure, float(np.median(values)), unit, 3, float(values.min()), float(values.max()))
    assert f"{pipeline} {format_figure(expected)}" in cells


def test_models_table_keeps_human_descriptions(server_runs: ServerRuns) -> None:
    rows, caption = models_table(server_runs, LOG_MODEL_ROWS)
    assert rows[:5] == [
        ["`longlive`", "✅ Downloaded", "Stylized output with VACE support"],
        ["`krea-realtime-video`", "✅ Downloaded", "Photorealistic (no VACE)"],
        ["`streamdiffusionv2`", "✅ Downloaded", "General-purpose"],
        ["`reward-forcing`", "✅ Downloaded", "Experimental alignment"],
        ["`passthrough`", "✅ Ready (no model needed)", "No model needed"],
    ]
    assert [r[0] for r in rows[5:]] == ["`memflow`", "`video-depth-anything`", "`rife`", "`scribble`"]
    assert all(r[1] == "✅ Downloaded" and r[2] for r in rows[5:])
    assert "`/api/v1/models/status`" in caption and BOTH in caption


def test_models_status_follows_the_manifest(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["models_present"]["krea-realtime-video"] = False
    path.write_text(json.dumps(manifest))
    rows, _ = models_table(ServerRuns.load(None, out), None)
    assert ["`krea-realtime-video`", "⬇️ Not downloaded"] == rows[2][:2]


def test_cells_without_data_keep_the_log_text(tmp_path: Path) -> None:
    server_runs = ServerRuns.load(None, copy_runs(tmp_path, PIPELINES_RUN))
    rows, _ = performance_table(server_runs, [*LOG_PERFORMANCE_ROWS, ["GPU temperature", "-", "70C"]])
    by_metric = {row[0]: row for row in rows}
    assert by_metric["VACE latency"] == ["VACE latency", "N/A", "TBD"]  # no VACE sweep in this run
    assert by_metric["GPU temperature"] == ["GPU temperature", "-", "70C"]  # a human's row, as it was
    assert by_metric["Steady FPS"][2].startswith("SIMULATED: passthrough 15.0 fps")


def test_real_server_numbers_are_not_labelled_simulated(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    for path in [out / PIPELINES_RUN / "manifest.json"]:
        manifest = json.loads(path.read_text())
        manifest["simulated"] = False
        manifest["servers"]["sim"]["simulated"] = False
        path.write_text(json.dumps(manifest))
    server_runs = ServerRuns.load(None, out)
    rows, caption = performance_table(server_runs, None)
    assert server_runs.label == "Scope 0.2.4"
    assert not any("SIMULATED" in cell for row in rows for cell in row) and "SIMULATED" not in caption
    assert rows[6][2].startswith("passthrough 15.0 fps")


def test_runs_of_different_servers_are_not_merged(tmp_path: Path) -> None:
    out = copy_runs(tmp_path)
    path = out / VACE_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["version"] = "0.2.5"
    path.write_text(json.dumps(manifest))
    with pytest.raises(LogbookError, match="different servers.*lab compare"):
        ServerRuns.load([VACE_RUN, PIPELINES_RUN], out)
    # with no ids, the newest run's server decides which runs belong together
    assert ServerRuns.load(None, out).run_ids == [PIPELINES_RUN]


def test_format_figure() -> None:
    # figures are rounded to their unit's resolution (lab.units): 1 ms, 0.01 s; a load to its 0.1 s poll
    assert format_figure(Figure("x", 3006.36, "ms", 3, 2944.9, 3010.0)) == "3006 ms [2945–3010] n=3"
    assert format_figure(Figure("x", 0.0196, "s", 1)) == "0.02 s n=1"
    assert format_figure(Figure("load_s", 0.0196, "s", 1)) == "0.0 s n=1"
    assert format_value(15.0, "fps") == "15.0 fps"
