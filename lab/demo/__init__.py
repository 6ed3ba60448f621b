"""``lab demo``: the main job, end to end, against a simulator on loopback.

1. start one simulator (``lab sim``) for every step, so all runs come from one server;
2. the deploy check (:func:`lab.doctor.run_doctor`, printed as ``lab doctor`` prints it).
   It *fails* when a check fails (the doctor's exit 2, "not ready"): the demo then says so
   and exits 2 without running anything else, since the sweeps would only record errors.
   Warnings (exit 1, "usable, with warnings") are printed and the demo goes on;
3. notebooks 02 (pipelines), 03 (VACE cost) and 07 (avatar quality) through papermill,
   as one would run them against a pod, each leaving a run folder in ``results/``;
4. the integration sweep (the shipped ``integration`` spec): one pipeline read over WebRTC,
   headless ``output.ts`` and ``/session/frame`` polling, for "Simplest web UI integration path?";
5. Daydream's hosted API, as the simulator emulates it: the shipped ``nexus`` spec (the
   research log's Nexus production settings) on ``daydream:<simulator>``, with the
   simulator's own test key (set for that stage only; a real key is never used);
6. a cold start of the simulator's emulated RunPod pod (``lab pod warmup sim --restart``): the
   pod stopped and started again, every stage timed up to steady streamdiffusionv2 output,
   for "RunPod warm-up time?";
7. the research log: the shipped template copied to ``results/research-log.md`` once,
   then its managed tables and answers filled from the runs; an HTML report.

By default the sweeps are sized for a quick look (under 5 minutes on 2 cores); ``--full``
runs the long version. The speed sweeps give every condition 3 trials, the fewest for
which the research log gives a confidence interval over trials; the quick avatar sweep
runs one longer trial per condition (its answers then carry that trial's own CI and say
so), since identity drift needs time to show; the quick integration sweep runs one 6 s
trial per path on one pipeline (its prompt change comes 3.5 s in, so ``--duration`` leaves
its length alone). Each stage has a heading and the sweeps a progress bar. It prints where
everything is. Everything it measures is SIMULATED.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.demo.progress import RunProgress
from lab.doctor import EXIT_FAIL, EXIT_WARN, run_doctor
from lab.errors import LabError
from lab.logbook.integration import PATH_NAMES
from lab.pods.warmup import cold_start
from lab.sim import SimConfig, start_simulator
from lab.sweep import SweepSpec, load_spec, run_sweep

__all__ = ["add_arguments", "run", "DemoSize", "QUICK", "FULL", "demo_size", "deploy_check", "RunProgress"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout: lab/demo/__init__.py
NOTEBOOKS = ROOT / "notebooks"
# The kernel papermill starts talks to it over loopback TCP; CurveZMQ keys encrypt that
# (ipykernel warns on every start without them). "auto": when the kernelspec supports it.
KERNEL_CONFIG = {"KernelManager": {"transport_encryption": "auto"}}
INTEGRATION_SPEC = "integration"  # the shipped spec behind the research log's integration question
HOSTED_SPEC = "nexus"  # the shipped spec of Daydream's hosted API at the log's Nexus settings
COLD_START_PIPELINE = "streamdiffusionv2"  # the log's first generative pipeline; its load is short
COLD_START_TRIAL_S = 6.0  # long enough for its warm-up to end and steady output to show


@dataclass(frozen=True)
class DemoSize:
    """How much the demo measures: seconds per trial, each notebook's papermill parameters, and
    the keys of the shipped integration spec it overrides."""

    name: str
    duration_s: float
    sweeps: Mapping[str, Mapping[str, Any]]
    run_reports: bool = False  # a report per run as well as the combined one
    integration: Mapping[str, Any] = field(default_factory=dict)
    hosted: Mapping[str, Any] = field(default_factory=dict)  # the nexus spec's keys it overrides

    def describe(self, notebook: str) -> str:
        """``3 pipelines, 3 trials each of 3 s``: what one sweep measures, for its heading."""
        parameters = self.sweeps[notebook]
        what = f"{len(parameters['pipelines'])} pipeline{'s' if len(parameters['pipelines']) != 1 else ''}"
        if "ref_counts" in parameters:
            what += f", VACE off and on with {'/'.join(map(str, parameters['ref_counts']))} reference images"
        if "context_scales" in parameters and "ref_counts" not in parameters:
            what += f", VACE off and on at context scales {'/'.join(map(str, parameters['context_scales']))}"
        trials = "trial" if parameters["repeats"] == 1 else "trials"
        return f"{what}, {parameters['repeats']} {trials} each of {self.duration_s_of(notebook):g} s"

    def duration_s_of(self, notebook: str) -> float:
        """Seconds per trial of one sweep: its own where it sets one, else the demo's."""
        return float(self.sweeps[notebook].get("duration_s", self.duration_s))

    def integration_spec(self) -> SweepSpec:
        """The shipped ``integration`` spec with this size's overrides."""
        return load_spec(INTEGRATION_SPEC, self.integration)

    def describe_integration(self) -> str:
        """``1 pipeline read over WebRTC, ..., 1 trial each of 6 s``: what the integration sweep measures."""
        spec = self.integration_spec()
        pipelines = len(spec.pipelines) if isinstance(spec.pipelines, list) else spec.pipelines
        paths = ", ".join(PATH_NAMES.get(via, via) for via in spec.via)
        trials = "trial" if spec.repeats == 1 else "trials"
        return (f"{pipelines} pipeline{'' if pipelines == 1 else 's'} read over {paths}, "
                f"{spec.repeats} {trials} each of {spec.duration_s:g} s")

    def hosted_spec(self) -> SweepSpec:
        """The shipped ``nexus`` spec with this size's overrides."""
        return load_spec(HOSTED_SPEC, self.hosted)


