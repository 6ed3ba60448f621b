"""Write a thin notebook from a list of cells (markdown strings and code strings).

Notebooks are generated from these scripts so that their source stays reviewable in
diffs; run ``python tools/make_notebook.py`` after changing a definition (``--out DIR``
writes elsewhere). ``tests/test_notebooks_sync.py`` fails while notebooks/ differs from this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def build(cells: list[tuple[str, ...]]) -> nbformat.NotebookNode:
    """``cells`` are ``(kind, source)`` with kind "md", "code" or "parameters", or
    ``("checked", source, expected_stdout)``: a code cell whose printed output nbval checks."""
    notebook = new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for kind, source, *expected in cells:
        if kind == "md":
            notebook.cells.append(new_markdown_cell(source.strip()))
        else:
            cell = new_code_cell(source.strip())
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            if kind == "checked":
                cell.outputs = [new_output("stream", name="stdout", text=expected[0].strip() + "\n")]
                cell.execution_count = 1  # nbval compares only cells marked as run
            notebook.cells.append(cell)
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"  # by position, so regenerating does not rewrite every id
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
from lab import connect
from lab.overview import server_overview

client = connect(target)
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
from lab import connect
from lab.measure.repeats import repeats_table, trial_table
from lab.measure.run import run_trial
from lab.measure.spec import TrialSpec
from lab.report.trial_plots import trial_dashboard

client = connect(target)
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
trial_table(results[0])
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
cold_start_pipeline: str = ""  # e.g. "longlive": time the pod's cold start (it STOPS and restarts the pod)
cold_start_trial_s: float = 10.0  # seconds streamed after the load, for the warm-up detector
results_dir: str = "../results"  # where the cold start's run folder goes
"""),
    ("code", """
from lab.doctor import run_doctor

report = await run_doctor(target, deep=deep)
report.styled()
"""),
    ("code", """
{"exit_code": report.exit_code, "verdict": {0: "ready", 1: "usable, with warnings", 2: "not ready"}[report.exit_code]}
"""),
    ("md", """
**Cold start** (opt-in: set `cold_start_pipeline`): the pod is stopped, started, and timed stage by stage from the
start request: container up, RunPod's proxy past its "starting" page, `/health`, models (downloaded if missing),
pipeline loaded, first frame, steady output (the trials' warm-up detector). `lab pod warmup POD` does the same.
"""),
    ("code", """
from lab.pods.warmup import cold_start

cold = None
if cold_start_pipeline:
    cold = await cold_start(target, cold_start_pipeline, trial_s=cold_start_trial_s, out_dir=results_dir)
cold.table() if cold else "not timed: set cold_start_pipeline (it stops and restarts the pod)"
"""),
]

LIVE_EXPLORE = [
    ("md", """
# 05 · Live exploration

A control panel and live view: pick a pipeline (VACE support, VRAM estimate, whether it
fits this pod), load it, and steer it while it streams: prompts with weights and
transitions, the runtime controls its schema offers, VACE reference images, and the input
(test pattern, shipped clip, your clip, or your webcam). Figures (fps, frame interval,
latency where measurable) update live; Snapshot and Record save into
`results/live/<run-id>/`. Results from the simulator are labelled **SIMULATED**.

- The webcam needs a secure context: open JupyterLab as `http://localhost:...` or https.
  For a remote server, tunnel it: `ssh -L 8888:localhost:8888 HOST`, then open
  `http://localhost:8888`. As root, start JupyterLab with `--allow-root`.
- Everything runs between cells on the kernel's event loop: the panel keeps streaming while
  you use other cells. Running the panel cell again closes the previous panel and its
  session; so does `await panel.close()`.
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
results_dir: str = "../results/live"  # where snapshots and recordings go (one folder per panel)
input_fps: float = 15.0  # frame rate of the input sent in video mode
"""),
    ("code", """
from lab.live import LivePanel

panel = await LivePanel.open(target, results_dir=results_dir, input_fps=input_fps)
panel
"""),
    ("md", """
The panel's logic is `panel.controller` (`lab.live.LiveController`), usable from code
too, e.g. `await panel.controller.load("longlive", "text")` or
`panel.controller.stats.figures()`.
"""),
]

