"""Kernel CPU of the live panel: a stream viewed at its own rate vs. the same stream unviewed.

Starts a real IPython kernel (jupyter_client), opens a :class:`lab.live.LivePanel` in it
against a simulator in its own process, loads a pipeline and streams. Then it samples the
kernel process's CPU time for ``--seconds`` with the live view on and again with it off
(the *live view* checkbox). Both include receiving and decoding the stream and the rolling
figures; the difference is the view: JPEG encoding in a worker thread and the widget
messages on the kernel's iopub channel, which this script reads as a frontend would (no
browser renders them, so the browser's own cost is not counted; bench/bench_browser_live.py
measures the same with JupyterLab and Chromium attached). The stream is made by the simulator: SIMULATED.

Run: ``.venv/bin/python bench/bench_live_panel.py [--seconds 10] [--input-fps 30]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from queue import Empty
from typing import Any

import jupyter_client
import psutil
from jupyter_client.blocking.client import BlockingKernelClient

from lab.sim import SimConfig, start_simulator

CASES = [("passthrough", "video"), ("longlive", "text")]


def run_cell(client: BlockingKernelClient, code: str) -> str:
    """Run code in the kernel; return what it printed, raise with the traceback on error."""
    printed: list[str] = []

    def keep(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            raise RuntimeError("\n".join(content["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=keep)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content']}")
    return "".join(printed)


def cpu_percent(process: psutil.Process, seconds: float, client: BlockingKernelClient) -> float:
    """The kernel's CPU use over ``seconds`` (100 = one core), reading and dropping its
    iopub messages meanwhile, as a frontend would (so the kernel's messages flow)."""
    before, started = process.cpu_times(), time.monotonic()
    while (left := started + seconds - time.monotonic()) > 0:
        with contextlib.suppress(Empty):
            client.get_iopub_msg(timeout=min(left, 0.2))
    after = process.cpu_times()
    return 100 * (after.user + after.system - before.user - before.system) / (time.monotonic() - started)


def measure(client: BlockingKernelClient, kernel: psutil.Process, pipeline: str, mode: str,
            seconds: float) -> dict[str, float]:
    run_cell(client, f"panel.pipeline.value = {pipeline!r}; panel.mode.value = {mode!r}; panel.load_button.click()\n"
                     "while not panel.controller.streaming: await asyncio.sleep(0.1)\n"
                     "await asyncio.sleep(4)  # past warm-up")
    row: dict[str, float] = {}
    for view in (True, False):
        run_cell(client, f"panel.view_toggle.value = {view}; shown = panel.view.shown; "
                         "frames = panel.controller.stats.frames")
        cpu = cpu_percent(kernel, seconds, client)
        counts = run_cell(client, "print(panel.view.shown - shown, panel.controller.stats.frames - frames)")
        shown, received = (int(n) for n in counts.split())
        key = "on" if view else "off"
        row[f"cpu_{key}"], row[f"shown_fps_{key}"], row["stream_fps"] = cpu, shown / seconds, received / seconds
    row["overhead_ms_per_shown_frame"] = 10 * (row["cpu_on"] - row["cpu_off"]) / max(row["shown_fps_on"], 1e-9)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU sampling time per condition")
    parser.add_argument("--input-fps", type=float, default=30.0, help="input frame rate (video mode)")
    args = parser.parse_args()
    with start_simulator(SimConfig(speed=100, models="present")) as sim, tempfile.TemporaryDirectory() as results:
        manager, client = jupyter_client.manager.start_new_kernel(kernel_name="python3")
        try:
            pid = int(run_cell(client, "import os, asyncio; print(os.getpid())"))
            run_cell(client, "from lab.live import LivePanel\n"
                             f"panel = await LivePanel.open({sim.url!r}, results_dir={results!r}, "
                             f"input_fps={args.input_fps})")
            kernel = psutil.Process(pid)
            print(f"kernel CPU, {args.seconds:g} s per condition, {os.cpu_count()} cores "
                  f"(100 % = one core) [SIMULATED stream]")
            print(f"{'pipeline':<22} {'stream fps':>10} {'view on':>9} {'view off':>9} {'overhead':>9} "
                  f"{'shown fps':>9} {'ms/shown frame':>15}")
            for pipeline, mode in CASES:
                row = measure(client, kernel, pipeline, mode, args.seconds)
                print(f"{pipeline + ' (' + mode + ')':<22} {row['stream_fps']:>10.1f} {row['cpu_on']:>8.1f}% "
                      f"{row['cpu_off']:>8.1f}% {row['cpu_on'] - row['cpu_off']:>8.1f}% {row['shown_fps_on']:>9.1f} "
                      f"{row['overhead_ms_per_shown_frame']:>15.2f}")
            run_cell(client, "await panel.close()")
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
