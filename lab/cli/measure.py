"""``lab measure``: one trial (load, stream, measure) over WebRTC or a headless session, its
quality scored after streaming, its figures printed as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lab.cli.exit_codes import EXIT_ERROR, EXIT_OK
from lab.cli.quality import embedder_or_none
from lab.connect import connect
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.measure.result import TrialResult

__all__ = ["add_measure_command"]


def add_measure_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    measure = commands.add_parser(
        "measure",
        help="run one trial (load, stream, measure) and print its figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    measure.add_argument("target", help="URL, RunPod pod id, 'sim', or a hosted API: 'daydream:', 'daydream:sim'")
    measure.add_argument("--pipeline", help="pipeline id, e.g. passthrough or longlive (Scope targets; required there)")
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
    hosted = measure.add_argument_group("daydream: targets (the hosted API; key from DAYDREAM_API_KEY)")
    hosted.add_argument("--model", default="stabilityai/sd-turbo", help="the stream's params.model_id")
    hosted.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="another stream param, value in YAML (e.g. delta=0.7, 't_index_list=[11]')")
    hosted.add_argument("--control-prompt", help="PATCH the prompt to this --control-at seconds in (control latency)")
    hosted.add_argument("--control-at", type=float, default=3.0, help="when the --control-prompt PATCH goes out")
    measure.set_defaults(handler=lambda args: asyncio.run(_measure(args)))


async def _measure(args: argparse.Namespace) -> int:
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec
    from lab.target import Target

    if Target.parse(args.target).kind == "daydream":
        result = await _measure_hosted(args)
        return _show(args, result, args.model)
    if not args.pipeline:
        raise LabError(f"lab measure {args.target} needs --pipeline (a pipeline id such as passthrough or "
                       "longlive; `lab info TARGET` lists them).")
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

        embedder = embedder_or_none(args.quality_model)
        figures, _ = score_trial(result.quality, references=[], prompt=result.quality.prompt, embedder=embedder)
        result.figures += figures
    return _show(args, result, args.pipeline, embedder is not None)


async def _measure_hosted(args: argparse.Namespace) -> TrialResult:
    """One hosted stream (``daydream:`` target): created, measured, always deleted."""
    from lab.connect import target_url
    from lab.hosted import HostedClient, is_simulator
    from lab.measure.hosted import run_hosted_trial
    from lab.measure.spec import ControlChange, TrialSpec
    from lab.sweep.spec import overrides_from_strings

    params = {"model_id": args.model, **({"prompt": args.prompt} if args.prompt else {}),
              **overrides_from_strings(args.param)}
    controls = (ControlChange(args.control_at, {"prompt": args.control_prompt}),) if args.control_prompt else ()
    spec = TrialSpec("streamdiffusion", fps=args.fps, duration_s=args.duration, controls=controls)
    async with HostedClient(args.target, url_for=target_url) as client:
        return await run_hosted_trial(client, spec, params, simulated=await is_simulator(client.target, client.url),
                                      name="scope-lab measure",
                                      on_event=None if args.json else (lambda text: print(f"  {text}", flush=True)))


def _show(args: argparse.Namespace, result: TrialResult, what: str, scored: bool = False) -> int:
    """Print the trial (table or JSON); the exit code says whether it failed."""
    from lab.measure.repeats import trial_table

    label = "SIMULATED" if result.simulated else result.server_label
    saved = _keep_server_recording(result, args.record_server)
    if args.json:
        print(json.dumps({"url": result.url, "source": label, "pipeline": what, "mode": args.mode,
                          "via": result.via, "setup_steps": result.setup_steps, "error": result.error,
                          "quality_model": args.quality_model if scored else None,
                          "figures": [f.as_dict() for f in result.figures]}, indent=2))
    else:
        print(f"\n{what} ({args.mode}) via {result.via} on {result.url} [{label}]")
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


def _positive_rate(text: str) -> float:
    """An argparse type: a rate in Hz above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive rate; give polls per second, e.g. 30")
    return value
