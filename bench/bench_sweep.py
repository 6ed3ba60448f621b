"""Sweep efficiency: where a sweep's wall time goes, and loads versus a load-per-trial plan.

Runs the shipped ``pipelines`` spec (or another) against a fresh simulator and prints,
per target: wall time split into loading, measuring (the trials' measured spans), and the
rest (connecting, first frame, warm-up, settling between segments), plus the loads the
plan performed against the naive plan's. A second run of a runtime grid shows what
segments within one session save. Simulated: load times are the profile's divided by the
simulator speed; streaming is real time.

Run: ``.venv/bin/python bench/bench_sweep.py [--speed 10] [--duration 4] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from lab.sim import SimConfig, start_simulator
from lab.sweep import load_spec, run_sweep
from lab.sweep.spec import SweepSpec


async def measure(spec: SweepSpec, url: str, out: str) -> None:
    outcome = await run_sweep(spec, targets=[url], out_dir=out, progress=False)
    plan = outcome.plan
    timing = outcome.timing[url]
    wall = timing.wall_s
    print(f"\n{spec.name}: {len(plan.trials)} trials, {plan.loads} loads (naive plan: {plan.naive_loads}, "
          f"{plan.naive_loads / plan.loads:.1f}x more), {sum(len(g.sessions) for g in plan.groups)} sessions")
    for label, seconds in (("measuring", timing.measure_s), ("loading", timing.load_s),
                           ("connecting, warming up, settling", timing.other_s)):
        print(f"  {label:<34} {seconds:7.1f} s  {seconds / wall:6.1%}")
    print(f"  {'wall':<34} {wall:7.1f} s  [SIMULATED]")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="pipelines")
    parser.add_argument("--speed", type=float, default=10.0, help="simulator speed for loads")
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with start_simulator(SimConfig(speed=args.speed, models="present")) as sim, tempfile.TemporaryDirectory() as out:
        await measure(load_spec(args.spec, {"duration_s": args.duration, "repeats": args.repeats}), sim.url, out)
        grid = load_spec({"name": "runtime-grid", "pipelines": ["longlive"], "duration_s": args.duration,
                          "repeats": 1, "settle_timeout_s": 8.0,
                          "runtime": {"prompts": [[{"text": t, "weight": 1.0}] for t in
                                                  ("a red fox", "a city at night", "an ocean wave", "a forest")]}})
        await measure(grid, sim.url, out)


if __name__ == "__main__":
    asyncio.run(main())