# A quick look: a fast, a slow and a frame-preserving pipeline; VACE off against on with
# two reference images on the fast one (its trials take half as long); the avatar sweep
# (VACE off, then on at three context scales) on the fast one, one 6 s trial each; the
# integration sweep's three paths on the fast one, one 6 s trial each (its prompt change
# comes 3.5 s in). Under 5 minutes on 2 cores. 3 s per speed trial: a generative
# pipeline's step test fires 3 s into a trial, so a shorter one has no latency figure.
QUICK = DemoSize("quick look", 3.0, {
    "02-pipeline-sweep.ipynb": {"repeats": 3, "pipelines": ["streamdiffusionv2", "longlive", "passthrough"]},
    "03-vace-sweep.ipynb": {"repeats": 3, "pipelines": ["streamdiffusionv2"], "ref_counts": [2],
                            "context_scales": [1.0]},
    "07-avatar-quality.ipynb": {"repeats": 1, "pipelines": ["streamdiffusionv2"], "duration_s": 6.0,
                                "context_scales": [0.5, 1.0, 1.5]},
}, integration={"pipelines": ["streamdiffusionv2"], "repeats": 1, "duration_s": 6.0},
    hosted={"repeats": 3, "duration_s": 5.0})
# The long version: the research log's pipelines plus passthrough, 0, 1, 2 and 4 reference
# images, the avatar sweep on two pipelines with 3 trials per condition, and the shipped
# integration spec as it is (two pipelines, 3 trials of 8 s per path), and the nexus spec as it is.
FULL = DemoSize("full", 3.0, {
    "02-pipeline-sweep.ipynb": {"repeats": 3, "pipelines": ["streamdiffusionv2", "longlive", "krea-realtime-video",
                                                            "reward-forcing", "memflow", "passthrough"]},
    "03-vace-sweep.ipynb": {"repeats": 3, "pipelines": ["longlive"], "ref_counts": [0, 1, 2, 4],
                            "context_scales": [1.0]},
    "07-avatar-quality.ipynb": {"repeats": 3, "pipelines": ["streamdiffusionv2", "longlive"], "duration_s": 8.0,
                                "context_scales": [0.5, 1.0, 1.5]},
}, run_reports=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="results", help="folder for run folders, notebooks, log and report")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="simulator speed for loads and downloads (streaming is always real time)")
    parser.add_argument("--full", action="store_true",
                        help="the long version: five generative pipelines, VACE with 0/1/2/4 reference images, "
                             "the shipped integration spec, a report per run (about 10 min instead of 4)")
    parser.add_argument("--duration", type=_seconds, default=None,
                        help=f"seconds measured per trial (default {QUICK.duration_s:g}; not the integration sweep's, "
                             "whose prompt change needs a longer trial)")


