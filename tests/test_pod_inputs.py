"""Scope's inputs on the pod: plugins, LoRAs, input sources and Spout/NDI/Syphon, in info, doctor and the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.cli import EXIT_OK, main
from lab.client import ScopeClient
from lab.doctor import run_doctor
from lab.inputs import INTEGRATIONS, PodInputs, describe_integration, pod_inputs
from lab.logbook import ServerRuns
from lab.logbook.questions import answer_questions
from lab.models import HardwareInfo
from tests.conftest import SimControl, load_fixture
from tests.fixtures import PIPELINES_RUN, copy_runs

PLUGIN = "scope-fancy-nodes==1.2.0"
LORA = "https://huggingface.co/someone/styles/resolve/main/ink-wash.safetensors"


def _install(sim: SimControl) -> None:
    sim._http.post("/api/v1/plugins", json={"package": PLUGIN}).raise_for_status()
    sim._http.post("/api/v1/loras", json={"url": LORA}).raise_for_status()


def _get(sim: SimControl, path: str) -> dict:  # type: ignore[type-arg]
    response = sim._http.get(path)
    response.raise_for_status()
    return response.json()


async def test_pod_inputs_match_what_the_simulator_serves(client: ScopeClient, sim: SimControl) -> None:
    _install(sim)
    inputs = await pod_inputs(client)
    assert inputs.unreadable == {}
    assert inputs.plugins is not None and inputs.loras is not None and inputs.input_sources is not None
    assert [p.name for p in inputs.plugins.plugins] == [p["name"] for p in _get(sim, "/api/v1/plugins")["plugins"]]
    assert [lora.name for lora in inputs.loras] == [f["name"] for f in _get(sim, "/api/v1/loras")["lora_files"]]
    served = _get(sim, "/api/v1/input-sources")["input_sources"]
    assert [(s.source_id, s.available) for s in inputs.input_sources] == [(s["source_id"], s["available"]) for s in served]
    hardware = _get(sim, "/api/v1/hardware/info")
    for name in INTEGRATIONS:
        assert inputs.integrations[name] is not None
        assert inputs.integrations[name].model_dump() == hardware[name]  # type: ignore[union-attr]
    assert "scope-fancy-nodes 1.2.0" in inputs.plugins_text() and "ink-wash" in inputs.loras_text()


async def test_a_server_without_plugins_reports_them_unknown(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("http_error", status=404, message="Frontend not built", paths=["/api/v1/plugins"])
    inputs = await pod_inputs(client)
    assert inputs.plugins is None and "ServerError" in inputs.unreadable["plugins"]
    assert inputs.plugins_text().startswith("unknown (ServerError") and inputs.loras is not None


def test_the_captured_hardware_info_is_described_in_the_servers_words() -> None:
    captured = load_fixture("hardware_info.json")
    inputs = PodInputs.from_parts(HardwareInfo.model_validate(captured))
    for name in INTEGRATIONS:
        text = describe_integration(name, inputs.integrations[name])
        assert text == f"not available: {captured[name]['reason']} (install hint: {captured[name]['install_hint']})"
    assert inputs.plugins_text() == "unknown (not read)"


def test_every_route_read_is_in_the_captured_openapi() -> None:
    paths = load_fixture("openapi.json")["paths"]
    for path in ("/api/v1/plugins", "/api/v1/loras", "/api/v1/input-sources", "/api/v1/hardware/info",
                 "/api/v1/logs/tail"):
        assert "get" in paths[path], path
    assert "lora_files" in load_fixture("openapi.json")["components"]["schemas"]["LoRAFilesResponse"]["required"]


def test_lab_info_lists_the_inputs(sim: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    _install(sim)
    assert main(["info", sim.url, "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"]["integrations"]["spout"] == _get(sim, "/api/v1/hardware/info")["spout"]
    assert [p["name"] for p in report["inputs"]["plugins"]] == ["scope-fancy-nodes"]
    assert main(["info", sim.url]) == EXIT_OK
    text = capsys.readouterr().out
    spout = _get(sim, "/api/v1/hardware/info")["spout"]
    assert f"Spout        not available: {spout['reason']} (install hint: {spout['install_hint']})" in text
    assert "ink-wash" in text


async def test_the_doctor_lists_plugins_loras_and_inputs(sim: SimControl) -> None:
    _install(sim)
    report = await run_doctor(sim.url, stream=False)
    checks = {c.name: c for c in report.checks}
    assert checks["plugins"].status == "pass" and "scope-fancy-nodes 1.2.0" in checks["plugins"].value
    assert "ink-wash" in checks["plugins"].value
    hardware = _get(sim, "/api/v1/hardware/info")
    assert all(hardware[name]["reason"] in checks["inputs"].value for name in INTEGRATIONS)
    assert "available: video_file; not available: ndi, spout, syphon" in checks["inputs"].value


def _spout_answer(out: Path) -> str:
    answers = {a.key: a.answer for a in answer_questions(ServerRuns.load(None, out))}
    return answers["spout"]


def test_the_log_answers_spout_from_the_runs_hardware_block(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    spout = json.loads((out / PIPELINES_RUN / "manifest.json").read_text())["servers"]["sim"]["hardware"]["spout"]
    answer = _spout_answer(out)
    assert answer.startswith(f"**Not available on this server**: \"{spout['reason']}\"")
    assert spout["install_hint"] in answer and "output_sinks" in answer and PIPELINES_RUN in answer


def test_the_log_says_when_spout_is_available(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    server = manifest["servers"]["sim"]
    server["hardware"]["spout"] = {"available": True, "reason": None, "install_hint": None}
    server["inputs"] = {"input_sources": [{"source_id": "spout", "available": True}]}
    path.write_text(json.dumps(manifest))
    answer = _spout_answer(out)
    assert answer.startswith("**Available on this server**") and "input source type `spout` is available" in answer
