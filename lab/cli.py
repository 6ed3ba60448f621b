"""The ``lab`` command line: thin subcommands over the library.

Exit codes (all subcommands): 0 success, 2 a LabError (the message says what to do),
130 interrupted with Ctrl-C. ``lab sim`` runs until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab.client import DownloadProgressEvent, LoadProgress, ScopeClient
from lab.connect import connect
from lab.errors import LabError
from lab.inputs import pod_inputs
from lab.overview import server_overview

if TYPE_CHECKING:
    from lab.measure.result import TrialResult
    from lab.quality.embed import Embedder

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The ``lab`` parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="lab",
        description="scope-lab: measure and explore Daydream Scope servers (or the built-in simulator).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from lab.sim import cli as sim_cli

    sim = commands.add_parser("sim", help="run the Scope-compatible simulator on loopback",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=lambda args: sim_cli.run(args))

    info = commands.add_parser(
        "info",
        help="show a server's version, GPU, pipelines, plugins, LoRAs and inputs; optionally load one and time it",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    info.add_argument("target", help="URL, RunPod pod id, or 'sim'")
    info.add_argument("--load", metavar="PIPELINE", help="load this pipeline and report its load time")
    info.add_argument("--download", action="store_true", help="download missing models before loading")
    info.add_argument("--timeout", type=float, default=900.0, help="load timeout in seconds")
    info.add_argument("--json", action="store_true", help="print JSON instead of tables")
    info.set_defaults(handler=lambda args: asyncio.run(_info(args)))

    measure = commands.add_parser(
        "measure",
        help="run one trial (load, stream, measure) and print its figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    measure.add_argument("target", help="URL, RunPod pod id, or 'sim'")
    measure.add_argument("--pipeline", required=True, help="pipeline id, e.g. passthrough or longlive")
    measure.add_argument("--mode", choices=["v2v", "t2v"], default="v2v", help="video-to-video or text-to-video")
    measure.add_argument("--duration", type=float, default=10.0, help="seconds of streaming after the first frame")
    measure.add_argument("--fps", type=float, default=15.0, help="input frame rate (v2v)")
    measure.add_argument("--prompt", help="initial prompt (generative pipelines)")
    measure.add_argument("--download", action="store_true", help="download missing models before loading")
    measure.add_argument("--via", choices=["webrtc", "headless"], default="webrtc",
                         help="how the output is read: a WebRTC session, or a headless session (no WebRTC; "
                              "v2v input is a clip the server plays, updates go over REST)")
    measure.add_argument("--reader", choices=["ts", "frame"], default="ts",
                         help="headless only: the live MPEG-TS stream (output.ts) or polling /session/frame")
    measure.add_argument("--poll-hz", type=_positive_rate, default=30.0, help="headless --reader frame: polls per second")
    measure.add_argument("--json", action="store_true", help="print JSON: each figure with value, unit and n")
    measure.add_argument("--record-server", metavar="MP4", type=Path,
                         help="also have the server record the session, and save its recording here")
    measure.add_argument("--quality-model", default="pixels", metavar="MODEL",
                         help="embedding model of the quality figures: pixels (no model) or a Hugging Face "
                              "CLIP repo, e.g. openai/clip-vit-base-patch32 (needs scope-lab[quality])")
    measure.set_defaults(handler=lambda args: asyncio.run(_measure(args)))

    doctor = commands.add_parser(
        "doctor",
        help="deploy check: is this server healthy and ready? (exit 0 pass, 1 warn, 2 fail)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    doctor.add_argument("target", help="URL, RunPod pod id, or 'sim'")
    doctor.add_argument("--deep", action="store_true", help="also load a generative pipeline and time it")
    doctor.add_argument("--no-stream", action="store_true",
                        help="skip the WebRTC round trip (it loads passthrough, replacing what is loaded)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(handler=lambda args: asyncio.run(_doctor(args)))

    sweep = commands.add_parser(
        "sweep",
        help="run a sweep spec (a YAML file or a shipped spec) into results/<run-id>/; resumable",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sweep.add_argument("spec", help="a YAML file, or a shipped spec name: pipelines, vace, avatar, integration")
    sweep.add_argument("--target", action="append", help="URL, RunPod pod id or 'sim' (repeatable; "
                       "default: the spec's targets)")
    sweep.add_argument("--resume", metavar="RUN_ID", help="continue this run; finished trials are not repeated")
    sweep.add_argument("--dry-run", action="store_true", help="print the plan and the estimated pod time, run nothing")
    sweep.add_argument("--out", default="results", help="folder that holds the run folders")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a spec key, value in YAML (e.g. duration_s=5, pipelines=[longlive])")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=lambda args: asyncio.run(_sweep(args)))

    from lab import demo

    demo_parser = commands.add_parser(
        "demo", help="the main job on a simulator: deploy check, sweeps (papermill), research log, report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)
    _add_report_commands(commands)
    _add_quality_command(commands)
    return parser


def _add_quality_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    quality = commands.add_parser(
        "quality",
        help="score a stored run's quality samples again (another embedding model, newer metrics)",
        description="Reads results/<run>/quality/<trial>.npz and references/, scores every trial, and "
                    "replaces quality.jsonl atomically (the same samples and model give the same rows). "
                    "Exit 0, or 2 on an error: unknown run, a run without samples, or a model that cannot "
                    "load (the model-free figures are then still scored and written).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    quality.add_argument("run", metavar="RUN", help="run id or run folder")
    quality.add_argument("--model", default="pixels",
                         help="pixels (no model) or a Hugging Face CLIP repo, e.g. openai/clip-vit-base-patch32 "
                              "(needs scope-lab[quality]; weights from the Hugging Face cache)")
    quality.add_argument("--results", "--out", dest="out", default="results", help="folder that holds the run folders")
    quality.set_defaults(handler=_quality)


def _quality(args: argparse.Namespace) -> int:
    from lab.quality.score import QUALITY_FIGURES
    from lab.quality.stored import rescore_run
    from lab.store import RunStore, load_runs

    runs = load_runs(args.out, [args.run])  # an unknown run is a clear StoreError
    (root,) = runs.roots.values()
    store = RunStore(root)
    embedder = _embedder_or_none(args.model)
    rows = rescore_run(store, args.model, embedder)
    table = load_runs(root).figures
    shown = table[table["figure"].isin(QUALITY_FIGURES)]
    print(f"run {store.run_id}: {len(rows)} trials scored with {args.model} -> {root / 'quality.jsonl'}")
    if not shown.empty:
        wide = shown.pivot(index="trial_id", columns="figure", values="value")
        print(wide.reindex(columns=[f for f in QUALITY_FIGURES if f in wide.columns]).to_string(float_format="%.4g"))
    return EXIT_OK if embedder is not None else EXIT_ERROR


def _embedder_or_none(model: str) -> Embedder | None:
    """The embedding model, or None with the reason on stderr (the model-free figures go on without it)."""
    from lab.errors import QualityModelError
    from lab.quality.embed import load_embedder

    try:
        return load_embedder(model)
    except QualityModelError as exc:
        print(f"error: {exc}\nThe model-free quality figures are scored without it.", file=sys.stderr)
        return None


def _add_report_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``lab report`` and ``lab compare`` (lab.report): offline, from stored runs."""
    report = commands.add_parser(
        "report",
        help="fill a research log's tables and answers from runs, and write HTML reports with plots",
        description="Writes results/<run>/report.html (+ plots/) for each run; --log updates the managed "
                    "tables and answers of a research-log markdown file in place (everything else kept "
                    "byte for byte); --html writes one report of all the runs. Exit 0, or 2 on an error "
                    "(unknown run, runs of different servers, missing log file).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    report.add_argument("runs", nargs="*", metavar="RUN",
                        help="run ids or run folders (default: the newest run of each sweep in --out)")
    report.add_argument("--out", default="results", help="folder that holds the run folders")
    report.add_argument("--log", metavar="PATH", help="research-log markdown file to update in place "
                        "(a copy of the shipped template; if it is missing, the error says where that is)")
    report.add_argument("--html", metavar="PATH", help="also write one report of all the runs here")
    report.add_argument("--no-run-reports", action="store_true", help="skip results/<run>/report.html")
    report.add_argument("--realtime-fps", type=float, default=15.0,
                        help="fps a pipeline must sustain to count as real time")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare",
        help="compare run B against run A: differences with CIs, significance, regressions",
        description="Per pipeline, condition and figure: both medians over trials, the difference with a "
                    "95 %% CI, the verdict, and regressions flagged. Exit 0 no regression, 1 regressions "
                    "found, 2 an error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    compare.add_argument("run_a", metavar="RUN_A", help="the reference run (id or folder)")
    compare.add_argument("run_b", metavar="RUN_B", help="the run judged against it")
    compare.add_argument("--out", default="results", help="folder that holds the run folders")
    compare.add_argument("--min-effect", type=float, default=0.10,
                         help="smallest relative change that counts (0.10 = 10 %%)")
    compare.add_argument("--json", action="store_true", help="print the comparison table as JSON")
    compare.set_defaults(handler=_compare)


