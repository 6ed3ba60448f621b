"""Loopback capacity of this machine: how fast can the workbench stream through the simulator?

Client (this process) and simulator (a child process) talk WebRTC over 127.0.0.1 with the
``passthrough`` pipeline. For each resolution and input frame rate, a stamped source runs
for ``--seconds`` and we record what came back:

- received fps and lost frames (from the stamp ids): a rate is *sustained* when no frame
  is lost and the received rate is within 3 % of the sent rate;
- CPU per frame in the client and in the simulator (process CPU time / frames);
- connection setup (answer to connected) and time to first frame;
- stamped latency p50 (loopback transport + the simulator's passthrough chunking).

The highest sustained rate bounds what the workbench can measure on this machine; Scope on
an RTX 5090 delivers roughly 8-25 fps, so it must comfortably exceed that.

Run: ``.venv/bin/python bench/bench_loopback.py [--seconds 5] [--rates 15,30,60,90]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.stamped_stream, shared with the accuracy tests
from lab.client import ScopeClient  # noqa: E402
from lab.measure.latency import stamp_accounting  # noqa: E402
from lab.sim import SimConfig, start_simulator  # noqa: E402
from tests.stamped_stream import stream_stamped  # noqa: E402

RESOLUTIONS = [(512, 512), (576, 320)]


async def one_run(client: ScopeClient, sim_process: psutil.Process, width: int, height: int,
                  fps: float, seconds: float) -> dict[str, object]:
    cpu_client, cpu_sim = time.process_time(), sum(sim_process.cpu_times()[:2])
    run = await stream_stamped(client, ["passthrough"], width=width, height=height, fps=fps, seconds=seconds)
    cpu_client = time.process_time() - cpu_client
    cpu_sim = sum(sim_process.cpu_times()[:2]) - cpu_sim
    frames, timeline = run.frames, run.timeline
    accounting = stamp_accounting(frames["stamp_id"])
    span = (frames["complete_ns"].iloc[-1] - frames["complete_ns"].iloc[0]) / 1e9 if len(frames) > 1 else 0
    received_fps = (len(frames) - 1) / span if span else 0.0
    sustained = accounting.unseen == 0 and received_fps >= 0.97 * fps
    return {
        "resolution": f"{width}x{height}", "sent_fps": fps, "received_fps": round(received_fps, 1),
        "frames": len(frames), "lost": accounting.unseen, "unreadable": accounting.unreadable,
        "sustained": sustained,
        "client_cpu_ms_per_frame": round(1e3 * cpu_client / max(len(frames), 1), 2),
        "sim_cpu_ms_per_frame": round(1e3 * cpu_sim / max(len(frames), 1), 2),
        "connect_ms": round(1e3 * (timeline.connect_s or float("nan")), 1),
        "ttff_ms": round(1e3 * (timeline.ttff_s or float("nan")), 1),
        "latency_p50_ms": round(float(frames["latency_ms"].dropna().median()), 1),
        "receive_bias_p50_ms": round(float(frames["receive_bias_ms"].median()), 1),
    }


async def main(seconds: float, rates: list[float]) -> pd.DataFrame:
    rows = []
    with start_simulator(SimConfig(models="present")) as sim:
        process = psutil.Process(sim.process.pid)
        async with ScopeClient(sim.url) as client:
            await client.load_pipeline("passthrough")
            for width, height in RESOLUTIONS:
                for fps in rates:
                    row = await one_run(client, process, width, height, fps, seconds)
                    print(row, file=sys.stderr, flush=True)
                    rows.append(row)
                    if not row["sustained"]:
                        break
    return pd.DataFrame(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="15,30,60,90,120")
    args = parser.parse_args()
    table = asyncio.run(main(args.seconds, [float(r) for r in args.rates.split(",")]))
    print(table.to_string(index=False))