def _sweep_run_cells(plot: str) -> list[tuple[str, str]]:
    """The cells the sweep notebooks share: run (or resume), the result table, a plot."""
    return [
        ("code", """
outcome = await run_sweep(sweep, targets=[target], out_dir=out_dir, resume=run_id)
print(f"run {outcome.run_id}: {outcome.rows_written} trials recorded in {outcome.root}")
"""),
        ("code", """
sweep_table(load_runs(out_dir, [outcome.run_id]).trials)
"""),
        ("code", f"""
{plot}(ServerRuns.load([outcome.run_id], out_dir));
"""),
    ]


PIPELINE_SWEEP = [
    ("md", """
# 02 · Pipeline sweep

Every pipeline the server lists, at its default settings: load time, time to first frame,
warm-up, steady fps, frame intervals and latency. The plan loads each pipeline once; each
repeat is a new session. Rows are written as each trial ends, so an interrupted run loses
at most one trial: set `run_id` to its id to resume it. Simulator results are **SIMULATED**.

Against a real pod (the shipped `pipelines` spec sizes it at about 15 min on a 32 GB GPU):

    papermill notebooks/02-pipeline-sweep.ipynb out.ipynb -p target <pod-id> -p duration_s 20 -p repeats 3
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
spec: str = "pipelines"  # a shipped spec name (lab/data/sweeps/) or a YAML path
duration_s = 3.0  # seconds measured per trial; None keeps the spec's (20 s)
repeats = 1  # sessions per pipeline; None keeps the spec's (3)
pipelines = None  # a list of pipeline ids; None: every pipeline the server lists
run_id = None  # a run id to resume instead of starting a new run
out_dir: str = "../results"  # where run folders go
"""),
    ("code", """
from lab.logbook.server_runs import ServerRuns
from lab.report.plots import plot_fps
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep, sweep_table

sweep = load_spec(spec, {"duration_s": duration_s, "repeats": repeats, "pipelines": pipelines})
"""),
    ("checked", """
# NBVAL_CHECK_OUTPUT  (the plan is deterministic for a given server)
plan = (await run_sweep(sweep, targets=[target], dry_run=True, progress=False)).plan
print(plan.describe())
""", """
sweep 'pipelines': 12 trials in 12 loads (a load per trial would be 12), 12 sessions, 0 skipped
  sim: about 9.9 min of pod time, about $0.15 at $0.89/h (pod scopesim01, SIMULATED)
  load streamdiffusionv2 {} (video): 1 session(s) x 1 segment(s)
  load longlive {} (video): 1 session(s) x 1 segment(s)
  load krea-realtime-video {} (video): 1 session(s) x 1 segment(s)
  load reward-forcing {} (video): 1 session(s) x 1 segment(s)
  load memflow {} (video): 1 session(s) x 1 segment(s)
  load passthrough {} (video): 1 session(s) x 1 segment(s)
  load video-depth-anything {} (video): 1 session(s) x 1 segment(s)
  load controller-viz {} (text): 1 session(s) x 1 segment(s)
  load rife {} (video): 1 session(s) x 1 segment(s)
  load scribble {} (video): 1 session(s) x 1 segment(s)
  load gray {} (video): 1 session(s) x 1 segment(s)
  load optical-flow {} (video): 1 session(s) x 1 segment(s)
"""),
    *_sweep_run_cells("plot_fps"),
]

