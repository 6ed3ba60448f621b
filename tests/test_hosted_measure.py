"""A hosted trial (``daydream:`` target) against the simulator's truth, and its bad inputs.

The hosted emulation runs a stream on the simulator's media path, so its ground truth
(``GET /sim/hosted/streams/{id}/truth``) has the same frames, chunks and messages as a
Scope session's, and the figures are judged with the tolerances of ``test_accuracy.py``
(its helpers, on the truth's own records): ttff within 20 ms of the first frame on the
wire plus the one-way baseline, steady fps within 2 % of the send times' rate, warm-up
within 0.5 s, stalls counted exactly, control latency (a ``PATCH`` of the prompt) within
one output interval of the first changed frame on the wire plus the one-way baseline, step
latency (our input's scene switch over WHIP) within one output interval of the truth.
The shared simulator runs at speed 100: a stream's 20 s start-up takes 0.2 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pandas as pd
import pytest

from lab.cli import main
from lab.hosted import HostedClient
from lab.measure.hosted import run_hosted_trial
from lab.measure.result import TrialResult
from lab.measure.spec import ControlChange, TrialSpec
from lab.sim.hosted.config import SIM_API_KEY
from tests.conftest import SimControl
from tests.test_accuracy import FPS_TOLERANCE, assert_steps_match, assert_ttff_matches, \
    assert_warmup_ends_with_the_truth, one_way_ms, true_rates, value
from tests.truth.accuracy import control_truth_index
from tests.truth.sent_rates import stall_gaps_s

PARAMS = {"model_id": "stabilityai/sd-turbo", "prompt": "a lighthouse at dusk"}


@pytest.fixture
async def hosted(sim: SimControl) -> AsyncIterator[HostedClient]:
    async with HostedClient(f"daydream:{sim.url}", api_key=SIM_API_KEY, max_wait_s=0.05) as client:
        yield client


def streams(sim: SimControl) -> list[dict[str, Any]]:
    """Every stream the emulation has seen (deleted ones too)."""
    return list(httpx.get(f"{sim.url}/sim/hosted", timeout=10).raise_for_status().json()["streams"])


def stream_truth(sim: SimControl, result: TrialResult) -> dict[str, Any]:
    stream_id = result.server_state["stream_id"]
    return dict(httpx.get(f"{sim.url}/sim/hosted/streams/{stream_id}/truth", timeout=10).raise_for_status().json())


def fault(sim: SimControl, **body: Any) -> None:
    httpx.post(f"{sim.url}/sim/hosted/faults", json=body, timeout=10).raise_for_status()


async def measure(hosted: HostedClient, spec: TrialSpec, params: dict[str, Any] = PARAMS, **options: Any) -> TrialResult:
    return await run_hosted_trial(hosted, spec, params, simulated=True, poll_s=0.05, **options)


@pytest.mark.slow
async def test_hosted_figures_match_the_truth(hosted: HostedClient, sim: SimControl) -> None:
    control = ControlChange(3.0, {"prompt": "a red fox in snow"})
    result = await measure(hosted, TrialSpec("streamdiffusion", source="pattern", duration_s=6, controls=(control,)))
    assert result.error is None, result.error
    truth = stream_truth(sim, result)
    frames = pd.DataFrame(truth["frames"])
    assert_ttff_matches(result, frames)
    assert value(result, "ttff_s") >= truth["startup_s"], "the output cannot play before the stream has started"
    units, true_warmup_s, true_rate = true_rates(frames)
    assert_warmup_ends_with_the_truth(result, frames, units)
    fps = value(result, "fps_out")
    assert fps == pytest.approx(true_rate, rel=FPS_TOLERANCE), f"fps_out {fps:.3f}, truth {true_rate:.3f} (±2 %)"
    assert value(result, "stalls") == len(stall_gaps_s(units, true_warmup_s or 0.0)) == 0
    # control latency: PATCH sent -> the first frame of the chunk that applied it, on the wire + one-way
    (detection,) = result.control_detections
    assert detection.detected and detection.latency_s is not None, detection.reason
    index = control_truth_index(truth, detection.stimulus_ns, source="rest")
    assert index is not None, "the simulator's truth shows no answer to the PATCH"
    _, transport = one_way_ms(result, frames)
    true_ms = (int(frames["wire_ns"].iloc[index]) - detection.stimulus_ns) / 1e6 + float(transport.median())
    interval_ms = value(result, "interval_p50")
    assert abs(detection.latency_s * 1e3 - true_ms) <= interval_ms, (
        f"control latency {detection.latency_s * 1e3:.1f} ms, truth {true_ms:.1f} ms (±{interval_ms:.1f} ms)")
    assert value(result, "control_latency_p50") == pytest.approx(detection.latency_s * 1e3)
    # the service's own figures beside ours, and the stream gone
    assert value(result, "load_s") >= value(result, "create_s") > 0
    assert result.figure("server_fps_out").n >= 3 and value(result, "server_fps_in") > 0
    assert [s["deleted"] for s in streams(sim)] == [True]


@pytest.mark.slow
async def test_step_latency_over_whip_matches_the_truth(hosted: HostedClient, sim: SimControl) -> None:
    # Our stamped scene steps go in over WHIP, as into a Scope session: the emulation's output
    # keeps the stamp band, so the truth of a switch is the first output frame made from the new scene.
    result = await measure(hosted, TrialSpec("streamdiffusion", duration_s=8, step_start_s=2.0))
    assert result.error is None, result.error
    assert_steps_match(result, pd.DataFrame(stream_truth(sim, result)["frames"]), at_least=2)


@pytest.mark.slow
async def test_an_injected_stall_is_counted_once(hosted: HostedClient, sim: SimControl) -> None:
    fault(sim, kind="stall", after_s=3.5, duration_s=1.0)
    result = await measure(hosted, TrialSpec("streamdiffusion", source="pattern", duration_s=6))
    assert result.error is None, result.error
    units, true_warmup_s, _ = true_rates(pd.DataFrame(stream_truth(sim, result)["frames"]))
    true_gaps = stall_gaps_s(units, true_warmup_s or 0.0)
    assert value(result, "stalls") == len(true_gaps) == 1, f"stalls {result.figure('stalls')}, truth {true_gaps}"


@pytest.mark.parametrize(("params", "error", "said"), [
    pytest.param({**PARAMS, "guidance_scale": -1, "width": 10}, "HostedParamsError",
                 ["guidance_scale", "width"], id="params-refused"),
    pytest.param({**PARAMS, "model_id": "acme/not-a-model"}, "HostedModelError",
                 ["acme/not-a-model", "stabilityai/sd-turbo"], id="model-not-offered"),
])
async def test_refused_params_are_the_trial_error(hosted: HostedClient, sim: SimControl, params: dict[str, Any],
                                                  error: str, said: list[str]) -> None:
    result = await measure(hosted, TrialSpec("streamdiffusion", duration_s=2), params)
    assert result.error is not None and result.error["class"] == error and result.error["phase"] == "create"
    assert all(word in result.error["message"] for word in said), result.error["message"]
    assert streams(sim) == []


async def test_a_stream_that_never_plays_is_deleted(hosted: HostedClient, sim: SimControl) -> None:
    fault(sim, kind="never_ready")
    result = await measure(hosted, TrialSpec("streamdiffusion", duration_s=2), ready_timeout_s=0.5)
    assert result.error is not None and (result.error["class"], result.error["phase"]) == ("StreamNotReadyError", "ready")
    assert [s["deleted"] for s in streams(sim)] == [True]
    assert result.figure("signalling_s").value is not None and result.figure("ttff_s").value is None


def test_cli_key_missing_or_refused(sim: SimControl, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = f"daydream:{sim.url}"
    monkeypatch.delenv("DAYDREAM_API_KEY", raising=False)
    assert main(["measure", target, "--duration", "1"]) == 2
    assert "DAYDREAM_API_KEY is not set" in capsys.readouterr().err
    wrong = "sk_wrong_key_for_this_test_123456"
    monkeypatch.setenv("DAYDREAM_API_KEY", wrong)
    assert main(["measure", target, "--duration", "1"]) == 2
    out = capsys.readouterr()
    assert "error in create: The hosted API" in out.err and "refused the API key" in out.err
    assert wrong not in out.out + out.err
    assert streams(sim) == []
