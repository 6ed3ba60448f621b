"""Run comparison: a regression injected through the simulator's profile is flagged, two runs
of the same profile are not; and the verdict rules on stored rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.report.compare import compare_runs
from lab.sim import RunningSimulator, SimConfig, start_simulator
from lab.sim.profiles import DEFAULT_PROFILE_PATH
from lab.sweep import load_spec, run_sweep
from tests.fixtures import PIPELINES_RUN, copy_runs

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

BASE_DELAY_S = 0.14  # gray's pipeline delay in the shipped profile
SLOW_DELAY_S = 1.0  # ... and in the "new version": large enough to stand out on a busy 2-core machine


def _scaled_copy(out: Path, source: str, name: str, pipeline: str, figure: str, factor: float) -> str:
    """A copy of a stored run with one pipeline's figure scaled (a regression injected by hand)."""
    target = out / name
    target.mkdir()
    rows = []
    for line in (out / source / "trials.jsonl").read_text().splitlines():
        row = json.loads(line)
        row["run_id"] = name
        value = row.get("figures", {}).get(figure, {}).get("value")
        if row["pipeline_id"] == pipeline and value is not None:
            row["figures"][figure]["value"] = value * factor
        rows.append(json.dumps(row))
    (target / "trials.jsonl").write_text("\n".join(rows) + "\n")
    manifest = json.loads((out / source / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, "run_id": name}))
    return name


def test_a_run_against_itself_flags_nothing(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    result = compare_runs(PIPELINES_RUN, PIPELINES_RUN, out)
    assert result.regressions.empty
    assert set(result.table["verdict"].str[0]) == {"~"}
    assert set(result.table["pipeline_id"]) == {"passthrough", "longlive", "gray"}
    assert (result.table["difference"] == 0).all()


def test_a_scaled_figure_is_a_regression_and_only_it(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    slower = _scaled_copy(out, PIPELINES_RUN, "20261126T000000Z-aaaaaa", "gray", "latency_p50", 1.5)
    result = compare_runs(PIPELINES_RUN, slower, out)
    flagged = result.regressions
    assert list(zip(flagged["pipeline_id"], flagged["figure"], strict=True)) == [("gray", "latency_p50")]
    row = flagged.iloc[0]
    assert row["b"] == pytest.approx(1.5 * row["a"]) and row["ci_low"] > 0
    assert row["verdict"].startswith("- 1.50x (slower)")
    assert "REGRESSION gray [default] latency_p50" in result.describe()
    # as people read it: gray's latency p50 over its three trials is 242.95 ms (trials.jsonl), 364.43 ms scaled
    shown = result.shown().set_index(["pipeline_id", "figure"])
    assert shown.loc[("gray", "latency_p50"), ["A", "B"]].tolist() == ["243 ms n=3", "364 ms n=3"]
    assert "#f8d0d0" in result.styled().to_html()  # the regression's row is red
    # fewer fps is worse too; more fps is an improvement, not a regression
    faster = _scaled_copy(out, PIPELINES_RUN, "20261126T000001Z-bbbbbb", "passthrough", "fps_out", 1.3)
    better = compare_runs(PIPELINES_RUN, faster, out)
    assert better.regressions.empty and better.table["improvement"].sum() == 1


def test_a_pipeline_that_only_fails_in_b_is_a_regression(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    broken = _scaled_copy(out, PIPELINES_RUN, "20261126T000002Z-cccccc", "gray", "fps_out", 1.0)
    path = out / broken / "trials.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["pipeline_id"] == "gray":
            row |= {"status": "error", "figures": {}, "error": {"class": "PipelineLoadError", "phase": "load"}}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flagged = compare_runs(PIPELINES_RUN, broken, out).regressions
    assert list(flagged["figure"]) == ["status"] and flagged.iloc[0]["verdict"] == "x measured in A, error in B"


def test_fewer_than_three_trials_are_not_judged(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    slower = _scaled_copy(out, PIPELINES_RUN, "20261126T000003Z-dddddd", "longlive", "load_s", 3.0)
    row = compare_runs(PIPELINES_RUN, slower, out).table.query("pipeline_id == 'longlive' and figure == 'load_s'")
    assert not row.iloc[0]["regression"] and "not judged" in row.iloc[0]["verdict"]  # one load a side


# -- the real thing: simulators whose profiles differ --------------------------------------------

@pytest.fixture(scope="module")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningSimulator]]:
    """Two simulators with the shipped profile, one where gray got slower (a 'new Scope version')."""
    profile = yaml.safe_load(DEFAULT_PROFILE_PATH.read_text())
    for pipeline in profile["pipelines"]:
        if pipeline["id"] == "gray":
            pipeline["emulation"]["pipeline_delay_s"] = SLOW_DELAY_S
    slow_path = tmp_path_factory.mktemp("profiles") / "scope-0.2.4-slow-gray.yaml"
    slow_path.write_text(yaml.safe_dump(profile, sort_keys=False))
    with start_simulator(SimConfig(speed=100)) as first, start_simulator(SimConfig(speed=100)) as second, \
            start_simulator(SimConfig(speed=100, profile_path=slow_path)) as slow:
        yield [first, second, slow]


async def _sweep(url: str, out: Path) -> str:
    spec = load_spec({"name": "regression-check", "pipelines": ["gray"], "duration_s": 1.0, "repeats": 5,
                      "fps": 15})
    outcome = await run_sweep(spec, targets=[url], out_dir=out, progress=False)
    return outcome.run_id


async def test_profile_regression_is_flagged_and_same_profile_is_not(
        simulators: list[RunningSimulator], tmp_path: Path) -> None:
    # The two runs of the same profile run at once (each simulator is its own process), so
    # they share whatever load the machine has; the slow one runs after them.
    run_a, run_a2 = await asyncio.gather(*(_sweep(sim.url, tmp_path) for sim in simulators[:2]))
    run_b = await _sweep(simulators[2].url, tmp_path)

    same = compare_runs(run_a, run_a2, tmp_path)
    assert same.regressions.empty, same.describe()
    assert (same.table["n_a"] >= 5).any()  # judged, not skipped for lack of trials

    slower = compare_runs(run_a, run_b, tmp_path)
    flagged = set(zip(slower.regressions["pipeline_id"], slower.regressions["figure"], strict=True))
    assert ("gray", "latency_p50") in flagged, slower.describe()
    latency = slower.table.query("figure == 'latency_p50'").iloc[0]
    assert latency["difference"] > 0.6 * (SLOW_DELAY_S - BASE_DELAY_S) * 1e3  # about 860 ms added
    assert latency["p_value"] is not None and latency["p_value"] < 0.05  # Mann-Whitney with 5 trials a side
    assert ("gray", "fps_out") not in flagged  # a delay, not a slower pipeline: throughput is the same

    assert main(["compare", run_a, run_b, "--out", str(tmp_path)]) == 1
    assert main(["compare", run_a, run_a2, "--out", str(tmp_path)]) == 0