VACE_SWEEP = [
    ("md", """
# 03 · VACE sweep

What VACE costs on each pipeline whose schema supports it: loaded off versus on, then 0,
1, 2 and 4 reference images (`lab/data/ref/`, uploaded once) at chosen context scales. Runtime
settings change over the data channel within one session per load; each waits until the
output visibly responds before it is measured. Simulator results are **SIMULATED**.

Against a real pod, every VACE pipeline and the spec's full grid:

    papermill notebooks/03-vace-sweep.ipynb out.ipynb -p target <pod-id> -p pipelines None -p context_scales None -p duration_s 15 -p repeats 2
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
spec: str = "vace"  # a shipped spec name (lab/data/sweeps/) or a YAML path
duration_s = 3.0  # seconds measured per setting; None keeps the spec's (15 s)
repeats = 1  # sessions per load; None keeps the spec's (2)
pipelines = ["longlive", "streamdiffusionv2"]  # None: every VACE pipeline the server lists
ref_counts = [0, 1, 2, 4]  # reference images per setting; None keeps the spec's
context_scales = [1.0]  # VACE context scales; None keeps the spec's (0.5, 1.0, 1.5)
run_id = None  # a run id to resume instead of starting a new run
out_dir: str = "../results"  # where run folders go
"""),
    ("code", """
from lab.logbook.server_runs import ServerRuns
from lab.report.plots import plot_vace_overhead
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep, sweep_table

runtime = load_spec(spec).runtime | {k: v for k, v in {"vace_ref_images": ref_counts,
                                                       "vace_context_scale": context_scales}.items() if v}
sweep = load_spec(spec, {"duration_s": duration_s, "repeats": repeats, "pipelines": pipelines, "runtime": runtime})
"""),
    ("checked", """
# NBVAL_CHECK_OUTPUT  (the plan is deterministic for a given server)
plan = (await run_sweep(sweep, targets=[target], dry_run=True, progress=False)).plan
print(plan.describe())
""", """
sweep 'vace': 10 trials in 4 loads (a load per trial would be 10), 4 sessions, 0 skipped
  sim: about 5.0 min of pod time, about $0.07 at $0.89/h (pod scopesim01, SIMULATED)
  load streamdiffusionv2 {"vace_enabled": false} (video): 1 session(s) x 1 segment(s)
  load longlive {"vace_enabled": false} (video): 1 session(s) x 1 segment(s)
  load streamdiffusionv2 {"vace_enabled": true} (video): 1 session(s) x 4 segment(s)
  load longlive {"vace_enabled": true} (video): 1 session(s) x 4 segment(s)
"""),
    *_sweep_run_cells("plot_vace_overhead"),
]

