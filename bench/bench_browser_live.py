"""Kernel CPU of the live panel with JupyterLab and Chromium attached: viewed vs. unviewed.

Starts a simulator (its own process), JupyterLab on loopback with notebook 05 and headless
Chromium (the same harness as tests/test_browser_live.py, :mod:`tests.jupyter_browser`),
runs the notebook, streams longlive (text, 576x320) and samples the kernel process's CPU
time for ``--seconds`` with the live view on and again with it off. Unlike
bench/bench_live_panel.py, a real browser receives and renders the widget messages. The
stream is made by the simulator: SIMULATED.

Run from the checkout: ``.venv/bin/python bench/bench_browser_live.py [--seconds 5] [--json]``
(needs Debian's ``chromium``, as the browser test does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.jupyter_browser, shared with the test
from lab.sim import SimConfig, start_simulator  # noqa: E402
from tests.jupyter_browser import JupyterLab, jupyter_lab, loopback_page, open_panel  # noqa: E402


def kernel_process(lab: JupyterLab) -> psutil.Process:
    """The notebook's kernel (a child of JupyterLab running ipykernel)."""
    (kernel,) = [p for p in psutil.Process(lab.process.pid).children(recursive=True)
                 if "ipykernel_launcher" in " ".join(p.cmdline())]
    return kernel


def cpu_percent(process: psutil.Process, seconds: float) -> float:
    """The process's CPU use over ``seconds`` (100 = one core)."""
    before, started = process.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after = process.cpu_times()
    return 100 * (after.user + after.system - before.user - before.system) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU sampling time per condition")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    with start_simulator(SimConfig(speed=100, models="present")) as sim, tempfile.TemporaryDirectory() as folder, \
            jupyter_lab(sim.url, Path(folder)) as lab, sync_playwright() as playwright, \
            loopback_page(playwright, Path(folder) / "chromium-profile") as (_, page, left):
        panel = open_panel(page, lab)
        panel.stream("longlive", "text")
        page.wait_for_timeout(4000)  # past warm-up
        kernel = kernel_process(lab)
        viewing = cpu_percent(kernel, args.seconds)
        stream_fps = panel.fps()
        panel.widget("view-toggle").locator("input").uncheck()
        not_viewing = cpu_percent(kernel, args.seconds)
    if left:
        raise RuntimeError(f"the page tried to leave loopback: {left}")
    row = {"kernel_cpu_percent_viewing": round(viewing, 1), "kernel_cpu_percent_not_viewing": round(not_viewing, 1),
           "panel_overhead_cpu_percent": round(viewing - not_viewing, 1), "stream_fps": stream_fps,
           "pipeline": "longlive (text, 576x320)", "source": "SIMULATED", "cores": os.cpu_count(),
           "seconds": args.seconds}
    if args.json:
        print(json.dumps(row, indent=2))
        return
    print(f"kernel CPU with JupyterLab and Chromium, {args.seconds:g} s per condition, {os.cpu_count()} cores "
          f"(100 % = one core) [SIMULATED stream]")
    print(f"longlive (text) at {stream_fps:.1f} fps: view on {viewing:.1f} %, view off {not_viewing:.1f} %, "
          f"overhead {viewing - not_viewing:.1f} %")


if __name__ == "__main__":
    main()
