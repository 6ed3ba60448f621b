"""Accuracy of stamped latency against the simulator's ground truth, across rates and delays.

For passthrough at several input frame rates and added simulator delays, prints the
client-measured latency p50, the simulator's internal delay p50, and the difference
(the loopback transport: its bias) with its spread (p5-p95). An accurate instrument shows
a transport that does not move with the added delay.

Run: ``.venv/bin/python bench/bench_accuracy.py [--seconds 6]``
"""

from __future__ import annotations

import argparse
import asyncio

import httpx
import numpy as np
import pandas as pd

from lab.client import ScopeClient
from lab.measure.accuracy import latency_minus_internal_ms
from lab.measure.stamped import run_stamped
from lab.sim import SimConfig, start_simulator


async def one(client: ScopeClient, control: httpx.AsyncClient, fps: float, delay_s: float, seconds: float) -> dict[str, object]:
    await control.put("/sim/media", json={"extra_delay_s": delay_s})
    run = await run_stamped(client, ["passthrough"], fps=fps, seconds=seconds)
    joined = run.frames
    truth = pd.DataFrame((await control.get(f"/sim/sessions/{run.session_id}/truth")).json()["frames"])
    transport = latency_minus_internal_ms(joined, truth).to_numpy()
    return {"fps": fps, "added_delay_ms": delay_s * 1e3,
            "measured_p50_ms": round(float(joined["latency_ms"].dropna().median()), 1),
            "internal_p50_ms": round(float(truth["internal_delay_ns"].dropna().median()) / 1e6, 1),
            "transport_p50_ms": round(float(np.median(transport)), 2),
            "transport_p5_ms": round(float(np.percentile(transport, 5)), 2),
            "transport_p95_ms": round(float(np.percentile(transport, 95)), 2),
            "frames": int(transport.size)}


async def main(seconds: float) -> pd.DataFrame:
    rows = []
    with start_simulator(SimConfig(models="present")) as sim:
        async with ScopeClient(sim.url) as client, httpx.AsyncClient(base_url=sim.url) as control:
            await client.load_pipeline("passthrough")
            for fps in (15.0, 30.0):
                for delay_s in (0.0, 0.1, 0.25):
                    rows.append(await one(client, control, fps, delay_s, seconds))
    return pd.DataFrame(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    print(asyncio.run(main(parser.parse_args().seconds)).to_string(index=False))
