"""``lab pod warmup POD``: time a pod's cold start stage by stage (:mod:`lab.pods.warmup`) and
print the stage table; the timeline is kept as a run in ``--out``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from lab.cli.exit_codes import EXIT_ERROR, EXIT_OK

__all__ = ["add_warmup_command", "run_warmup"]


def add_warmup_command(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from lab.pods.timeline import DEFAULT_POLL_S, DEFAULT_TRIAL_S

    warmup = actions.add_parser(
        "warmup", help="time a pod's cold start: running, proxy, /health, models, load, first frame, steady",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    warmup.add_argument("pod_id", metavar="POD")
    warmup.add_argument("--pipeline", default="longlive", help="pipeline to load and stream")
    warmup.add_argument("--restart", action="store_true",
                        help="stop a running pod first (refused while a sweep runs on it)")
    warmup.add_argument("--poll-s", type=float, default=DEFAULT_POLL_S,
                        help="how often the API, the proxy and Scope are polled (each stage's resolution)")
    warmup.add_argument("--trial-s", type=float, default=DEFAULT_TRIAL_S, help="seconds streamed after the load")
    warmup.add_argument("--out", default="results", help="folder for the run folder")
    warmup.add_argument("--json", action="store_true", help="print JSON")


async def run_warmup(args: argparse.Namespace) -> int:
    from lab.pods import PodApi
    from lab.pods.locate import PodRef
    from lab.pods.warmup import warm_up

    say = None if args.json else (lambda text: print(f"  {text}", flush=True))
    cold = await warm_up(PodRef(PodApi(), args.pod_id), args.pipeline, restart=args.restart, poll_s=args.poll_s,
                         trial_s=args.trial_s, out_dir=args.out, say=say)
    if args.json:
        print(json.dumps({"run_id": cold.run_id, "simulated": cold.simulated, "pod": cold.pod.id,
                          "pipeline_id": cold.pipeline_id, "stages": [asdict(s) for s in cold.stages],
                          "error": cold.error}, indent=2))
    else:
        print(cold.describe())
    return EXIT_ERROR if cold.error else EXIT_OK
