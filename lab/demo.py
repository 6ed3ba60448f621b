"""``lab demo``: the main job, end to end, against a simulator on loopback.

1. start one simulator (``lab sim``) for every step, so all runs come from one server;
2. the deploy check;
3. notebooks 02 (every pipeline) and 03 (VACE) through papermill, as one would run them
   against a pod, each leaving a run folder in ``results/``;
4. the research log: the shipped template copied to ``results/research-log.md`` once,
   then its managed tables and answers filled from the two runs; an HTML report.

It prints where everything is. Everything it measures is SIMULATED.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lab.sim import SimConfig, start_simulator

__all__ = ["add_arguments", "run"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Sized for a few minutes on 2 cores with 3 trials per condition (a CI needs 3): the
# pipelines of the research log plus passthrough, and VACE on longlive.
DEMO_SWEEPS = {
    "02-pipeline-sweep.ipynb": {"repeats": 3, "pipelines": ["streamdiffusionv2", "longlive", "krea-realtime-video",
                                                            "reward-forcing", "memflow", "passthrough"]},
    "03-vace-sweep.ipynb": {"repeats": 3, "pipelines": ["longlive"], "ref_counts": [0, 1, 2, 4],
                            "context_scales": [1.0]},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="results", help="folder for run folders, notebooks, log and report")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="simulator speed for loads and downloads (streaming is always real time)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per trial")


def run(args: argparse.Namespace) -> int:
    import papermill

    from lab.cli import main as lab_main
    from lab.logbook import ensure_log

    out = Path(args.out).resolve()
    executed = out / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with start_simulator(SimConfig(speed=args.speed, models="present")) as sim:
        print(f"simulator on {sim.url} (loads {args.speed:g}x faster than real time) [SIMULATED]\n", flush=True)
        lab_main(["doctor", sim.url])
        for name, parameters in DEMO_SWEEPS.items():
            print(f"\n== {name} (papermill) ==", flush=True)
            papermill.execute_notebook(NOTEBOOKS / name, executed / name, cwd=str(NOTEBOOKS), kernel_name="python3",
                                       parameters={**parameters, "target": sim.url, "out_dir": str(out),
                                                   "duration_s": args.duration}, progress_bar=False)
    log = ensure_log(out / "research-log.md")
    print("\n== research log and report ==", flush=True)
    code = lab_main(["report", "--out", str(out), "--log", str(log), "--html", str(out / "report.html")])
    print(f"\nDone in {time.perf_counter() - started:.0f} s. Everything above is SIMULATED. Open:")
    print(f"  the research log, its TBDs filled:            {log}")
    print(f"  the report (tables, plots, manifest summary): {out / 'report.html'}")
    print(f"  the executed sweep notebooks:                 {executed}/")
    print("  .venv/bin/jupyter lab notebooks/   (add --allow-root as root) for 04 (warm-up, latency), "
          "05 (live panel), 06 (research log)")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