AVATAR_QUALITY = [
    ("md", """
# 07 · Avatar quality: does VACE keep the character?

On each pipeline whose schema supports VACE: VACE off (the baseline), then on with your
reference images at chosen context scales. The references are sent once per setting, so the
output's similarity to them over the trial shows how long the character holds (its slope is
the identity drift). Every trial is scored after its session (flicker, detail, similarity;
`lab quality RUN --model ...` re-scores a run with another embedding model, e.g. CLIP).
Simulator results are **SIMULATED**.

The best condition is the one with the highest reference similarity, or, of those whose
95 % CI overlaps it, the one that drifts least. Against a real pod, with your own images:

    papermill notebooks/07-avatar-quality.ipynb out.ipynb -p target <pod-id> -p references /path/to/avatar/ \\
        -p pipelines None -p context_scales None -p duration_s 20 -p repeats 3
"""),
    ("parameters", """
target: str = "sim"  # URL, RunPod pod id, or "sim" for the built-in simulator
spec: str = "avatar"  # a shipped spec name (lab/data/sweeps/) or a YAML path
references = None  # a folder of your reference images, or a list of image files; None: the shipped drawn set
duration_s = 4.0  # seconds measured per setting; None keeps the spec's (20 s)
repeats = 1  # sessions per load; None keeps the spec's (3)
pipelines = ["streamdiffusionv2"]  # None: every VACE pipeline the server lists
context_scales = [1.0]  # VACE context scales; None keeps the spec's (0.5, 1.0, 1.5)
run_id = None  # a run id to resume instead of starting a new run
out_dir: str = "../results"  # where run folders go
"""),
    ("code", """
from lab.logbook.questions import answers_table
from lab.logbook.server_runs import ServerRuns
from lab.report.html import render_table
from lab.report.plots import plot_quality_vs_speed, plot_similarity_over_time
from lab.store import load_runs
from lab.sweep import load_spec, run_sweep, sweep_table

runtime = load_spec(spec).runtime | ({"vace_context_scale": context_scales} if context_scales else {})
sweep = load_spec(spec, {"duration_s": duration_s, "repeats": repeats, "pipelines": pipelines, "runtime": runtime,
                         "references": references})
print("references:", ", ".join(sweep.references or []))
"""),
    ("checked", """
# NBVAL_CHECK_OUTPUT  (the plan is deterministic for a given server)
plan = (await run_sweep(sweep, targets=[target], dry_run=True, progress=False)).plan
print(plan.describe())
""", """
sweep 'avatar': 2 trials in 2 loads (a load per trial would be 2), 2 sessions, 0 skipped
  sim: about 2.3 min of pod time, about $0.03 at $0.89/h (pod scopesim01, SIMULATED)
  load streamdiffusionv2 {"vace_enabled": true} (video): 1 session(s) x 1 segment(s)
  load streamdiffusionv2 {"vace_enabled": false} (video): 1 session(s) x 1 segment(s)
"""),
    ("code", """
outcome = await run_sweep(sweep, targets=[target], out_dir=out_dir, resume=run_id)
server_runs = ServerRuns.load([outcome.run_id], out_dir)
print(f"run {outcome.run_id}: {outcome.rows_written} trials recorded in {outcome.root}")
"""),
    ("code", """
sweep_table(load_runs(out_dir, [outcome.run_id]).trials)
"""),
    ("md", "## What the research log gets from this run"),
    ("code", """
asked = ["Consistency quality?", "MetaDJ avatar reference test results?", "Generation quality at 512×512?"]
answers = answers_table(server_runs)
render_table(answers[answers["question"].isin(asked)])
"""),
    ("md", "## Similarity over time, and quality against speed"),
    ("code", """
plot_similarity_over_time(server_runs);
"""),
    ("code", """
plot_quality_vs_speed(server_runs);
"""),
]

