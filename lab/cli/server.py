"""``lab info`` and ``lab doctor``: what one server offers (optionally loading a pipeline and
timing it, with progress lines), and whether it is ready."""

from __future__ import annotations

import argparse
import asyncio
import json

from lab.cli.exit_codes import EXIT_OK
from lab.client import DownloadProgressEvent, LoadProgress, ScopeClient
from lab.connect import connect
from lab.inputs import pod_inputs
from lab.overview import server_overview

__all__ = ["add_info_command", "add_doctor_command", "DownloadProgressPrinter", "LoadProgressPrinter"]


def add_info_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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


def add_doctor_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    doctor = commands.add_parser(
        "doctor",
        help="deploy check: is this server healthy and ready? (exit 0 pass, 1 warn, 2 fail)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    doctor.add_argument("target", help="URL, RunPod pod id, 'sim', or 'daydream:' (the hosted API; "
                        "'daydream:sim' its emulation, 'daydream:<url>' another base URL)")
    doctor.add_argument("--deep", action="store_true", help="also load a generative pipeline and time it")
    doctor.add_argument("--no-stream", action="store_true",
                        help="skip the WebRTC round trip (it loads passthrough, replacing what is loaded)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(handler=lambda args: asyncio.run(_doctor(args)))


async def _doctor(args: argparse.Namespace) -> int:
    from lab.doctor import run_doctor

    report = await run_doctor(args.target, stream=not args.no_stream, deep=args.deep)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return report.exit_code

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
