"""The ``lab`` parser, with every subcommand registered, and the entry point that runs one
(logging level, LabError and Ctrl-C turned into exit codes)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lab.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED
from lab.cli.measure import add_measure_command
from lab.cli.pod import add_pod_command
from lab.cli.quality import add_quality_command
from lab.cli.runs import add_report_commands, add_sweep_command
from lab.cli.server import add_doctor_command, add_info_command
from lab.errors import LabError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``lab`` parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="lab",
        description="scope-lab: measure and explore Daydream Scope servers (or the built-in simulator).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sim_command(commands)
    add_info_command(commands)
    add_measure_command(commands)
    add_doctor_command(commands)
    add_sweep_command(commands)
    _add_demo_command(commands)
    add_report_commands(commands)
    add_quality_command(commands)
    add_pod_command(commands)
    return parser


def _add_sim_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from lab.sim import cli as sim_cli

    sim = commands.add_parser("sim", help="run the Scope-compatible simulator on loopback",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=lambda args: sim_cli.run(args))


def _add_demo_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from lab import demo

    demo_parser = commands.add_parser(
        "demo", help="the main job on a simulator: deploy check, sweeps (papermill, integration), research log, "
                "report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)


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
