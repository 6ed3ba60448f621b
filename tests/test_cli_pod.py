"""``lab pod`` against the simulator's emulated RunPod API: the table, JSON, exit codes, and
no API key or HF token in anything it writes (stdout, stderr, logs at debug level, files)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.cli import main
from lab.sim.runpod.config import HOME_POD_ID, RunpodSimConfig
from tests.conftest import SimControl

KEY = RunpodSimConfig().api_key
HF_TOKEN = "hf_" + "Qw3rTy7u" * 4


@pytest.fixture
def env(sim: SimControl, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimControl]:
    monkeypatch.setenv("RUNPOD_API_KEY", KEY)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", f"{sim.url}/runpod")
    yield sim
    sim.reset()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["-vv", "pod", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_prints_a_table_labelled_simulated(env: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    header, row, note = out.strip().splitlines()
    assert code == 0 and header.split()[:6] == ["POD", "NAME", "STATUS", "GPU", "$/H", "UPTIME"]
    assert row.split()[:3] == [HOME_POD_ID, "metadj-scope", "running"] and "0.89" in row.split()
    assert row.endswith(f"{env.url}/runpod/proxy/{HOME_POD_ID}-8000") and note.startswith("SIMULATED")


def test_stop_and_start_report_the_new_status(env: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stop", HOME_POD_ID, "--json")
    assert code == 0 and json.loads(out)["pods"][0]["status"] == "stopped"
    code, out, _ = run(capsys, "start", HOME_POD_ID, "--json")
    assert code == 0 and json.loads(out)["pods"][0]["desired_status"] == "RUNNING"


def test_bad_input_exits_2_with_the_error_on_stderr(env: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "create", "--template", "daydream-scope", "--gpu", "RTX 3070")
    assert (code, out) == (2, "") and "at least 24 GB" in err
    code, _, err = run(capsys, "stop", "otheracct02")
    assert code == 2 and "not among the pods" in err


def test_env_without_a_value_takes_it_from_the_shell_or_says_it_is_missing(
        env: SimControl, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, _, err = run(capsys, "create", "--template", "daydream-scope", "--gpu", "RTX 4090", "--env", "HF_TOKEN")
    assert code == 2 and "HF_TOKEN is not set here" in err
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    code, out, _ = run(capsys, "create", "--template", "daydream-scope", "--gpu", "RTX 4090", "--env", "HF_TOKEN",
                       "--json")
    assert code == 0 and json.loads(out)["pods"][0]["env_keys"] == ["HF_TOKEN"]


def test_no_key_or_token_in_any_output_or_log(env: SimControl, capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    commands = [["list"], ["list", "--json"], ["stop", HOME_POD_ID], ["start", HOME_POD_ID],
                ["create", "--template", "daydream-scope", "--gpu", "RTX 5090", "--env", f"HF_TOKEN={HF_TOKEN}"],
                ["create", "--template", "nope", "--gpu", "RTX 5090", "--env", f"HF_TOKEN={HF_TOKEN}"],
                ["stop", "nosuchpod9"]]
    for number, argv in enumerate(commands):
        code, out, err = run(capsys, *argv)
        (outputs / f"{number}.out").write_text(out)
        (outputs / f"{number}.err").write_text(err)
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_WRONGKEY0123456789abcdefghij")
    code, out, err = run(capsys, "list")
    assert code == 2 and "refused the key" in err
    (outputs / "wrong.err").write_text(out + err)
    httpx.post(f"{env.url}/sim/runpod/faults", json={"kind": "unreachable", "count": 1}).raise_for_status()
    monkeypatch.setenv("RUNPOD_API_KEY", KEY)
    code, out, err = run(capsys, "list")
    assert code == 2 and "No usable answer" in err
    (outputs / "unreachable.err").write_text(out + err)
    (outputs / "log.txt").write_text("\n".join(record.getMessage() for record in caplog.records))
    (outputs / "sim-log.txt").write_text(httpx.get(f"{env.url}/api/v1/logs/tail").text)
    written = {path.name: path.read_text() for path in outputs.iterdir()}
    assert any("GET" in text or "POST" in text for text in written.values())  # the log did record requests
    for secret in (KEY, HF_TOKEN, "rpa_WRONGKEY"):
        assert not [name for name, text in written.items() if secret in text], secret
