"""The log's Nexus (Reference) column from a run on Daydream's hosted API, stored through the store's API.

The hosted run is written as a sweep on ``daydream:sim`` would write it (same figure names as
Scope's trials), so these tests check how cells are derived from stored data, not measurement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lab.logbook import TEMPLATE, HostedRuns, ServerRuns, latest_hosted_runs, split_hosted, update_log
from lab.logbook.nexus import quoted
from lab.logbook.performance_rows import performance_table
from lab.logbook.server_runs import latest_runs
from lab.report.writer import write_report
from lab.stats import Figure
from lab.store import RunStore
from lab.units import format_figure
from tests.fixtures import PIPELINES_RUN, VACE_RUN, copy_runs
from tests.test_logbook_tables import LOG_PERFORMANCE_ROWS

MODEL = "stabilityai/sd-turbo"
TTFF = [17.1, 18.4, 16.2]
WARMUP = [1.0, 0.5, 2.0]
FPS = [21.8, 22.4, 21.1]


def _figure(value: float | None, unit: str) -> dict:
    return {"value": value, "unit": unit, "n": 1, "ci_low": None, "ci_high": None, "warnings": []}


def store_hosted_run(out: Path, *, simulated: bool = True, run_id: str = "20261129T100000Z-a05bed",
                     speed: float | None = None) -> str:
    """A complete sweep on ``daydream:sim`` (or ``daydream:``): three ok trials of sd-turbo, one failed, and
    one on a Scope target of the same sweep (the Nexus column leaves both out)."""
    target = "daydream:sim" if simulated else "daydream:"
    servers = {} if speed is None else {target: {"kind": "daydream", "api": {"simulator_speed": speed}}}
    store = RunStore.create(out, {"kind": "sweep", "spec": {"name": "hosted"}, "targets": [target],
                                  "simulated": simulated, "started_at": "2026-11-29T10:00:00+00:00",
                                  **({"servers": servers} if servers else {})}, run_id)
    for repeat, (ttff, warmup, fps) in enumerate(zip(TTFF, WARMUP, FPS, strict=True)):
        store.append_trial({"trial_id": f"t{repeat}", "run_id": run_id, "target": target,
                            "pipeline_id": MODEL, "condition": "default", "status": "ok", "simulated": simulated,
                            "figures": {"ttff_s": _figure(ttff, "s"), "warmup_s": _figure(warmup, "s"),
                                        "fps_out": _figure(fps, "fps")}})
    store.append_trial({"trial_id": "t3", "run_id": run_id, "target": target, "pipeline_id": MODEL,
                        "condition": "default", "status": "error", "simulated": simulated,
                        "figures": {"ttff_s": _figure(99.0, "s")}})
    store.append_trial({"trial_id": "t4", "run_id": run_id, "target": "sim", "pipeline_id": MODEL,  # Scope's, beside
                        "condition": "default", "status": "ok", "simulated": simulated,
                        "figures": {"ttff_s": _figure(0.4, "s"), "fps_out": _figure(5.0, "fps")}})
    store.update_manifest(status="complete")
    return run_id


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = copy_runs(tmp_path_factory.mktemp("results"))
    store_hosted_run(out)
    return out


@pytest.fixture(scope="module")
def hosted(results: Path) -> HostedRuns:
    loaded = HostedRuns.load(latest_hosted_runs(results), results)
    assert loaded is not None
    return loaded


def expected_figure(values: list[float], unit: str, name: str) -> str:
    """Three trials: the 95 % bootstrap CI of their median is their range (see test_logbook_tables)."""
    data = np.array(values)
    return format_figure(Figure(name, float(np.median(data)), unit, 3, float(data.min()), float(data.max())))


def test_hosted_runs_are_told_apart_from_scope_runs(results: Path) -> None:
    hosted_id = latest_hosted_runs(results)
    assert hosted_id == ["20261129T100000Z-a05bed"]
    assert split_hosted([PIPELINES_RUN, *hosted_id, VACE_RUN], results) == ([PIPELINES_RUN, VACE_RUN], hosted_id)
    # the newest run is the hosted one: the Scope column still gets the Scope sweeps
    assert sorted(p.name for p in latest_runs(results)) == sorted([PIPELINES_RUN, VACE_RUN])


def test_a_sweep_of_scope_beside_the_hosted_api_feeds_both_columns(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, {
        "kind": "sweep", "spec": {"name": "mixed"}, "targets": ["sim", "daydream:sim"], "simulated": True,
        "servers": {"sim": {"kind": "scope", "version": "0.2.4"}, "daydream:sim": {"kind": "daydream"}},
    }, "20261129T110000Z-b0b0b0")
    store.update_manifest(status="complete")
    hosted_only = store_hosted_run(tmp_path)  # no Scope server in its manifest
    assert split_hosted(["20261129T110000Z-b0b0b0", hosted_only], tmp_path) == (
        ["20261129T110000Z-b0b0b0"], ["20261129T110000Z-b0b0b0", hosted_only])


def test_nexus_cells_show_quote_measured_interval_label_and_run(results: Path, hosted: HostedRuns) -> None:
    rows, caption = performance_table(ServerRuns.load(None, results), LOG_PERFORMANCE_ROWS, hosted)
    nexus = {row[0]: row[1] for row in rows}
    cite = "SIMULATED, run `20261129T100000Z-a05bed`"
    warmup = [t + w for t, w in zip(TTFF, WARMUP, strict=True)]  # per trial, then the median over trials
    assert nexus["Warm-up time"] == (f"15-25s quoted; measured {expected_figure(warmup, 's', 'warmup')} "
                                     f"(first frame + to steady; {cite})")
    # the failed trial's 99 s is left out
    assert nexus["Time to first frame"] == f"measured {expected_figure(TTFF, 's', 'ttff_s')} ({cite})"
    assert nexus["Steady FPS"] == f"measured {expected_figure(FPS, 'fps', 'fps_out')} ({cite})"
    # what the hosted run did not measure keeps the human's text
    assert nexus["Inference latency"] == "~100ms/frame"
    assert nexus["VACE latency"] == "N/A"
    assert nexus["Memory usage"] == "-"
    assert cite in caption


def test_a_fast_simulators_start_up_is_said_where_it_counts(results: Path, tmp_path: Path) -> None:
    run_id = store_hosted_run(tmp_path, run_id="20261129T100000Z-f00f00", speed=10.0)
    fast = HostedRuns.load([run_id], tmp_path)
    assert fast is not None and fast.simulator_speed == 10.0
    rows, _ = performance_table(ServerRuns.load(None, results), LOG_PERFORMANCE_ROWS, fast)
    nexus = {row[0]: row[1] for row in rows}
    note = "the emulated start-up ran 10x faster than real time"
    assert f"(first frame + to steady; {note}; SIMULATED, run `{run_id}`)" in nexus["Warm-up time"]
    assert note in nexus["Time to first frame"] and note not in nexus["Steady FPS"]
    assert quoted(nexus["Warm-up time"], "-") == "15-25s"  # a filled cell still gives its quote back


def test_without_a_hosted_run_the_human_text_stays(results: Path) -> None:
    rows, caption = performance_table(ServerRuns.load(None, results), LOG_PERFORMANCE_ROWS)
    assert [row[1] for row in rows[:4]] == [row[1] for row in LOG_PERFORMANCE_ROWS]
    assert "Nexus" not in caption


def test_a_real_hosted_run_is_not_labelled_simulated(tmp_path: Path) -> None:
    run_id = store_hosted_run(tmp_path, simulated=False, run_id="20261129T100000Z-ea1ed0")
    real = HostedRuns.load([run_id], tmp_path)
    assert real is not None and not real.simulated
    assert real.cite() == "Daydream hosted API, run `20261129T100000Z-ea1ed0`"


def test_log_update_with_a_hosted_run_repeats_and_gives_the_quote_back(results: Path, hosted: HostedRuns,
                                                                        tmp_path: Path) -> None:
    log = tmp_path / "research-log.md"
    log.write_bytes(TEMPLATE.read_bytes())
    server_runs = ServerRuns.load(None, results)
    update_log(log, server_runs, hosted=hosted)
    filled = log.read_bytes()
    assert "| Warm-up time | 15-25s quoted; measured " in filled.decode()
    assert not update_log(log, server_runs, hosted=hosted).changed  # the quote is read back from the cell
    update_log(log, server_runs)  # no hosted run any more: the human's quotes come back
    text = log.read_text()
    assert "| Warm-up time | 15-25s | SIMULATED" in text and "quoted; measured" not in text
    assert "| Steady FPS | - | SIMULATED" in text


def test_lab_report_takes_the_newest_hosted_run_or_the_named_one(results: Path, tmp_path: Path) -> None:
    log = tmp_path / "research-log.md"
    log.write_bytes(TEMPLATE.read_bytes())
    outcome = write_report(None, results, log=log, per_run=False, html=tmp_path / "report.html")
    assert outcome.run_ids[-1] == "20261129T100000Z-a05bed"
    assert "| Steady FPS | measured " in log.read_text()
    page = (tmp_path / "report.html").read_text()  # the hosted run has its row and its sweep table
    assert "<td>20261129T100000Z-a05bed</td>" in page and "<h3><code>20261129T100000Z-a05bed</code>: hosted</h3>" in page
    log.write_bytes(TEMPLATE.read_bytes())
    write_report([PIPELINES_RUN], results, log=log, per_run=False)  # named runs: no hosted one among them
    assert "quoted; measured" not in log.read_text() and "| Steady FPS | - | SIMULATED" in log.read_text()