RESEARCH_LOG = [
    ("md", """
# 06 · Research log

The research log's own tables (*Pipeline VACE Compatibility*, *Performance Observations*,
*Models*) and its open questions, filled from stored runs; plots; a comparison with another
run; then the log updated in place and an HTML report written. Everything from the
simulator is labelled **SIMULATED**. The same from the command line:

    lab report RUN... --log results/research-log.md --html results/report.html
    lab compare RUN_A RUN_B
"""),
    ("parameters", """
run_ids = None  # run ids to report on; None: the newest run of each sweep in out_dir
out_dir: str = "../results"  # folder that holds the run folders
log_path: str = "../results/research-log.md"  # research log to update in place (copied from the template if missing)
html_path: str = "../results/research-log-report.html"  # the HTML report of all the runs
realtime_fps: float = 15.0  # fps a pipeline must sustain to count as real time
hosted_run_ids = None  # runs on Daydream's hosted API (a daydream: target) for the Nexus column; None: the newest
compare_with = None  # a run id to compare the first run against (another GPU, Scope version); None: skip
per_run_reports: bool = False  # also write results/<run>/report.html for each run (lab report does)
target: str = "sim"  # used only when out_dir has no runs yet: a short sweep is run there first
"""),
    ("code", """
from lab.logbook import HostedRuns, ServerRuns, ensure_log, latest_hosted_runs
from lab.logbook.api_answers import comparison_tables
from lab.logbook.questions import answers_table
from lab.logbook.tables import as_frame, log_table_frames
from lab.report.compare import compare_runs
from lab.report.html import render_table
from lab.report.plots import (plot_contact_sheet, plot_fps, plot_fps_over_time, plot_latency_cdfs,
                              plot_vace_overhead, plot_warmup_timeline)
from lab.report.writer import sweep_if_empty, write_report

available = await sweep_if_empty(out_dir, target)
server_runs = ServerRuns.load(run_ids or available, out_dir)
hosted = HostedRuns.load(hosted_run_ids or latest_hosted_runs(out_dir), out_dir)
tables = log_table_frames(server_runs, hosted)
print(f"runs {', '.join(server_runs.run_ids)} [{server_runs.label}]")
print(f"hosted API runs {', '.join(hosted.run_ids)} [{hosted.label}]" if hosted
      else "no hosted API run: the Nexus column stays as quoted")
"""),
    ("md", "## Pipeline VACE Compatibility"),
    ("code", """
render_table(tables["Pipeline VACE Compatibility"])
"""),
    ("md", "## Performance Observations"),
    ("code", """
render_table(tables["Performance Observations"])
"""),
    ("md", "## Models"),
    ("code", """
render_table(tables["Models"])
"""),
    ("md", "## Questions to Explore: what the data answers"),
    ("code", """
render_table(answers_table(server_runs, realtime_fps, hosted=hosted))
"""),
    ("md", """
## Scope and Daydream's hosted API

The operations side by side and the hosted stream's parameters mapped to Scope's, both
generated from the two APIs' schemas (the answers above summarise them).
"""),
    ("code", """
for table in comparison_tables(server_runs):
    display(render_table(as_frame(table.header, table.rows), table.caption))
"""),
    ("md", "## Plots"),
    ("code", """
plot_fps(server_runs, realtime_fps);
"""),
    ("code", """
plot_latency_cdfs(server_runs);
"""),
    ("code", """
plot_warmup_timeline(server_runs);
"""),
    ("code", """
vace_figure = plot_vace_overhead(server_runs)
if vace_figure is None:
    print("no VACE sweep among these runs (notebook 03 makes one)")
"""),
    ("code", """
plot_fps_over_time(server_runs);
"""),
    ("code", """
plot_contact_sheet(server_runs);
"""),
    ("md", """
## Comparison

Run B against run A, per pipeline, condition and figure: both medians, the difference with
a 95 % CI, and regressions flagged (significant, at least 10 % worse).
"""),
    ("code", """
comparison = compare_runs(server_runs.run_ids[0], compare_with, out_dir) if compare_with else None
comparison.styled() if comparison else print("set compare_with to a run id to compare")
"""),
    ("md", "## Update the research log and write the report"),
    ("code", """
report_ids = server_runs.run_ids + (hosted.run_ids if hosted else [])
outcome = write_report(report_ids, out_dir, log=ensure_log(log_path), html=html_path,
                       per_run=per_run_reports, realtime_fps=realtime_fps)
print(outcome.describe())
"""),
]

NOTEBOOKS = {"00-quickstart.ipynb": QUICKSTART, "01-deploy-check.ipynb": DEPLOY_CHECK, "04-warmup-latency.ipynb": WARMUP_LATENCY,
             "05-live-explore.ipynb": LIVE_EXPLORE, "02-pipeline-sweep.ipynb": PIPELINE_SWEEP,
             "03-vace-sweep.ipynb": VACE_SWEEP}
NOTEBOOKS["06-research-log.ipynb"] = RESEARCH_LOG
NOTEBOOKS["07-avatar-quality.ipynb"] = AVATAR_QUALITY


def write_all(out_dir: Path) -> list[Path]:
    """Write every notebook into ``out_dir``; the sync test writes into a temp dir and compares."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in NOTEBOOKS]
    for path in paths:
        nbformat.write(build(NOTEBOOKS[path.name]), path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks",
                        help="folder to write the notebooks into (default: the repo's notebooks/)")
    write_all(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
