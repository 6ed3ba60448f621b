"""``lab pod``: list, start, stop and create RunPod pods, and time a cold start (``warmup``,
:mod:`lab.cli.pod_warmup`) (:mod:`lab.pods`; the key comes from
``RUNPOD_API_KEY``, the API's address from ``RUNPOD_API_BASE_URL``, e.g. a simulator's
``http://127.0.0.1:8000/runpod``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.cli.exit_codes import EXIT_OK
from lab.cli.pod_warmup import add_warmup_command, run_warmup

if TYPE_CHECKING:
    from lab.pods import PodFacts

__all__ = ["add_pod_command", "pod_table"]

SIMULATED_NOTE = "SIMULATED: the simulator's emulated RunPod API at {url}"


def add_pod_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pod = commands.add_parser("pod", help="list, start, stop and create RunPod pods (needs scope-lab[runpod])",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    actions = pod.add_subparsers(dest="pod_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="pods with status, GPU, $/h, uptime and Scope URL")
    start = actions.add_parser("start", help="resume a stopped pod")
    start.add_argument("pod_id", metavar="POD")
    stop = actions.add_parser("stop", help="stop a pod (refused while a sweep runs on it)")
    stop.add_argument("pod_id", metavar="POD")
    stop.add_argument("--force", action="store_true", help="stop even if a sweep still runs on the pod")
    stop.add_argument("--results", default="results", help="results folder whose running sweeps block a stop")
    create = actions.add_parser("create", help="deploy a pod from a template on a GPU type (>= 24 GB)")
    create.add_argument("--template", required=True, help="template id, e.g. daydream-scope")
    create.add_argument("--gpu", required=True, help='GPU type, e.g. "RTX 5090"')
    create.add_argument("--env", action="append", default=[], metavar="KEY[=VALUE]",
                        help="pod environment variable; KEY alone takes the value from this shell (repeatable)")
    create.add_argument("--name", default="scope", help="pod name")
    for sub in (listing, start, stop, create):
        sub.add_argument("--json", action="store_true", help="print JSON")
    add_warmup_command(actions)
    pod.set_defaults(handler=lambda args: asyncio.run(_run(args)))


async def _run(args: argparse.Namespace) -> int:
    from lab import pods

    if args.pod_command == "warmup":
        return await run_warmup(args)
    api = pods.PodApi()
    if args.pod_command == "list":
        found = await pods.list_pods(api)
    elif args.pod_command == "start":
        found = [await pods.start_pod(api, args.pod_id)]
    elif args.pod_command == "stop":
        found = [await pods.stop_pod(api, args.pod_id, force=args.force, results_dir=args.results)]
    else:
        env = _env(args.env)
        found = [await pods.create_pod(api, template=args.template, gpu=args.gpu, env=env, name=args.name)]
    if args.json:
        print(json.dumps({"api": api.api_url, "simulated": api.simulated, "pods": [p.as_dict() for p in found]},
                         indent=2))
    else:
        print(pod_table(found))
        if api.simulated:
            print(SIMULATED_NOTE.format(url=api.api_url))
    return EXIT_OK


def pod_table(found: Sequence[PodFacts]) -> str:
    """The pods as a text table (``-`` for what the API did not say)."""
    rows = [("POD", "NAME", "STATUS", "GPU", "$/H", "UPTIME", "HF_TOKEN", "SCOPE URL")]
    for pod in found:
        rows.append((pod.id, pod.name, pod.status, pod.gpu or "-",
                     "-" if pod.cost_per_h is None else f"{pod.cost_per_h:.2f}", _uptime(pod.uptime_s),
                     "set" if pod.has_hf_token else "missing", pod.scope_url or "(port 8000 not exposed)"))
    if len(rows) == 1:
        return "(no pods)"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _uptime(seconds: int) -> str:
    if seconds <= 0:
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def _env(items: Sequence[str]) -> dict[str, str]:
    from lab.pods import PodError

    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(key, "")
            if not value:
                raise PodError(f"--env {key} takes its value from this shell, but {key} is not set here. "
                               f"Export it, or pass --env {key}=VALUE.", action="create a pod")
        env[key] = value
    return env