def _seconds(text: str) -> float:
    """A positive number of seconds, or an argparse error that says so."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 (e.g. 3 or 2.5)")
    return value


def demo_size(args: argparse.Namespace) -> DemoSize:
    """The size the arguments ask for: quick or ``--full``, with ``--duration`` if given."""
    size = FULL if args.full else QUICK
    if args.duration is None:
        return size
    sweeps = {name: {**parameters, "duration_s": args.duration} for name, parameters in size.sweeps.items()}
    return DemoSize(size.name, args.duration, sweeps, size.run_reports, size.integration, size.hosted)


def deploy_check(url: str) -> bool:
    """Run the deploy check on ``url`` and print its report as ``lab doctor`` does; False (having
    said why) when a check failed and the sweeps should not run. Warnings let them run."""
    report = asyncio.run(run_doctor(url))
    print(report.text(), flush=True)
    if report.exit_code == EXIT_FAIL:
        print(f"\nThe deploy check failed (lab doctor exit {EXIT_FAIL}): see the FAIL lines above. The sweeps would "
              f"only record errors against {url}, so the demo stops here.", file=sys.stderr, flush=True)
        return False
    if report.exit_code == EXIT_WARN:
        print("\nThe deploy check passed with warnings (WARN lines above); going on.", flush=True)
    return True


def run(args: argparse.Namespace) -> int:
    """Run the demo (see the module's docstring); 0, or 2 when the deploy check or the report failed."""
    from lab.logbook import ensure_log

    size = demo_size(args)
    out = Path(args.out).resolve()
    executed = out / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    steps = len(size.sweeps) + 5

    def heading(number: int, text: str) -> None:
        print(f"\n== [{number}/{steps}] {text} ==", flush=True)

    with start_simulator(SimConfig(speed=args.speed, models="present")) as sim:
        print(f"lab demo ({size.name}{'' if args.full else '; --full for the long version'}): "
              f"simulator on {sim.url}, loads {args.speed:g}x faster than real time [SIMULATED]", flush=True)
        heading(1, "deploy check: lab doctor")
        stage_started = time.perf_counter()
        if not deploy_check(sim.url):
            return EXIT_FAIL
        stages["deploy check"] = time.perf_counter() - stage_started
        for number, name in enumerate(size.sweeps, start=2):
            heading(number, f"notebooks/{name} through papermill: {size.describe(name)}")
            stage_started = time.perf_counter()
            _run_notebook(name, size, sim.url, out)
            stages[name.split("-")[0]] = time.perf_counter() - stage_started
        heading(steps - 3, f"integration sweep (lab sweep {INTEGRATION_SPEC}): {size.describe_integration()}")
        stage_started = time.perf_counter()
        asyncio.run(run_sweep(size.integration_spec(), targets=[sim.url], out_dir=out))
        stages["integration"] = time.perf_counter() - stage_started
        hosted = size.hosted_spec()
        heading(steps - 2, f"Daydream's hosted API, emulated (lab sweep {HOSTED_SPEC} --target daydream:{sim.url}): "
                           f"{hosted.repeats} streams of {hosted.duration_s:g} s at the log's Nexus settings")
        stage_started = time.perf_counter()
        with _simulated_key():
            asyncio.run(run_sweep(hosted, targets=[f"daydream:{sim.url}"], out_dir=out))
        stages["hosted"] = time.perf_counter() - stage_started
        heading(steps - 1, f"cold start of the emulated RunPod pod (lab pod warmup sim --pipeline {COLD_START_PIPELINE} "
                           "--restart): stopped, started, timed to steady output")
        stage_started = time.perf_counter()
        cold = asyncio.run(cold_start(sim.url, COLD_START_PIPELINE, out_dir=out, trial_s=COLD_START_TRIAL_S))
        print(cold.describe(), flush=True)
        stages["cold start"] = time.perf_counter() - stage_started
    log = ensure_log(out / "research-log.md")
    heading(steps, "research log and report: lab report")
    stage_started = time.perf_counter()
    code = _write_log_and_report(out, log, per_run=size.run_reports)
    stages["report"] = time.perf_counter() - stage_started
    timings = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in stages.items())
    print(f"\nDone in {time.perf_counter() - started:.0f} s ({timings}). Everything above is SIMULATED. Open:")
    print(f"  the research log, its TBDs filled:            {log}")
    print(f"  the report (tables, plots, manifest summary): {out / 'report.html'}")
    print(f"  the executed sweep notebooks:                 {executed}/")
    print("  .venv/bin/jupyter lab notebooks/   (add --allow-root as root) for 04 (warm-up, latency), "
          "05 (live panel), 06 (research log)")
    return code


@contextlib.contextmanager
def _simulated_key() -> Iterator[None]:
    """``DAYDREAM_API_KEY`` set to the simulator's test key for one stage, then as it was: the demo
    never sends whatever key the shell holds, and leaves the shell's own alone."""
    from lab.hosted import API_KEY_ENV
    from lab.sim.hosted.config import SIM_API_KEY

    before = os.environ.get(API_KEY_ENV)
    os.environ[API_KEY_ENV] = SIM_API_KEY
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = before


def _run_notebook(name: str, size: DemoSize, url: str, out: Path) -> None:
    """Execute one sweep notebook through papermill against ``url``, into ``out/notebooks/``, with a progress bar."""
    import papermill
    from traitlets.config import Config

    with RunProgress(out, name.removesuffix(".ipynb")):
        papermill.execute_notebook(NOTEBOOKS / name, out / "notebooks" / name, cwd=str(NOTEBOOKS),
                                   kernel_name="python3", progress_bar=False, config=Config(KERNEL_CONFIG),
                                   parameters={**size.sweeps[name], "target": url, "out_dir": str(out),
                                               "duration_s": size.duration_s_of(name)})


def _write_log_and_report(out: Path, log: Path, *, per_run: bool) -> int:
    """Fill ``log`` and write ``out/report.html`` from the newest run of each sweep, as ``lab report``
    does; 0, or 2 having printed the error (runs of different servers, say)."""
    from lab.report.writer import write_report

    try:
        outcome = write_report(None, out, log=log, html=out / "report.html", per_run=per_run)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2  # lab's exit code for a LabError
    print(outcome.describe())
    return 0