def _report(args: argparse.Namespace) -> int:
    from lab.report.writer import write_report

    outcome = write_report(args.runs or None, args.out, log=args.log, html=args.html,
                           per_run=not args.no_run_reports, realtime_fps=args.realtime_fps)
    print(outcome.describe())
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from lab.report.compare import compare_runs

    result = compare_runs(args.run_a, args.run_b, args.out, min_effect=args.min_effect)
    if args.json:
        print(json.dumps({"run_a": result.run_a, "run_b": result.run_b, "label_a": result.label_a,
                          "label_b": result.label_b, "server_changes": result.server_changes,
                          "rows": json.loads(result.table.to_json(orient="records"))}, indent=2))
    else:
        print(result.describe())
    return 1 if not result.regressions.empty else EXIT_OK


async def _sweep(args: argparse.Namespace) -> int:
    from lab.sweep import overrides_from_strings, run_sweep, sweep_table
    from lab.sweep.spec import load_spec

    spec = load_spec(args.spec, overrides_from_strings(args.set))
    say = (lambda text: print(f"  {text}", flush=True))
    outcome = await run_sweep(spec, targets=args.target, out_dir=args.out, resume=args.resume,
                              dry_run=args.dry_run, progress=not args.no_progress, say=say)
    print(outcome.plan.describe())
    if args.dry_run:
        return EXIT_OK
    from lab.store import load_runs

    runs = load_runs(args.out, [outcome.run_id])
    print()
    print(sweep_table(runs.trials).to_string(index=False))
    for target, timing in outcome.timing.items():
        print(f"\n{target}: {timing.wall_s:.0f} s wall = {timing.load_s:.0f} s loading ({timing.loads} loads) + "
              f"{timing.measure_s:.0f} s measuring + {timing.other_s:.0f} s connecting, warming up and settling")
    print(f"\nrun {outcome.run_id}: {outcome.rows_written} rows written now, {outcome.already_done} earlier -> {outcome.root}")
    return EXIT_OK


