"""``lab measure``: one trial from the command line, as JSON or a table, labelled simulated."""

from __future__ import annotations

import json
import math
import re

import pytest

from lab.cli import EXIT_ERROR, EXIT_OK, main
from tests.conftest import SIM_SPEED, SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

# What a passthrough trial reports (stamped input: exact latency).
FIGURES = {
    "load_s": "s", "signalling_s": "s", "connect_s": "s", "first_frame_s": "s", "ttff_s": "s",
    "warmup_s": "s", "fps_out": "fps", "interval_p50": "ms", "interval_p95": "ms", "interval_max": "ms",
    "stalls": "count", "burst_frames": "frames", "server_fps_out": "fps",
    "latency_p50": "ms", "latency_p95": "ms", "latency_max": "ms", "inputs_unseen": "count",
    # quality, scored after streaming (the picture is kept, so fidelity is paired by stamp id)
    "flicker": "levels", "flicker_trend": "levels/s", "duplicate_share": "%", "freeze_share": "%",
    "fidelity_ssim": "SSIM", "sharpness": "levels²",
}


def test_measure_sim_prints_every_figure_as_json(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # "sim" is the shared background simulator; make its emulated loads fast if this starts it
    monkeypatch.setenv("LAB_SIM_SPEED", str(SIM_SPEED))
    code = main(["measure", "sim", "--pipeline", "passthrough", "--duration", "3", "--json"])
    out = capsys.readouterr().out
    report = json.loads(out)  # stdout is the JSON document and nothing else
    assert code == EXIT_OK and report["error"] is None
    assert report["source"] == "SIMULATED" and report["pipeline"] == "passthrough" and report["mode"] == "v2v"
    figures = {f["name"]: f for f in report["figures"]}
    missing = set(FIGURES) - set(figures)
    assert not missing, f"figures missing from the JSON: {sorted(missing)}"
    for name, unit in FIGURES.items():
        figure = figures[name]
        assert {"value", "unit", "n"} <= set(figure), f"{name}: {figure}"
        assert figure["unit"] == unit, f"{name} in {figure['unit']}, expected {unit}"
        assert isinstance(figure["n"], int) and figure["n"] >= 1, f"{name}: n={figure['n']}"
        # a figure without a value says why
        assert figure["value"] is not None or figure["warnings"], f"{name} has neither a value nor a warning"
        assert figure["value"] is None or math.isfinite(figure["value"])
    assert figures["latency_p50"]["value"] > 0 and figures["fps_out"]["value"] == pytest.approx(15, rel=0.1)
    assert figures["stalls"]["value"] == 0 and figures["inputs_unseen"]["value"] == 0
    assert report["quality_model"] == "pixels" and figures["fidelity_ssim"]["value"] > 0.9
    assert figures["prompt_alignment"]["value"] is None and "no text prompt" in figures["prompt_alignment"]["note"]


def test_measure_table_is_labelled_simulated(sim: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", sim.url, "--pipeline", "passthrough", "--duration", "2"])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert f"passthrough (v2v) via webrtc on {sim.url} [SIMULATED]" in out
    assert "latency_p50" in out and "ttff_s" in out
    assert re.search(r"\n\s*fps_out\s+\d+\.\d fps\s", out), out  # rounded to 0.1 fps, with its unit
    assert re.search(r"\n\s*latency_p50\s+\d+ ms\s", out), out


def test_measure_unknown_pipeline_exits_2_naming_the_choices(sim: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", sim.url, "--pipeline", "no-such-pipeline", "--duration", "2", "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR == 2
    assert captured.out == ""  # no half-written JSON
    assert captured.err.startswith("error: ")
    assert "'no-such-pipeline'" in captured.err and "passthrough" in captured.err, captured.err


def test_measure_via_headless_frame_polling(sim: SimControl, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", sim.url, "--pipeline", "passthrough", "--duration", "2", "--via", "headless",
                 "--reader", "frame", "--poll-hz", "40", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and report["via"] == "headless-frame" and report["error"] is None
    assert "GET /api/v1/session/frame (one request per poll)" in report["setup_steps"]
    assert "POST /api/v1/assets (the input clip)" in report["setup_steps"]  # v2v: the server plays a clip
    figures = {f["name"]: f for f in report["figures"]}
    assert figures["poll_hz"]["value"] == 40 and figures["fps_out"]["value"] <= 40
    assert figures["ttff_s"]["note"] == "POST /session/start sent to the first frame polled"
    assert "latency_p50" not in figures  # no input-to-output latency without a client input


def test_measure_refuses_a_poll_rate_that_is_not_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["measure", "sim", "--pipeline", "passthrough", "--via", "headless", "--reader", "frame",
              "--poll-hz", "0"])
    assert exit_info.value.code == 2
    assert "'0' is not a positive rate; give polls per second" in capsys.readouterr().err
