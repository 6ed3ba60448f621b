"""Accuracy of the trial's figures against the simulator's ground truth (SIMULATED).

Runs trials end to end (``run_trial``; ``stream_stamped`` for passthrough latency) against a
simulator (real-time media, loopback) and compares
each figure with what the simulator recorded in the same run:

- passthrough at 15 and 30 fps: stamped latency per frame while the simulator's added
  delay takes turns at 0, 100 and 250 ms in one session (truth: the frame's internal delay +
  the transport baseline, the median at 0 ms); then three plain trials each for ``ttff_s``
  (truth: offer to the first frame on the simulator's wire + the session's median one-way
  transport) and ``fps_out`` (truth: the simulator's send times);
- streamdiffusionv2 video-to-video, step test at 15 and 30 fps: ``step_latency`` (truth per
  switch: the first output frame made from the new scene: its input's delay after the
  switch + its internal delay + the session's transport baseline);
- control latency, longlive text-to-video and streamdiffusionv2 video-to-video (paced as
  Scope paces): prompt changes 6 s apart, then ``paused`` (truth: the first changed, or last
  new, frame on the simulator's wire + the one-way transport);
- arrivals of longlive text-to-video: ``warmup_s`` paced (truth: the same definition on
  the simulator's send times) and unpaced (truth: when the last configured warm-up chunk
  went out), and chunked delivery (unpaced, one injected 2 s stall): ``burst_frames``
  (truth: frames per chunk), ``stalls`` (truth: the one injected), ``fps_out``.

Columns: ``truth`` and ``measured`` are medians over the samples (frames, switches,
changes or sessions); ``bias`` is the median of measured minus truth per sample; ``spread``
is p5-p95 of that error for 10 samples or more, else min-max; ``n`` counts the samples.

Run: ``.venv/bin/python bench/bench_accuracy.py [--seconds 6] [--markdown]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.truth and tests.stamped_stream, shared with the accuracy tests
from lab.client import ScopeClient  # noqa: E402
from lab.measure.result import TrialResult  # noqa: E402
from lab.measure.run import run_trial  # noqa: E402
from lab.measure.spec import ControlChange, TrialSpec  # noqa: E402
from lab.sim import SimConfig, start_simulator  # noqa: E402
from tests.stamped_stream import stream_stamped  # noqa: E402
from tests.truth.accuracy import (  # noqa: E402
    control_truth_index,
    latency_minus_internal_ms,
    sent_frame_arrivals,
    step_truth_index,
)
from tests.truth.sent_rates import SentUnits, steady_fps, warmup_end_s  # noqa: E402

PROMPTS = ("a lighthouse at dusk", "a red fox in snow")
DELAYS_S = (0.0, 0.1, 0.25)  # the simulator's added delay takes these in turn, each PHASE_S long
PHASE_S = 1.2
CYCLES = 4
SETTLE_NS = 300_000_000  # frames sent this soon after a change may carry the previous delay
SESSIONS = 3  # plain sessions per frame rate, for ttff_s and fps_out
REPEATS = 3  # trials per arrival scenario
CONTROL_EVERY_S = 6.0  # a change's noise baseline (3 s) must not hold the previous response


@dataclass
class Row:
    """One figure of one scenario: paired truth and measured samples."""

    scenario: str
    figure: str
    unit: str
    truth: list[float] = field(default_factory=list)
    measured: list[float] = field(default_factory=list)

    def add(self, truth: float, measured: float) -> None:
        self.truth.append(float(truth))
        self.measured.append(float(measured))

    def as_dict(self) -> dict[str, Any]:
        """The table row; a row without truth (the baseline itself) spreads its measured values."""
        truth, measured = np.array(self.truth, dtype=float), np.array(self.measured, dtype=float)
        has_truth = bool(truth.size) and not np.isnan(truth).all()
        errors = measured - truth if has_truth else measured
        return {"scenario": self.scenario, "figure": f"{self.figure} ({self.unit})",
                "truth": _fmt(np.median(truth)) if has_truth else "-",
                "measured": _fmt(np.median(measured)) if measured.size else "-",
                "bias": f"{np.median(errors):+.3g}" if has_truth else "-",
                "spread": _spread(errors), "n": int(errors.size)}


def _spread(errors: np.ndarray) -> str:
    """p5 to p95 for 10 samples or more, else min to max."""
    if errors.size >= 10:
        return f"{np.percentile(errors, 5):+.3g} to {np.percentile(errors, 95):+.3g}"
    if errors.size:
        return f"{errors.min():+.3g} to {errors.max():+.3g}"
    return "-"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def value(result: TrialResult, name: str) -> float:
    """A figure's value, NaN when it has none."""
    found = result.figure(name).value
    return float("nan") if found is None else found


