"""Measurement accuracy against the simulator's ground truth (tolerances from issue 5).

The simulator records, for every output frame, when it received the input frame it came
from and when it handed the output to its WebRTC sender (``internal_delay``). The client
measures input send to output arrival, which adds the loopback transport both ways. So:

- the transport baseline (client latency minus internal delay) is measured once with no
  added delay; moving the simulator's delay to D1 and then D2 must move the measured p50
  by what the simulator's internal delay moved (its truth, about D2 - D1) within 2 ms,
  and measured minus internal must stay within 5 ms of the baseline at p50;
- step-test latency (change detection) within one output frame interval of the exact
  stamped latency of the same frames;
- time to first frame must match the simulator's first send within 20 ms;
- steady fps within 2 % of the simulator's send rate; warm-up within 0.5 s of the warm-up
  the same definition finds in the simulator's send times; an injected stall counted once.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from lab.client import ScopeClient
from lab.measure.arrivals import analyze_arrivals
from lab.measure.accuracy import SKIP_START_FRAMES, latency_minus_internal_ms
from lab.measure.stamped import run_stamped
from lab.measure.trial import TrialSpec, run_trial
from lab.rtc import open_session
from tests.conftest import SimControl

FPS = 30.0
SECONDS = 6.0
# Added simulator delays. bench/bench_accuracy.py also runs 250 ms, where the transport
# was seen to grow by about 2.5 ms (an open question, noted on issue 5).
D1_S, D2_S = 0.1, 0.2


async def stamped_session(client: ScopeClient, sim: SimControl, seconds: float = SECONDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream stamped passthrough; return client frames (joined with sends) and the truth frames."""
    run = await run_stamped(client, ["passthrough"], fps=FPS, seconds=seconds)
    return run.frames, pd.DataFrame(sim.truth(run.session_id)["frames"])


async def test_latency_moves_with_the_internal_delay(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    baseline = float(latency_minus_internal_ms(*await stamped_session(client, sim)).median())
    measured, internal, offsets = {}, {}, {}
    for delay_s in (D1_S, D2_S):
        sim.put("/sim/media", {"extra_delay_s": delay_s})
        joined, truth = await stamped_session(client, sim)
        measured[delay_s] = float(joined["latency_ms"].dropna().iloc[SKIP_START_FRAMES:].median())
        internal[delay_s] = float(truth["internal_delay_ns"].dropna().median()) / 1e6
        offsets[delay_s] = float(latency_minus_internal_ms(joined, truth).median())
    # the measured p50 moves as the simulator's own delay moved (its truth), within 2 ms
    assert measured[D2_S] - measured[D1_S] == pytest.approx(internal[D2_S] - internal[D1_S], abs=2.0)
    assert internal[D2_S] - internal[D1_S] == pytest.approx(1e3 * (D2_S - D1_S), abs=5.0)
    for delay_s, offset in offsets.items():
        assert offset == pytest.approx(baseline, abs=5.0), f"transport at D={delay_s}: {offset:.1f} vs {baseline:.1f} ms"
    assert 0 < baseline < 100  # loopback encode + send + the simulator's receive jitter buffer


async def test_ttff_and_steady_fps_match_the_truth(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    joined, truth = await stamped_session(client, sim)
    first_arrival_ns = int(joined["complete_ns"].iloc[0])
    first_sent_ns = int(truth["sent_ns"].iloc[0])
    assert 0 <= first_arrival_ns - first_sent_ns <= 20_000_000
    measured = analyze_arrivals(joined["complete_ns"].to_numpy())
    true_rate = analyze_arrivals(truth.loc[truth["kind"] == "frame", "sent_ns"].to_numpy())
    assert measured.fps_out.value == pytest.approx(true_rate.fps_out.value, rel=0.02)
    assert measured.fps_out.value == pytest.approx(FPS, rel=0.03)


async def test_injected_stall_is_counted_once(client: ScopeClient, sim: SimControl) -> None:
    await client.load_pipeline("passthrough")
    sim.fault("stall", after_s=3.0, duration_s=1.5)
    joined, _ = await stamped_session(client, sim, seconds=8.0)
    analysis = analyze_arrivals(joined["complete_ns"].to_numpy())
    assert analysis.stalls == 1
    assert analysis.stall_gaps_s[0] == pytest.approx(1.5, abs=0.15)


async def test_warmup_matches_the_simulators_own_send_times(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    await client.load_pipeline("longlive")
    async with open_session(client, ["longlive"], mode="text",
                            parameters={"prompts": [{"text": "a lighthouse at dusk", "weight": 1.0}]}) as session:
        await asyncio.sleep(12.0)
        frames = session.log.to_dataframe()
        session_id = session.session_id
    truth = pd.DataFrame(sim.truth(session_id)["frames"])
    measured = analyze_arrivals(frames["complete_ns"].to_numpy())
    true_warmup = analyze_arrivals(truth.loc[truth["kind"] == "frame", "sent_ns"].to_numpy())
    assert measured.warmup_s is not None and true_warmup.warmup_s is not None
    # both measured from their own first frame: compare the moments, on the shared clock
    measured_end = frames["complete_ns"].iloc[0] / 1e9 + measured.warmup_s
    true_end = truth["sent_ns"].iloc[0] / 1e9 + true_warmup.warmup_s
    assert measured_end == pytest.approx(true_end, abs=0.5)
    assert np.isfinite(measured.fps_out.value or np.nan)


async def test_step_latency_agrees_with_exact_latency_within_one_frame(client: ScopeClient, sim: SimControl) -> None:
    # The simulator's generative output keeps the input's stamp band readable, so the same
    # trial gives exact per-frame latency as a truth for the step test's change detection.
    sim.put("/sim/models", {"streamdiffusionv2": True})
    result = await run_trial(client, TrialSpec("streamdiffusionv2", duration_s=14, step_start_s=2.0))
    assert result.error is None
    step, exact = result.figure("step_latency_p50"), result.figure("latency_p50")
    frame_interval_ms = result.figure("interval_p50").value
    assert step.n >= 3 and step.value is not None and exact.value is not None and frame_interval_ms is not None
    assert abs(step.value - exact.value) <= frame_interval_ms


async def test_trial_keeps_the_server_view_beside_its_own_figures(client: ScopeClient) -> None:
    result = await run_trial(client, TrialSpec("passthrough", duration_s=4))
    assert result.server_state["pipeline_status"]["status"] == "loaded"
    assert result.server_state["vram_gb"] == 32.0
    server = result.figure("server_fps_out")
    assert server.n >= 2 and server.value is not None
    # the server's average includes its start; ours is steady state: close, not equal
    assert server.value == pytest.approx(result.figure("fps_out").value, rel=0.25)
