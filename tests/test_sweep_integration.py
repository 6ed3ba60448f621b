"""The integration sweep end to end: one pipeline read over WebRTC, output.ts and frame polling,
each row with its path and set-up steps, and the research log's integration question answered
from the run (SIMULATED)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.logbook import ServerRuns
from lab.logbook.questions import answer_questions
from lab.store import load_runs
from lab.units import format_value
from lab.sweep import load_spec, plan_sweep, run_sweep
from lab.sweep.planner import ServerFacts
from tests.conftest import SimControl

VIAS = ["webrtc", "headless-ts", "headless-frame"]


def test_the_shipped_spec_plans_a_session_per_path_and_keeps_webrtc_ids() -> None:
    spec = load_spec("integration")
    assert spec.via == VIAS and spec.controls and spec.mode == "text"
    from lab.models import PipelineSchema
    from tests.conftest import load_fixture

    schemas = {k: PipelineSchema.model_validate(v) for k, v in load_fixture("pipelines_schemas.json")["pipelines"].items()}
    plan = plan_sweep(spec, {"sim": ServerFacts(schemas, 32.0, dict.fromkeys(schemas, True))})
    trials = plan.table()
    for pipeline in spec.pipelines:
        mine = trials[trials["pipeline_id"].eq(pipeline)]
        assert len(mine) == spec.repeats * len(VIAS)
        assert mine["trial_id"].is_unique
    conditions = set(trials["condition"])
    assert {"default", "via=headless-ts", "via=headless-frame"} <= conditions  # paths are never pooled
    webrtc_only = plan_sweep(spec.model_copy(update={"via": ["webrtc"]}),
                             {"sim": ServerFacts(schemas, 32.0, dict.fromkeys(schemas, True))})
    assert set(webrtc_only.table()["trial_id"]) <= set(trials["trial_id"])


@pytest.mark.slow
async def test_integration_sweep_answers_the_log_question(sim: SimControl, tmp_path: Path) -> None:
    # streamdiffusionv2: its control latency (about 1 s) leaves room after the change at 3.5 s in a
    # 6 s trial; longlive's (about 2 s, plus a chunk) can end up past the trial's end on a busy machine.
    sim.put("/sim/models", {"streamdiffusionv2": True})
    spec = load_spec("integration", {"pipelines": ["streamdiffusionv2"], "repeats": 1, "duration_s": 6.0})
    outcome = await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    trials = load_runs(tmp_path).trials
    assert (trials["status"] == "ok").all(), trials["error"].dropna().tolist()
    assert trials["via"].tolist() == VIAS
    for _, row in trials.iterrows():
        assert row["ttff_s"] > 0 and row["fps_out"] > 5 and row["control_latency_p50"] > 0, row["via"]
        assert any("/session/frame" in s for s in row["setup_steps"]) == (row["via"] == "headless-frame")
        assert any("output.ts" in s for s in row["setup_steps"]) == (row["via"] == "headless-ts")
    frame_row = trials[trials["via"].eq("headless-frame")].iloc[0]
    assert frame_row["poll_hz"] == spec.poll_hz
    server_runs = ServerRuns.load([outcome.run_id], tmp_path)
    answers = {a.key: a.answer for a in answer_questions(server_runs)}
    answer = answers["integration"]
    assert "SIMULATED" in answer and outcome.run_id in answer
    for name in ("WebRTC: ", "headless output.ts: ", "headless /session/frame polling at 30 Hz (fps capped by it): "):
        assert name in answer
    # Each path's figures and steps as its row stored them (one trial each: the median is the value).
    for via, row in trials.set_index("via").iterrows():
        for label, name, unit in (("ttff", "ttff_s", "s"), ("fps", "fps_out", "fps"),
                                  ("control latency", "control_latency_p50", "ms")):
            assert f"{label} {format_value(row[name], unit, name)} n=1" in answer, (via, name, answer)
        assert f"{len(row['setup_steps'])} set-up steps ({'; '.join(row['setup_steps'])})" in answer
    assert "Every path takes 4 set-up steps" in answer  # text mode: no clip to upload for the headless ones

    # A WebRTC-only run of the same pipeline (other settings) stays out of the path comparison.
    other = await run_sweep(load_spec("integration", {"pipelines": ["streamdiffusionv2"], "via": ["webrtc"], "repeats": 1,
                                                     "duration_s": 3.0}),
                            targets=[sim.url], out_dir=tmp_path, progress=False)
    both = {a.key: a.answer for a in answer_questions(ServerRuns.load([outcome.run_id, other.run_id], tmp_path))}
    assert both["integration"] == answer, both["integration"]
    assert other.run_id not in both["integration"]