def prompts(text: str) -> dict[str, Any]:
    return {"prompts": [{"text": text, "weight": 1.0}]}


class Bench:
    """A simulator, a client of it and its control API."""

    def __init__(self, client: ScopeClient, control: httpx.AsyncClient) -> None:
        self.client = client
        self.control = control

    async def setup(self, media: dict[str, Any] | None = None, fault: dict[str, Any] | None = None) -> None:
        (await self.control.post("/sim/reset")).raise_for_status()
        if media:
            (await self.control.put("/sim/media", json=media)).raise_for_status()
        if fault:
            (await self.control.post("/sim/faults", json=fault)).raise_for_status()

    async def trial(self, spec: TrialSpec) -> tuple[TrialResult, dict[str, Any]]:
        result = await run_trial(self.client, spec)
        if result.error:
            raise RuntimeError(f"{spec.pipeline_id} trial failed: {result.error}")
        sessions = (await self.control.get("/sim/sessions")).json()
        truth = (await self.control.get(f"/sim/sessions/{sessions[-1]['session_id']}/truth")).json()
        return result, truth


def one_way_ms(result: TrialResult, frames: pd.DataFrame) -> tuple[pd.Series, float]:
    """Client arrival of each sent frame, and the median arrival minus wire time (ms)."""
    arrivals = sent_frame_arrivals(result.frames, frames)
    transport = ((arrivals.astype("Float64") - frames["wire_ns"].astype("Float64")) / 1e6).dropna().astype(float)
    return arrivals, float(transport.median())


def true_rates(frames: pd.DataFrame, *, chunked: bool = False) -> tuple[float | None, float]:
    """When the simulator's steady rate began (s from its first send; None if never) and that
    rate (over the whole stream if it never held one), from its own records."""
    units = SentUnits.from_truth(frames, chunked=chunked)
    warmup_s = warmup_end_s(units)
    return warmup_s, steady_fps(units, warmup_s or 0.0) or np.nan


def add_ttff_and_fps(result: TrialResult, frames: pd.DataFrame, ttff: Row, fps: Row) -> None:
    _, transport_ms = one_way_ms(result, frames)
    offer_ns = result.timeline.offer_sent_ns or 0
    ttff.add((int(frames["wire_ns"].iloc[0]) - offer_ns) / 1e6 + transport_ms, value(result, "ttff_s") * 1e3)
    fps.add(true_rates(frames)[1], value(result, "fps_out"))


