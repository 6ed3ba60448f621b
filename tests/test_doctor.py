"""lab doctor against the simulator: one test per failure mode, status, exit code and remedy."""

from __future__ import annotations

import json
import re
import socket

import pytest

from lab.doctor import DoctorReport, run_doctor
from lab.protocol import ApiShape
from tests.conftest import SimControl, load_fixture

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out


def row(report: DoctorReport, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.name == name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_nothing_listening_fails_tcp_and_skips_the_rest() -> None:
    report = await run_doctor(f"http://127.0.0.1:{free_port()}")
    assert row(report, "tcp").status == "fail" and "Nothing listens" in (row(report, "tcp").remedy or "")
    assert row(report, "health").status == "skip" and "tcp failed" in row(report, "health").value
    assert report.exit_code == 2


async def test_bad_target_fails_first() -> None:
    report = await run_doctor("https://abcd1234efgh.runpod.io:8000")
    assert report.checks[0].status == "fail" and "proxy.runpod.net" in (report.checks[0].remedy or "")
    assert report.exit_code == 2


async def test_html_proxy_page_while_starting(sim: SimControl) -> None:
    sim.fault("html", status=502)
    report = await run_doctor(sim.url, stream=False)
    health = row(report, "health")
    assert health.status == "fail" and "proxy answered 502" in health.value
    assert "still starting" in (health.remedy or "")


async def test_stopped_pod_404_page(sim: SimControl) -> None:
    sim.fault("html", status=404)
    report = await run_doctor(sim.url, stream=False)
    assert "stopped or does not exist" in (row(report, "health").remedy or "")


async def test_health_error_shows_the_server_detail(sim: SimControl) -> None:
    sim.fault("http_error", status=500, message="database locked", paths=["/health"])
    report = await run_doctor(sim.url, stream=False)
    assert row(report, "health").status == "fail" and "database locked" in (row(report, "health").remedy or "")


async def test_low_vram_fails_and_names_the_pipelines(sim: SimControl) -> None:
    sim.put("/sim/hardware", {"vram_gb": 16.0})
    report = await run_doctor(sim.url, stream=False)
    assert row(report, "gpu vram").status == "fail" and "16.0 GB" in row(report, "gpu vram").value
    fit = row(report, "pipelines fit")
    assert fit.status == "warn" and "longlive (20 GB)" in (fit.remedy or "") and "fp8_e4m3fn" in (fit.remedy or "")
    assert report.exit_code == 2


async def test_missing_models_warn_with_the_download_command(sim: SimControl) -> None:
    report = await run_doctor(sim.url, stream=False)
    models = row(report, "models")
    assert models.status == "warn" and "download_models --pipeline" in (models.remedy or "")
    sim.put("/sim/models", {pid: True for pid in ["streamdiffusionv2", "longlive", "krea-realtime-video",
                                                  "reward-forcing", "memflow", "video-depth-anything", "rife", "scribble"]})
    assert row(await run_doctor(sim.url, stream=False), "models").status == "pass"


async def test_no_turn_warns_for_a_remote_pod(sim: SimControl) -> None:
    report = await run_doctor(sim.url, stream=False, judge_as_remote=True)
    ice = row(report, "ice servers")
    assert ice.status == "warn" and "HF_TOKEN" in (ice.remedy or "")
    assert row(await run_doctor(sim.url, stream=False), "ice servers").status == "pass"  # loopback needs no TURN


async def test_turn_credentials_never_reach_the_report(sim: SimControl) -> None:
    sim.put("/sim/ice-servers", [{"urls": ["turn:turn.example:3478"], "username": "user-42", "credential": "hunter2"}])
    report = await run_doctor(sim.url, stream=False, judge_as_remote=True)
    assert row(report, "ice servers").status == "pass"
    text = json.dumps(report.as_dict())
    assert "hunter2" not in text and "user-42" not in text


def test_api_shape_of_real_scope_answers_the_logs_questions() -> None:
    shape = ApiShape.from_openapi(load_fixture("openapi.json"))
    assert (shape.scope_local, shape.hosted_streams, shape.whip_paths) == (True, False, ())
    hosted = ApiShape.from_openapi({"paths": {"/v1/streams": {}, "/v1/streams/{id}/whip": {}}})
    assert not hosted.scope_local and hosted.hosted_streams and hosted.whip_paths == ("/v1/streams/{id}/whip",)
    assert "no WHIP ingest" in shape.describe()


async def test_ice_failure_turns_the_webrtc_row_red(sim: SimControl) -> None:
    sim.fault("ice_fail")
    report = await run_doctor(sim.url)
    webrtc = row(report, "webrtc")
    assert webrtc.status == "fail" and "ConnectionFailedError" in webrtc.value
    assert "did not connect" in (webrtc.remedy or "")
    assert report.exit_code == 2


def test_cli_json_validates_exits_by_worst_status_and_hides_secrets(sim: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import validate

    from lab.cli import main
    from lab.doctor import REPORT_SCHEMA

    sim.put("/sim/ice-servers", [{"urls": ["turns:turn.example:443"], "username": "user-42", "credential": "hunter2"}])
    code = main(["doctor", sim.url, "--json", "--no-stream"])
    out = capsys.readouterr().out
    report = json.loads(out)
    validate(report, REPORT_SCHEMA)
    assert code == report["exit_code"] == 1  # models missing: warn
    assert report["simulated"] is True and "hunter2" not in out and "user-42" not in out
    assert [c["name"] for c in report["checks"]][:3] == ["target", "dns", "tcp"]


async def test_sim_target_is_a_ready_pod_and_passes_everything() -> None:
    report = await run_doctor("sim")
    assert [c.status for c in report.checks if c.status != "pass"] == []
    assert report.exit_code == 0 and report.simulated
    assert "latency p50" in row(report, "webrtc").value
    # Scope 0.2.4's 70 operations, with the /sim/ control routes counted apart.
    assert re.search(r", 70 operations \(\+\d+ simulator control\)$", row(report, "docs").value)
