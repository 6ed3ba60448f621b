"""Write a thin notebook from a list of cells (markdown strings and code strings).

Notebooks are generated from these scripts so that their source stays reviewable in
diffs; run ``python tools/make_notebook.py`` after changing a definition.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """``cells`` are ``(kind, source)`` with kind "md", "code" or "parameters"."""
    notebook = new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for kind, source in cells:
        if kind == "md":
            notebook.cells.append(new_markdown_cell(source.strip()))
        else:
            cell = new_code_cell(source.strip())
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            notebook.cells.append(cell)
    return notebook


QUICKSTART = [
    ("md", """
# 00 · Quick start

What a Scope server offers, read from the server itself, and how long a pipeline takes
to load. The default target is the built-in simulator (results are **SIMULATED**); set
`target` to a pod id or URL for a real server.
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
pipeline: str = "passthrough"  # pipeline to load and time
download_missing: bool = True  # download the pipeline's models first if the server lacks them
stream_s: float = 3.0  # seconds to stream through the pipeline
"""),
    ("code", """
from lab import ScopeClient
from lab.overview import server_overview

client = ScopeClient(target)
overview = await server_overview(client)
print(f"{overview.url}: Scope {overview.health.version}, "
      f"{overview.hardware.vram_gb or 'no'} GB VRAM [{overview.source_label}]")
overview.pipelines_table()
"""),
    ("code", """
result = await client.load_pipeline(pipeline, download_missing=download_missing)
print(f"{result.pipeline_id} loaded in {result.load_s:.2f} s "
      f"(±{result.poll_interval_s:g} s) [{overview.source_label}]")
[(s.stage, round(s.first_seen_s, 2)) for s in result.stages]
"""),
    ("md", """
## Stream for a few seconds

A WebRTC session through the loaded pipeline (`passthrough` returns the input, so the
stamped ids in the input come back and give exact per-frame latency).
"""),
    ("code", """
import asyncio
from lab.rtc import open_session
from lab.sources import StampedSource

source = StampedSource(512, 512, fps=15)
async with open_session(client, [pipeline], source=source) as session:
    await asyncio.sleep(stream_s)
    frames = session.log.to_dataframe()
    timeline = session.timeline
source.stop()
span_s = (frames["complete_ns"].iloc[-1] - frames["complete_ns"].iloc[0]) / 1e9
print(f"{len(frames)} frames, {(len(frames) - 1) / span_s:.1f} fps, first frame {timeline.ttff_s * 1e3:.0f} ms "
      f"after the offer (connected in {timeline.connect_s * 1e3:.0f} ms) [{overview.source_label}]")
"""),
    ("code", """
await client.aclose()
"""),
]

WARMUP_LATENCY = [
    ("md", """
# 04 · Warm-up and latency

Runs `repeats` trials of one pipeline and shows what the research log's *Performance
Observations* need: load time, time to first frame (split into signalling, connection and
first frame), warm-up, steady output fps, frame intervals, and latency: exact per frame
for frame-preserving pipelines (stamped input), a step test for generative
video-to-video. Definitions: README, "Measurement definitions". Simulator results are
labelled **SIMULATED**.
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
pipeline: str = "passthrough"  # pipeline id to measure
mode: str = "video"  # "video" (v2v, with an input source) or "text" (t2v)
duration_s: float = 6.0  # seconds of streaming per trial, after the first frame
repeats: int = 2  # trials; figures across trials are the honest unit
fps: float = 15.0  # input frame rate (v2v)
"""),
    ("code", """
from lab import ScopeClient
from lab.measure.repeats import repeats_table
from lab.measure.trial import TrialSpec, run_trial
from lab.report.trial_plots import trial_dashboard

client = ScopeClient(target)
spec = TrialSpec(pipeline, mode=mode, duration_s=duration_s, fps=fps, download_missing=True)
results = [await run_trial(client, spec) for _ in range(repeats)]
[r.error for r in results]
"""),
    ("md", "## Figures across trials"),
    ("code", """
repeats_table(results)
"""),
    ("md", "## First trial in detail"),
    ("code", """
results[0].summary()[["name", "value", "unit", "n", "ci_low", "ci_high", "note", "warnings"]]
"""),
    ("code", """
trial_dashboard(results);
"""),
    ("code", """
await client.aclose()
"""),
]

DEPLOY_CHECK = [
    ("md", """
# 01 · Deploy check

Is the pod healthy and ready? Each row is one check with the measured value and, when it
does not pass, what was seen, the likely cause and the fix (the research log's
troubleshooting table and more). The WebRTC row loads `passthrough` on the server.
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
deep: bool = False  # also load the smallest generative pipeline that fits, and time it
"""),
    ("code", """
from lab.doctor import run_doctor

report = await run_doctor(target, deep=deep)
report.styled()
"""),
    ("code", """
{"exit_code": report.exit_code, "verdict": {0: "ready", 1: "usable, with warnings", 2: "not ready"}[report.exit_code]}
"""),
]

NOTEBOOKS = {"00-quickstart.ipynb": QUICKSTART, "01-deploy-check.ipynb": DEPLOY_CHECK, "04-warmup-latency.ipynb": WARMUP_LATENCY}


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), ROOT / "notebooks" / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