async def passthrough(bench: Bench, fps: float, seconds: float) -> list[Row]:
    """Latency with the simulator's delay cycling 0/100/250 ms in one session; ttff and fps_out."""
    name = f"passthrough {fps:g} fps"
    await bench.setup()
    await bench.client.load_pipeline("passthrough")
    changes: list[tuple[int, float]] = []

    async def cycle_delays() -> None:
        await asyncio.sleep(PHASE_S)  # connection start-up, at no added delay
        for delay_s in [*DELAYS_S * CYCLES, 0.0]:
            (await bench.control.put("/sim/media", json={"extra_delay_s": delay_s})).raise_for_status()
            changes.append((time.perf_counter_ns(), delay_s))
            await asyncio.sleep(PHASE_S)

    run, _ = await asyncio.gather(
        stream_stamped(bench.client, ["passthrough"], fps=fps, seconds=PHASE_S * (len(DELAYS_S) * CYCLES + 2)),
        cycle_delays())
    truth = pd.DataFrame((await bench.control.get(f"/sim/sessions/{run.session_id}/truth")).json()["frames"])
    truth = truth.dropna(subset=["input_stamp_id"])
    truth["delay_s"] = np.nan
    for (at_ns, delay_s), (next_ns, _) in itertools.pairwise(changes):
        truth.loc[(truth["sent_ns"] >= at_ns + SETTLE_NS) & (truth["sent_ns"] < next_ns), "delay_s"] = delay_s
    by_id = truth.dropna(subset=["delay_s"]).drop_duplicates("input_stamp_id").set_index("input_stamp_id")
    joined = run.frames.dropna(subset=["latency_ms"]).drop_duplicates("stamp_id")
    joined = joined[joined["stamp_id"].astype(float).isin(by_id.index)]
    ids = joined["stamp_id"].astype(float)
    delay_of, internal_ms = ids.map(by_id["delay_s"]), ids.map(by_id["internal_delay_ns"]) / 1e6
    latency_ms = joined["latency_ms"].astype(float)
    at_zero = delay_of == 0.0
    baseline_ms = float((latency_ms[at_zero] - internal_ms[at_zero]).median())
    rows = [Row(name, "transport baseline (latency - internal, +0 ms)", "ms", [float("nan")] * int(at_zero.sum()),
                (latency_ms[at_zero] - internal_ms[at_zero]).tolist())]
    for delay_s in DELAYS_S[1:]:
        mine = delay_of == delay_s
        rows.append(Row(name, f"latency per frame, delay +{delay_s * 1e3:g} ms", "ms",
                        (internal_ms[mine] + baseline_ms).tolist(), latency_ms[mine].tolist()))
    ttff, rate = Row(name, "ttff", "ms"), Row(name, "fps_out", "fps")
    for _ in range(SESSIONS):
        await bench.setup()
        result, truth_json = await bench.trial(TrialSpec("passthrough", fps=fps, duration_s=seconds))
        add_ttff_and_fps(result, pd.DataFrame(truth_json["frames"]), ttff, rate)
    return [*rows, ttff, rate]


async def step(bench: Bench, fps: float, seconds: float) -> list[Row]:
    """Step latency of generative video-to-video against the first output frame of the new scene."""
    name = f"streamdiffusionv2 v2v {fps:g} fps"
    row = Row(name, "step_latency", "ms")
    await bench.setup()
    result, truth = await bench.trial(TrialSpec("streamdiffusionv2", fps=fps, duration_s=seconds, step_start_s=2.0))
    frames, received = pd.DataFrame(truth["frames"]), result.frames
    baseline_ms = float(latency_minus_internal_ms(received, frames).median())
    for detection in result.step_detections:
        if detection.latency_s is None:
            continue
        after = (received["sent_ns"] >= detection.stimulus_ns).fillna(False).astype(bool)
        index = step_truth_index(frames, int(received.loc[after, "stamp_id"].min()))
        if index is None:
            continue
        made_from = received.loc[received["stamp_id"] == int(frames["input_stamp_id"].iloc[index]), "sent_ns"]
        if made_from.empty:
            continue
        true_ms = ((int(made_from.iloc[0]) - detection.stimulus_ns) / 1e6
                   + frames["internal_delay_ns"].iloc[index] / 1e6 + baseline_ms)
        row.add(true_ms, detection.latency_s * 1e3)
    return [row]


async def control(bench: Bench, pipeline: str, mode: str, changes: int) -> list[Row]:
    """Control latency of prompt changes and a final ``paused``."""
    name = f"{pipeline} {'t2v' if mode == 'text' else 'v2v 30 fps'}"
    change_row, freeze_row = Row(name, "control_latency, prompt", "ms"), Row(name, "control_latency, paused", "ms")
    controls = [ControlChange(3.5 + k * CONTROL_EVERY_S, prompts(PROMPTS[(k + 1) % 2])) for k in range(changes)]
    pause_at = 3.5 + changes * CONTROL_EVERY_S
    controls.append(ControlChange(pause_at, {"paused": True}, expect="freeze"))
    await bench.setup()
    result, truth = await bench.trial(TrialSpec(pipeline, mode=mode, source="pattern", fps=30,  # type: ignore[arg-type]
                                                duration_s=pause_at + 2, parameters=prompts(PROMPTS[0]),
                                                controls=tuple(controls)))
    frames = pd.DataFrame(truth["frames"])
    _, transport_ms = one_way_ms(result, frames)
    for detection, change in zip(result.control_detections, controls, strict=True):
        index = control_truth_index(truth, detection.stimulus_ns, change.expect)
        if detection.latency_s is None or index is None:
            continue
        true_ms = (int(frames["wire_ns"].iloc[index]) - detection.stimulus_ns) / 1e6 + transport_ms
        (freeze_row if change.expect == "freeze" else change_row).add(true_ms, detection.latency_s * 1e3)
    return [change_row, freeze_row]


