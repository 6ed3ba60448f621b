"""``lab sweep``, ``lab report`` and ``lab compare``: run a sweep spec into the results store,
and read stored runs back (the research log, HTML reports, one run against another)."""

from __future__ import annotations

import argparse
import asyncio
import json

from lab.cli.exit_codes import EXIT_OK, EXIT_REGRESSIONS

__all__ = ["add_sweep_command", "add_report_commands"]


def add_sweep_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sweep = commands.add_parser(
        "sweep",
        help="run a sweep spec (a YAML file or a shipped spec) into results/<run-id>/; resumable",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sweep.add_argument("spec", help="a YAML file, or a shipped spec name: pipelines, vace, avatar, integration, nexus")
    sweep.add_argument("--target", action="append", help="URL, RunPod pod id or 'sim' (repeatable; "
                       "default: the spec's targets)")
    sweep.add_argument("--resume", metavar="RUN_ID", help="continue this run; finished trials are not repeated")
    sweep.add_argument("--dry-run", action="store_true", help="print the plan and the estimated pod time, run nothing")
    sweep.add_argument("--out", default="results", help="folder that holds the run folders")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a spec key, value in YAML (e.g. duration_s=5, pipelines=[longlive])")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--stop-pod-when-done", action="store_true",
                       help="stop each target's RunPod pod after the last trial, success or failure")
    sweep.set_defaults(handler=lambda args: asyncio.run(_sweep(args)))


def add_report_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
                        help="run ids or run folders; runs on a daydream: target fill the Nexus column "
                             "(default: the newest run of each sweep in --out, and the newest hosted API run)")
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
    return EXIT_REGRESSIONS if not result.regressions.empty else EXIT_OK


async def _sweep(args: argparse.Namespace) -> int:
    from lab.sweep import overrides_from_strings, run_sweep, sweep_table
    from lab.sweep.spec import load_spec

    spec = load_spec(args.spec, overrides_from_strings(args.set))
    say = (lambda text: print(f"  {text}", flush=True))
    outcome = await run_sweep(spec, targets=args.target, out_dir=args.out, resume=args.resume,
                              dry_run=args.dry_run, progress=not args.no_progress, say=say,
                              stop_pod_when_done=args.stop_pod_when_done)
    print(outcome.plan.describe())
    if args.dry_run:
        return EXIT_OK
    from lab.report.cost import run_cost
    from lab.store import load_runs, read_manifest

    runs = load_runs(args.out, [outcome.run_id])
    print()
    print(sweep_table(runs.trials).to_string(index=False))
    for target, timing in outcome.timing.items():
        print(f"\n{target}: {timing.wall_s:.0f} s wall = {timing.load_s:.0f} s loading ({timing.loads} loads) + "
              f"{timing.measure_s:.0f} s measuring + {timing.other_s:.0f} s connecting, warming up and settling")
    print(f"\npod cost: {run_cost(read_manifest(outcome.root))}")
    print(f"\nrun {outcome.run_id}: {outcome.rows_written} rows written now, {outcome.already_done} earlier -> {outcome.root}")
    return EXIT_OK