async def _doctor(args: argparse.Namespace) -> int:
    from lab.doctor import run_doctor

    report = await run_doctor(args.target, stream=not args.no_stream, deep=args.deep)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return report.exit_code
    label = " [SIMULATED]" if report.simulated else ""
    print(f"lab doctor {args.target} -> {report.url or '?'}{label}\n")
    marks = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    for check in report.checks:
        timing = f"{check.elapsed_ms:7.0f} ms" if check.elapsed_ms is not None else " " * 10
        print(f"  {marks[check.status]}  {check.name:<14} {timing}  {check.value}")
        if check.remedy:
            print(f"        -> {check.remedy}")
    verdict = {0: "ready", 1: "usable, with warnings", 2: "not ready"}[report.exit_code]
    print(f"\n{verdict} (exit {report.exit_code})")
    return report.exit_code


async def _measure(args: argparse.Namespace) -> int:
    from lab.measure.repeats import trial_table
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec

    parameters = {"prompts": [{"text": args.prompt, "weight": 1.0}]} if args.prompt else {}
    via = "webrtc" if args.via == "webrtc" else f"headless-{args.reader}"
    spec = TrialSpec(args.pipeline, mode="video" if args.mode == "v2v" else "text", fps=args.fps,
                     duration_s=args.duration, parameters=parameters, download_missing=args.download,
                     record_server=args.record_server is not None, via=via, poll_hz=args.poll_hz)
    async with connect(args.target) as client:
        result = await run_trial(client, spec, on_event=None if args.json else (lambda text: print(f"  {text}", flush=True)))
    embedder = None
    if result.quality is not None and result.error is None:  # scored after streaming, like a sweep's trials
        from lab.quality.score import score_trial

        embedder = _embedder_or_none(args.quality_model)
        figures, _ = score_trial(result.quality, references=[], prompt=result.quality.prompt, embedder=embedder)
        result.figures += figures
    label = "SIMULATED" if result.simulated else f"Scope {result.server_version}"
    saved = _keep_server_recording(result, args.record_server)
    if args.json:
        print(json.dumps({"url": result.url, "source": label, "pipeline": args.pipeline, "mode": args.mode,
                          "via": result.via, "setup_steps": result.setup_steps, "error": result.error, "quality_model": args.quality_model if embedder else None,
                          "figures": [f.as_dict() for f in result.figures]}, indent=2))
    else:
        print(f"\n{args.pipeline} ({args.mode}) via {result.via} on {result.url} [{label}]")
        print("set-up: " + "; ".join(result.setup_steps))
        print(trial_table(result).drop(columns="source").to_string(index=False))
        if saved is not None:
            print(f"\nthe server's recording of the session: {saved}")
        if result.error:
            print(f"\nerror in {result.error['phase']}: {result.error['message']}", file=sys.stderr)
    return EXIT_ERROR if result.error else EXIT_OK