async def arrivals(bench: Bench, seconds: float) -> list[Row]:
    """Warm-up (paced), and bursts and stalls (unpaced chunks, one injected stall), of longlive t2v."""
    warmup = Row("longlive t2v, paced", "warmup_s (end, from the first send)", "s")
    name = "longlive t2v, unpaced + 2 s stall"
    configured = Row(name, "warmup_s vs the configured warm-up chunks", "s")
    bursts, stalls, rate = Row(name, "burst_frames", "frames"), Row(name, "stalls", "count"), Row(name, "fps_out", "fps")
    for _ in range(REPEATS):
        await bench.setup()
        result, truth = await bench.trial(TrialSpec("longlive", mode="text", duration_s=seconds,
                                                    parameters=prompts(PROMPTS[0])))
        frames = pd.DataFrame(truth["frames"])
        true_warmup_s, _ = true_rates(frames)
        if true_warmup_s is not None:
            warmup.add(true_warmup_s, measured_warmup_end_s(result, frames))
        await bench.setup(media={"unpaced": True}, fault={"kind": "stall", "after_s": 5.0, "duration_s": 2.0})
        result, truth = await bench.trial(TrialSpec("longlive", mode="text", duration_s=seconds + 5,
                                                    parameters=prompts(PROMPTS[0])))
        frames, chunks = pd.DataFrame(truth["frames"]), pd.DataFrame(truth["chunks"])
        last_warmup = int(chunks.loc[chunks["warmup"].astype(bool), "chunk_index"].max())
        configured.add((int(frames.loc[frames["chunk_index"] == last_warmup, "sent_ns"].iloc[0])
                        - int(frames["sent_ns"].iloc[0])) / 1e9, measured_warmup_end_s(result, frames))
        bursts.add(float(chunks["frames"].median()), value(result, "burst_frames"))
        stalls.add(1.0, value(result, "stalls"))  # the one injected
        rate.add(true_rates(frames, chunked=True)[1], value(result, "fps_out"))
    return [warmup, configured, bursts, stalls, rate]


def measured_warmup_end_s(result: TrialResult, frames: pd.DataFrame) -> float:
    """The measured end of warm-up, from the simulator's first send (both on one clock)."""
    return (int(result.frames["complete_ns"].iloc[0]) - int(frames["sent_ns"].iloc[0])) / 1e9 + value(result, "warmup_s")


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (without the optional tabulate dependency)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def machine_note(load_before: float) -> str:
    """Date, machine and how busy it was (1-minute load average at the start and the end)."""
    return (f"SIMULATED (lab.sim, real-time media over loopback); {datetime.date.today().isoformat()}; "
            f"{platform.node()}: {os.cpu_count()} cores, {platform.platform(terse=True)}, Python {platform.python_version()}; "
            f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


async def main(seconds: float, changes: int) -> pd.DataFrame:
    rows: list[Row] = []
    with start_simulator(SimConfig(speed=100, models="present")) as sim:
        retry_free = httpx.AsyncClient(base_url=sim.url, timeout=30)
        async with ScopeClient(sim.url, poll_interval_s=0.02) as client, retry_free as control_api:
            bench = Bench(client, control_api)
            for fps in (15.0, 30.0):
                rows += await passthrough(bench, fps, seconds)
            for fps in (15.0, 30.0):
                rows += await step(bench, fps, 3 * seconds + 2)
            rows += await control(bench, "longlive", "text", changes)
            rows += await control(bench, "streamdiffusionv2", "video", changes)
            rows += await arrivals(bench, max(seconds, 9.0))
    return pd.DataFrame([row.as_dict() for row in rows])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="streaming per passthrough trial")
    parser.add_argument("--changes", type=int, default=6, help="prompt changes per control trial")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    table = asyncio.run(main(args.seconds, args.changes))
    print(machine_note(load_before))
    print(markdown(table) if args.markdown else table.to_string(index=False))
