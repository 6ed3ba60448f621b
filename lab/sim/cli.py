"""``lab sim``: serve the simulator over HTTP on loopback.

Exit codes: 0 after a normal shutdown, 1 if the server could not start (e.g. the port is
taken), 2 for invalid options (including a non-loopback host without ``--allow-remote``).

Once the server accepts connections it prints one line to stdout, ``{"url": "http://..."}``;
everything else goes to stderr. :func:`lab.sim.launch.start_simulator` relies on that line.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import socket
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from lab.sim.app import create_app
from lab.target import is_loopback_host
from lab.sim.config import SimConfig
from lab.sim.faults import Fault, parse_fault_spec
from lab.sim.middleware import DropLogFilter

__all__ = ["add_arguments", "build_parser", "main", "run"]

logger = logging.getLogger(__name__)

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``lab sim`` options to ``parser`` (used by ``lab sim`` and ``python -m lab.sim``)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks one")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the simulator has no authentication)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="time-scale factor (emulated waits are divided)"
    )
    parser.add_argument(
        "--vram-gb",
        type=float,
        default=None,
        help="VRAM of the emulated GPU in GiB; None means 32 (an RTX 5090), or no GPU with "
        "--cpu-only",
    )
    parser.add_argument(
        "--cpu-only", action="store_true", help="emulate a host without CUDA (CPU pipelines only)"
    )
    parser.add_argument(
        "--models",
        choices=("missing", "present"),
        default="missing",
        help="whether pipelines that need model files start with them downloaded",
    )
    parser.add_argument(
        "--fault",
        dest="faults",
        action="append",
        type=_fault_argument,
        default=[],
        metavar="SPEC",
        help="activate a fault, e.g. 'html:status=502,count=3' (repeatable)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="PATH", help="pipeline profile YAML"
    )
    parser.add_argument(
        "--config-json",
        default=None,
        metavar="JSON",
        help="a whole SimConfig as JSON, replacing the options from --speed to --pod-stopped",
    )
    parser.add_argument(
        "--pod-boot-s", type=float, default=None, metavar="SECONDS",
        help="emulated RunPod pod: seconds from resume to Scope answering (divided by --speed); default 30",
    )
    parser.add_argument(
        "--pod-stopped", action="store_true",
        help="emulated RunPod pod starts stopped: Scope's routes answer the proxy's 404 until `lab pod start`",
    )
    parser.add_argument("--log-level", choices=_LOG_LEVELS, default="warning", help="log level")


def build_parser() -> argparse.ArgumentParser:
    """Return the stand-alone parser of ``python -m lab.sim``."""
    parser = argparse.ArgumentParser(
        prog="python -m lab.sim",
        description="Serve a Daydream Scope simulator (HTTP API, emulated pipelines) on loopback.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted; return the exit code.

    Parameters
    ----------
    args
        Options parsed by a parser set up with :func:`add_arguments`.

    Returns
    -------
    int
        0 after a normal shutdown, 1 if the server could not start, 2 for invalid options.

    Examples
    --------
    >>> run(build_parser().parse_args(["--port", "0", "--speed", "10"]))  # doctest: +SKIP
    """
    existing = set(logging.getLogger().handlers)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The simulator's in-memory log (lab.sim.simlog) lowers lab.sim to INFO; the stderr
    # handler set up here keeps the chosen level (handlers already there are not ours).
    for handler in set(logging.getLogger().handlers) - existing:
        handler.setLevel(args.log_level.upper())
    if not args.allow_remote and not is_loopback_host(args.host):
        logger.error(
            "Refusing to listen on %s: the simulator is for local use (no authentication, "
            "it accepts uploads and fault injection), so it binds loopback only. Pass "
            "--allow-remote to bind another address anyway.",
            args.host,
        )
        return 2
    try:
        config = _config_from_args(args)
        app = create_app(config)
    except ValueError as exc:
        logger.error("Invalid simulator options: %s", exc)
        return 2
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        logger.error("Cannot listen on %s port %s: %s", args.host, args.port, exc)
        return 1
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=args.log_level, log_config=_uvicorn_log_config())
    )
    logging.getLogger("uvicorn.error").addFilter(DropLogFilter())
    try:
        return 0 if asyncio.run(_serve(server, sock, url)) else 1
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lab.sim``."""
    return run(build_parser().parse_args(argv))


async def _serve(server: uvicorn.Server, sock: socket.socket, url: str) -> bool:
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(json.dumps({"url": url}), flush=True)  # the one ready line on stdout
        logger.info("Simulator listening on %s", url)
    await serving
    return server.started


def _config_from_args(args: argparse.Namespace) -> SimConfig:
    if args.config_json is not None:
        return SimConfig.model_validate_json(args.config_json)
    fields: dict[str, Any] = {
        "speed": args.speed,
        "cpu_only": args.cpu_only,
        "models": args.models,
        "faults": args.faults,
    }
    if args.vram_gb is not None:
        fields["vram_gb"] = args.vram_gb
    if args.profile is not None:
        fields["profile_path"] = args.profile
    pod = {"boot_s": args.pod_boot_s} if args.pod_boot_s is not None else {}
    fields["runpod"] = pod | ({"home_status": "EXITED"} if args.pod_stopped else {})
    return SimConfig.model_validate(fields)


def _fault_argument(spec: str) -> Fault:
    try:
        return parse_fault_spec(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _listen(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio turns on TCP_NODELAY only for sockets whose proto
    # says TCP (socket.create_server leaves it 0), and without it every answer after the
    # first on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_log_config() -> dict[str, object]:
    # uvicorn's access log goes to stdout by default; keep stdout for the ready line only.
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config