def _keep_server_recording(result: TrialResult, destination: Path | None) -> Path | None:
    """Move the server's downloaded recording to ``--record-server``'s path (None if there is none)."""
    recording = result.server_recording
    if destination is None or recording is None or recording.path is None:
        return None
    try:
        return Path(shutil.move(recording.path, destination))
    except OSError as exc:
        print(f"could not save the server's recording to {destination}: {exc}; it is at {recording.path}",
              file=sys.stderr)
        return None


async def _info(args: argparse.Namespace) -> int:
    async with connect(args.target) as client:
        overview = await server_overview(client)
        inputs = await pod_inputs(client)
        table = overview.pipelines_table()
        report: dict[str, object] = {
            "url": overview.url,
            "source": overview.source_label,
            "version": overview.health.version,
            "vram_gb": overview.hardware.vram_gb,
            "pipelines": table.to_dict(orient="records"),
            "inputs": inputs.as_dict(),
        }
        if not args.json:
            vram = overview.hardware.vram_gb
            print(f"Server   {overview.url}  [{overview.source_label}]")
            print(f"Version  Scope {overview.health.version} (commit {overview.health.git_commit})")
            print(f"GPU      {f'{vram:.1f} GB VRAM' if vram is not None else 'none reported (no CUDA)'}")
            print()
            print(table.to_string(index=False, na_rep="-"))
            print("\nInputs and outputs on the pod")
            print("\n".join(f"  {line}" for line in inputs.lines()))
        if args.load:
            report["load"] = await _load_and_report(client, args, overview.source_label)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return EXIT_OK


async def _load_and_report(client: ScopeClient, args: argparse.Namespace, label: str) -> dict[str, object]:
    """Download (when asked) and load ``args.load``, printing progress unless --json."""
    quiet = args.json
    download_s = None
    if args.download:
        download = await client.download_models(args.load, on_progress=None if quiet else DownloadProgressPrinter())
        download_s = download.download_s
        if not quiet and download.download_s:
            print(f"  models for {args.load} downloaded in {download.download_s:.1f} s [{label}]")
    result = await client.load_pipeline(args.load, timeout_s=args.timeout,
                                        on_progress=None if quiet else LoadProgressPrinter())
    if not quiet:
        print(f"\n{result.pipeline_id} loaded in {result.load_s:.2f} s "
              f"(±{result.poll_interval_s:g} s poll resolution) [{label}]")
    return {
        "pipeline_id": result.pipeline_id,
        "load_s": round(result.load_s, 3),
        "resolution_s": result.poll_interval_s,
        "download_s": None if download_s is None else round(download_s, 3),
        "stages": [{"stage": s.stage, "first_seen_s": round(s.first_seen_s, 3)} for s in result.stages],
        "source": label,
    }


class DownloadProgressPrinter:
    """Prints a line when a new artifact starts downloading, and every 25 %."""

    def __init__(self) -> None:
        self._last: tuple[str | None, int] | None = None

    def __call__(self, event: DownloadProgressEvent) -> None:
        key = (event.artifact, int((event.percentage or 0) // 25))
        if key != self._last:
            self._last = key
            percent = f"{event.percentage:5.1f} %" if event.percentage is not None else "  ... "
            print(f"  {event.elapsed_s:7.2f} s  downloading {event.artifact or event.pipeline_id}: {percent}", flush=True)


class LoadProgressPrinter:
    """Prints one line per change of load status or stage."""

    def __init__(self) -> None:
        self._last: tuple[str, str | None] | None = None

    def __call__(self, event: LoadProgress) -> None:
        key = (event.status, event.stage)
        if key != self._last:
            self._last = key
            stage = f" - {event.stage}" if event.stage else ""
            print(f"  {event.elapsed_s:7.2f} s  {event.pipeline_id}: {event.status}{stage}", flush=True)


def _positive_rate(text: str) -> float:
    """An argparse type: a rate in Hz above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive rate; give polls per second, e.g. 30")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lab`` console script."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
