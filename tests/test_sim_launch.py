"""The simulator as a process: start, serve over loopback, drop connections, stop; the CLI."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest

from lab.sim import Fault, SimConfig, shared_simulator, start_simulator
from lab.sim.cli import build_parser, run


def assert_reaped(pid: int) -> None:
    """The process is gone and reaped: a zombie would still accept signal 0."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_start_serve_drop_and_stop() -> None:
    drop = Fault(kind="drop", paths=["/api/v1/loras"], count=1)
    sim = start_simulator(SimConfig(cpu_only=True, speed=100), faults=[drop])
    with sim:
        assert sim.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=sim.url, timeout=5) as http:
            health = http.get("/health").json()
            assert (health["simulator"], health["git_commit"]) == (True, "simulator")
            assert http.get("/api/v1/hardware/info").json()["vram_gb"] is None
            with pytest.raises(httpx.RemoteProtocolError):
                http.get("/api/v1/loras")
            assert http.get("/api/v1/loras").json() == {"lora_files": []}  # count used up
        assert sim.process.poll() is None
        assert "Exception in ASGI application" not in sim.stderr_tail()
    assert sim.process.returncode is not None
    assert_reaped(sim.process.pid)
    sim.stop()  # idempotent


def test_a_child_that_cannot_start_raises_with_its_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RuntimeError, match="exited with code 2") as info:
        start_simulator(profile_path=missing)
    assert "Cannot load pipeline profiles" in str(info.value) and str(missing) in str(info.value)


def test_shared_simulator_is_started_once() -> None:
    first = shared_simulator()
    assert shared_simulator() is first
    assert httpx.get(f"{first.url}/health", timeout=5).json()["simulator"] is True


def test_cli_refuses_a_non_loopback_host(caplog: pytest.LogCaptureFixture) -> None:
    args = build_parser().parse_args(["--host", "0.0.0.0", "--port", "0"])
    with caplog.at_level(logging.ERROR, logger="lab.sim.cli"):
        assert run(args) == 2
    assert "--allow-remote" in caplog.text and "local use" in caplog.text


def test_cli_rejects_a_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--fault", "meteor"])
    assert info.value.code == 2
    assert "Invalid fault spec 'meteor'" in capsys.readouterr().err


def test_cli_options_become_the_config() -> None:
    args = build_parser().parse_args(
        ["--speed", "50", "--cpu-only", "--models", "present", "--fault", "html:count=1"]
    )
    assert (args.host, args.port, args.speed, args.cpu_only) == ("127.0.0.1", 8000, 50.0, True)
    assert args.faults == [Fault(kind="html", count=1)]
