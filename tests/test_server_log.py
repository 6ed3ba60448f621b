"""Failures explained by the server's own log: load errors, stopped streams, the doctor, stored rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.client import ScopeClient
from lab.doctor import run_doctor
from lab.errors import PipelineLoadError
from lab.measure.run import run_trial
from lab.measure.spec import TrialSpec
from lab.serverlog import MAX_LINE_CHARS, relevant_lines
from lab.redact import REDACTED
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep
from tests.conftest import SimControl

TOKEN = "hf_" + "A1b2C3d4" * 4  # shaped like a HuggingFace token


def _server_log(sim: SimControl) -> list[str]:
    """The simulator's whole log, as it serves it (the ground truth of what it wrote)."""
    response = sim._http.get("/api/v1/logs/current")
    response.raise_for_status()
    return response.text.splitlines()


async def test_a_failed_load_carries_the_servers_log_lines(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    sim.fault("oom", count=1)
    with pytest.raises(PipelineLoadError) as info:
        await client.load_pipeline("longlive")
    logged = [line for line in _server_log(sim) if "longlive" in line and "ERROR" in line]
    assert logged, "the simulator logged no error for the failed load"
    assert info.value.server_log[-1] == logged[-1]  # the very line the server wrote
    assert "out of memory" in logged[-1].lower()
    assert str(info.value).endswith(logged[-1]) and "the server's log below does" in str(info.value)


async def test_an_offline_load_says_the_download_failed(client: ScopeClient, sim: SimControl) -> None:
    """The case seen on a real Scope without internet: optical-flow fetches its weights while loading."""
    sim.fault("offline", count=1)
    with pytest.raises(PipelineLoadError) as info:
        await client.load_pipeline("optical-flow")
    (line,) = info.value.server_log
    assert line in _server_log(sim) and "optical-flow" in line and "Name or service not known" in line


async def test_only_lines_written_since_the_load_began_are_shown(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("offline", count=1)
    with pytest.raises(PipelineLoadError):
        await client.load_pipeline("optical-flow")
    sim.fault("load_error", count=1, message="second failure")
    with pytest.raises(PipelineLoadError) as info:
        await client.load_pipeline("gray")
    assert len(info.value.server_log) == 1 and "second failure" in info.value.server_log[0]


async def test_a_server_without_logs_tail_still_reports_the_failure(client: ScopeClient, sim: SimControl) -> None:
    # An older Scope has no /logs/tail: its catch-all answers 404 "Frontend not built".
    sim.fault("http_error", status=404, message="Frontend not built", paths=["/api/v1/logs"])
    sim.fault("oom", count=1)
    sim.put("/sim/models", {"longlive": True})
    with pytest.raises(PipelineLoadError, match="server gave no reason") as info:
        await client.load_pipeline("longlive")
    assert info.value.server_log == () and "says:" not in str(info.value)
    assert info.value.stage == "Loading diffusion model..."


async def test_a_secret_in_a_log_line_is_redacted(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("load_error", count=1, message=f"401 from the hub with token {TOKEN}")
    with pytest.raises(PipelineLoadError) as info:
        await client.load_pipeline("gray")
    assert any(TOKEN in line for line in _server_log(sim))  # the server did log it
    assert TOKEN not in "".join(info.value.server_log) and REDACTED in info.value.server_log[-1]
    assert TOKEN not in str(info.value).split("says:")[1]  # the log part of the message is clean too


async def test_a_sweeps_failed_load_row_holds_the_redacted_log_lines(sim: SimControl, tmp_path: Path) -> None:
    sim.fault("load_error", count=1, message=f"hub refused token {TOKEN}")
    spec = load_spec({"pipelines": ["gray"], "duration_s": 1.0, "repeats": 1})
    outcome = await run_sweep(spec, targets=[sim.url], out_dir=tmp_path, progress=False)
    (row,) = load_runs(tmp_path).trials.to_dict("records")
    error = row["error"]
    assert row["status"] == "error" and error["phase"] == "load"
    logged = next(line for line in _server_log(sim) if "hub refused token" in line)
    assert error["server_log"] == [logged.replace(TOKEN, REDACTED)]
    assert TOKEN not in (outcome.root / "trials.jsonl").read_text()


@pytest.mark.slow
async def test_a_stopped_stream_keeps_the_servers_log_lines(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("stream_stopped", after_s=0.3, count=1)
    result = await run_trial(client, TrialSpec("passthrough", duration_s=2.0))
    assert result.error is not None and result.error["class"] == "StreamStoppedError"
    logged = [line for line in _server_log(sim) if "frame processing stopped" in line]
    assert logged and result.error["server_log"][-1] == logged[-1]
    assert result.error["message"].endswith(logged[-1])


async def test_a_failing_doctor_check_shows_the_log_once(sim: SimControl) -> None:
    sim.put("/sim/models", {"streamdiffusionv2": True})
    sim.fault("oom", count=1)
    report = await run_doctor(sim.url, stream=False, deep=True)
    (deep,) = [c for c in report.checks if c.name == "deep load"]
    assert deep.status == "fail" and deep.remedy is not None
    logged = [line for line in _server_log(sim) if "out of memory" in line.lower()]
    assert logged and deep.remedy.count(logged[-1]) == 1


def test_relevant_lines_keep_trouble_and_the_pipeline_last_few_shortened() -> None:
    lines = ["t - app - INFO - session opened", "t - app - INFO - loading longlive",
             "t - app - WARNING - slow disk", "Traceback (most recent call last):",
             "t - app - ERROR - boom " + "x" * 400, "", "t - app - INFO - other pipeline gray"]
    picked = relevant_lines(lines, "longlive")
    assert picked[:3] == lines[1:4]
    assert len(picked) == 4 and len(picked[3]) == MAX_LINE_CHARS and picked[3].endswith("...")
    assert relevant_lines(lines, "longlive", limit=2) == picked[-2:]
    assert relevant_lines(lines) == picked[1:]


def test_a_token_cut_by_shortening_is_still_redacted() -> None:
    line = "t - app - ERROR - " + "y" * (MAX_LINE_CHARS - 30) + f" {TOKEN} tail"
    (picked,) = relevant_lines([line])
    assert "hf_" not in picked and picked.endswith("...")
