"""Accuracy of each output path's figures against the simulator's ground truth (SIMULATED).

longlive text-to-video, one prompt change 3.5 s into each trial, read over WebRTC, the
headless session's ``output.ts`` and ``/session/frame`` polling (30 Hz), ``--repeats``
trials each, in turn. Truth, recorded by the simulator in the same run:

- WebRTC and ``output.ts``: a frame on the wire / written to the TS clients (``wire_ns``)
  plus the session's median one-way transport; ``ttff_s`` from the first frame received,
  control latency from the first frame of the chunk that applied the update;
- polling: when the frame could first be served (``sent_ns``); the error is then the
  poll's own lag (up to one poll interval plus a round trip);
- ``fps_out``: the steady rate in the same truth times.

Columns: median of the measured values, median error (measured - truth) and its min-max,
n trials. Run: ``.venv/bin/python bench/bench_headless_accuracy.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.truth, shared with the headless accuracy tests
from lab.client import ScopeClient  # noqa: E402
from lab.measure.result import TrialResult  # noqa: E402
from lab.measure.run import run_trial  # noqa: E402
from lab.measure.spec import ControlChange, TrialSpec  # noqa: E402
from lab.sim import SimConfig, start_simulator  # noqa: E402
from tests.truth.accuracy import control_truth_index, sent_frame_arrivals  # noqa: E402
from tests.truth.sent_rates import SentUnits, steady_fps, warmup_end_s  # noqa: E402

VIAS = ("webrtc", "headless-ts", "headless-frame")


def _prompt(text: str) -> dict[str, Any]:
    return {"prompts": [{"text": text, "weight": 1.0}]}


def _rate(frames: pd.DataFrame, column: str) -> float:
    units = SentUnits.from_truth(frames.assign(sent_ns=frames[column]), chunked=False)
    return float(steady_fps(units, warmup_end_s(units) or 0.0) or np.nan)


def _errors(result: TrialResult, truth: dict[str, Any]) -> dict[str, float]:
    """Measured and measured-minus-truth of ttff (ms), fps and control latency (ms)."""
    frames = pd.DataFrame(truth["frames"])
    offer_ns = result.timeline.offer_sent_ns or 0
    figures = {f.name: f.value for f in result.figures}
    detection = result.control_detections[0]
    index = control_truth_index(truth, detection.stimulus_ns, source="channel" if result.via == "webrtc" else "rest")
    if result.via == "headless-frame":
        first, true_fps, column, lag_ms = 0, _rate(frames, "sent_ns"), "sent_ns", 0.0
    else:
        arrivals = sent_frame_arrivals(result.frames, frames)
        lag_ms = float(((arrivals.astype("Float64") - frames["wire_ns"].astype("Float64")) / 1e6).dropna().median())
        first, column = int(np.argmax(arrivals.notna().to_numpy())), "wire_ns"
        true_fps = _rate(frames.dropna(subset=["wire_ns"]), "wire_ns")
    ttff_ms, control_ms = (figures["ttff_s"] or np.nan) * 1e3, (detection.latency_s or np.nan) * 1e3
    true_control = np.nan if index is None else (frames[column].iloc[index] - detection.stimulus_ns) / 1e6 + lag_ms
    return {"ttff_ms": ttff_ms, "ttff_ms error": ttff_ms - ((frames[column].iloc[first] - offer_ns) / 1e6 + lag_ms),
            "fps_out": figures["fps_out"] or np.nan, "fps_out error %": 100 * ((figures["fps_out"] or np.nan) / true_fps - 1),
            "control_ms": control_ms, "control_ms error": control_ms - true_control}


async def _run(url: str, repeats: int) -> pd.DataFrame:
    httpx.put(f"{url}/sim/models", json={"longlive": True}).raise_for_status()
    rows = []
    async with ScopeClient(url, poll_interval_s=0.01) as client:
        for _ in range(repeats):
            for via in VIAS:
                spec = TrialSpec("longlive", mode="text", duration_s=8, via=via, poll_hz=30,
                                 parameters=_prompt("a lighthouse at dusk"),
                                 controls=(ControlChange(3.5, _prompt("a red fox in snow")),))
                result = await run_trial(client, spec)
                session = "headless" if via != "webrtc" else httpx.get(f"{url}/sim/sessions").json()[-1]["session_id"]
                truth = httpx.get(f"{url}/sim/sessions/{session}/truth").json()
                rows.append({"via": via, **_errors(result, truth)})
    return pd.DataFrame(rows)


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for via, group in rows.groupby("via", sort=False):
        for figure in ("ttff_ms", "fps_out", "control_ms"):
            error = group[next(c for c in group if c.startswith(f"{figure} error"))]
            label = "fps_out (error in %)" if figure == "fps_out" else figure
            out.append({"path": via, "figure": label, "measured": group[figure].median(), "error": error.median(),
                        "error range": f"{error.min():+.2f} to {error.max():+.2f}", "n": len(group)})
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with start_simulator(SimConfig(speed=100)) as simulator:
        rows = asyncio.run(_run(simulator.url, args.repeats))
    print("SIMULATED (lab.sim, real-time media over loopback)")
    print(_table(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
