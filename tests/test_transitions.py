"""Control latency with its prompt transition (spec, plan, rows, log) and the GPU block read as unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lab.client import ScopeClient
from lab.doctor import run_doctor
from lab.logbook import ServerRuns
from lab.logbook.performance_rows import performance_table
from lab.measure.run import run_session
from lab.measure.spec import Segment, TrialSpec
from lab.models import GPU_UNKNOWN, gpu_memory_text
from lab.sweep.planner import gather_facts, plan_sweep
from lab.sweep.runner import prompt_changes, trial_row
from lab.sweep.spec import SpecError, load_spec
from tests.conftest import SimControl, load_fixture
from tests.fixtures import PIPELINES_RUN, copy_runs
from tests.truth.accuracy import control_truth_index

BASE = [{"text": "a lighthouse at dusk", "weight": 1.0}]
SPEC = {"pipelines": ["longlive", "passthrough"], "mode": "text", "duration_s": 12, "transition_steps": [0, 4],
        "parameters": {"prompts": BASE}}


async def test_transition_steps_are_conditions_and_recorded_in_rows(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    facts = {"sim": await gather_facts(client)}
    plan = plan_sweep(load_spec({**SPEC, "mode": "default"}), facts)  # passthrough's own mode: video
    assert [t.condition for t in plan.trials] == ["transition_steps=0", "transition_steps=4"]
    assert {t.pipeline_id for t in plan.trials} == {"longlive"}
    (reason,) = {t.skip for t in plan.skipped}  # passthrough takes no prompts
    assert "supports_prompts is false" in str(reason)
    rows = [trial_row(t, "run", facts["sim"]) for t in plan.trials]
    assert [r["transition"] for r in rows] == [{"num_steps": 0, "temporal_interpolation_method": None},
                                               {"num_steps": 4, "temporal_interpolation_method": "linear"}]


def test_segments_change_the_prompt_there_and_back_with_their_transition() -> None:
    spec = load_spec(SPEC)
    at_once, smooth = prompt_changes(spec, 0), prompt_changes(spec, 4)
    assert [c.at_s for c in at_once] == [3.0, 9.0]  # every 6 s, from half of that on, an even number
    assert at_once[1].parameters == {"prompts": BASE}
    assert at_once[0].parameters == {"prompts": [{"text": spec.control_prompt, "weight": 1.0}]}
    assert smooth[1].parameters == {"transition": {"target_prompts": BASE, "num_steps": 4,
                                                   "temporal_interpolation_method": "linear"}}
    assert prompt_changes(spec, None) == ()


@pytest.mark.parametrize(("changes", "message"), [
    pytest.param({"parameters": {}}, "parameters.prompts", id="no-prompt-to-return-to"),
    pytest.param({"duration_s": 8}, "at least 12", id="too-short"),
    pytest.param({"transition_steps": [-1]}, "chunk counts", id="negative"),
    pytest.param({"runtime": {"prompts": [BASE]}}, "no runtime prompts axis", id="prompts-axis"),
])
def test_a_spec_that_cannot_measure_transitions_says_why(changes: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError, match=message):
        load_spec({**SPEC, **changes})


@pytest.mark.slow
async def test_prompt_change_onsets_match_the_truth(client: ScopeClient, sim: SimControl) -> None:
    """Onset (first visibly changed frame) against the simulator's truth: the first frame of the chunk
    that applied the change, plus its one-way transport; tolerance one output frame interval."""
    sim.put("/sim/models", {"longlive": True})
    spec = load_spec(SPEC)
    load = await client.load_pipeline("longlive")
    trial = TrialSpec("longlive", mode="text", duration_s=spec.duration_s, parameters=dict(spec.parameters))
    results = await run_session(client, trial, [Segment({}, f"steps={n}", prompt_changes(spec, n)) for n in (0, 4)],
                                load=load)
    sessions = sim._http.get("/sim/sessions").json()
    truth = sim.truth(sessions["sessions"][-1]["session_id"] if isinstance(sessions, dict) else sessions[-1]["session_id"])
    frames, chunks = pd.DataFrame(truth["frames"]), pd.DataFrame(truth["chunks"])
    target = spec.control_prompt
    for result, steps in zip(results, (0, 4), strict=True):
        assert result.error is None
        interval_ms = next(f.value for f in result.figures if f.name == "interval_p50")
        first = result.control_detections[0]  # the later change may be cut off by the segment's end
        assert first.detected and first.latency_s is not None, first.reason
        index = control_truth_index(truth, first.stimulus_ns)
        assert index is not None
        chunk = int(frames["chunk_index"].iloc[index])
        # the truth's onset: the first frame of the first chunk blended towards the new prompt;
        # its completion: the first frame of the first chunk wholly on it (the same chunk at once)
        done = int(chunks.loc[(chunks["chunk_index"] >= chunk) & chunks["prompt"].eq(target), "chunk_index"].min())
        onset_ms, done_ms = ((int(frames.loc[frames["chunk_index"] == c, "sent_ns"].min()) - first.stimulus_ns) / 1e6
                             for c in (chunk, done))
        assert (done - chunk == 0) == (steps == 0) and (done - chunk == steps - 1 or steps == 0)
        measured_ms = first.latency_s * 1e3
        # tolerance: one output frame interval plus 20 ms of loopback transport and receive
        tolerance_ms = interval_ms + 20
        if steps == 0:
            assert abs(measured_ms - onset_ms) <= tolerance_ms, (measured_ms, onset_ms)
        else:  # a blend step can be too small to see: the onset lands within the transition
            assert onset_ms - tolerance_ms <= measured_ms <= done_ms + tolerance_ms, (measured_ms, onset_ms, done_ms)


def test_the_log_shows_control_latency_per_transition(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "trials.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    longlive = [r for r in rows if r["pipeline_id"] == "longlive"]
    for k, row in enumerate(longlive):
        steps = 0 if k % 2 == 0 else 4
        row["transition"] = {"num_steps": steps, "temporal_interpolation_method": "linear" if steps else None}
        row["figures"]["control_latency_p50"] = {"value": 1000.0 + 500 * steps, "unit": "ms", "n": 2}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table, _ = performance_table(ServerRuns.load(None, out))
    cell = next(row[2] for row in table if row[0] == "Control latency")
    assert "prompts at once: longlive 1000 ms" in cell and "4-chunk transition: longlive 3000 ms" in cell


def test_an_empty_gpu_block_is_unknown_never_zero() -> None:
    assert load_fixture("session_metrics_idle.json")["gpu"] == {}  # what a real 0.2.4 sends
    assert gpu_memory_text({}) == GPU_UNKNOWN and gpu_memory_text(None) == GPU_UNKNOWN
    text = gpu_memory_text({"vram_allocated_mb": 0.0, "vram_reserved_mb": 512.0, "vram_total_mb": 32768.0})
    assert text == "0 MB allocated, 512 MB reserved of 32768 MB"  # a real zero stays a zero


async def test_the_doctor_reports_the_empty_gpu_block_as_unknown(sim: SimControl) -> None:
    assert sim._http.get("/api/v1/session/metrics").json()["gpu"] == {}
    report = await run_doctor(sim.url, stream=False)
    gpu = next(c for c in report.checks if c.name == "gpu vram")
    assert gpu.value.endswith(f"memory in use (/session/metrics): {GPU_UNKNOWN}") and " 0 MB" not in gpu.value


def test_the_report_reads_an_empty_gpu_block_as_unknown(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "trials.jsonl"
    rows = [json.loads(line) | {"gpu_memory": {}} for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table, _ = performance_table(ServerRuns.load(None, out))
    cell = next(row[2] for row in table if row[0] == "Memory usage")
    assert f"in use during the trials: {GPU_UNKNOWN}" in cell and "0 MB" not in cell
