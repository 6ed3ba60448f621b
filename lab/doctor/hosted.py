"""The deploy check of Daydream's hosted API (``lab doctor daydream:``): a first report.

Checks, in order (a failed blocking one skips the rest):

- ``target``: which API, and whether it is the simulator (then every row is SIMULATED);
- ``api key``: ``DAYDREAM_API_KEY`` is set (never shown: only "present");
- ``api``: the API answers and accepts the key (``GET /v1/streams``);
- ``models``: the models it offers (the SDK's list; the API has no list route);
- ``whip``: with ``stream``, a WHIP round trip: a stream is created (sd-turbo), a test
  pattern is sent over WHIP until ICE connects, the answer names a playback URL, and the
  stream is deleted (always, :func:`lab.hosted.hosted_stream`).

The output (WHEP) side, which waits for the stream's start-up (seconds to minutes), is not
part of this first report.
"""

from __future__ import annotations

import time
from typing import Any

from lab.doctor.report import Check, DoctorReport
from lab.errors import LabError
from lab.target import Target

__all__ = ["run_hosted_doctor"]

_PROBE_MODEL = "stabilityai/sd-turbo"


async def run_hosted_doctor(target: Target, *, stream: bool = True) -> DoctorReport:
    """Run the hosted API's checks against ``target`` (a ``daydream:`` target); never raises LabError."""
    from lab.connect import target_url
    from lab.hosted import HostedClient, api_key_from_env, is_simulator, offered_models

    report = DoctorReport(target.raw)
    try:
        report.url = target.url or await target_url(target)
        report.simulated = await is_simulator(target, report.url)
        kind = "the simulator's emulation" if report.simulated else "Daydream's hosted API"
        report.checks.append(Check("target", "pass", f"{kind} at {report.url}"))
        key = _timed(report, "api key", api_key_from_env, lambda _: "present (DAYDREAM_API_KEY)")
        if key is None:
            return report
        async with HostedClient(Target("daydream", target.raw, report.url), api_key=key) as client:
            started = time.perf_counter()
            try:
                streams = await client.list_streams()
            except LabError as exc:
                return _fail(report, "api", exc, started)
            report.checks.append(Check("api", "pass", f"reachable, key accepted ({len(streams)} streams open)",
                                       elapsed_ms=_ms(started)))
            report.checks.append(Check("models", "pass", ", ".join(offered_models())))
            if stream:
                await _whip_check(report, client)
            else:
                report.checks.append(Check("whip", "skip", "not run (--no-stream)"))
    except LabError as exc:
        report.checks.append(Check("target", "fail", type(exc).__name__, str(exc)))
    return report


async def _whip_check(report: DoctorReport, client: Any) -> None:
    from lab.hosted import hosted_stream
    from lab.sources import make_source
    from lab.whip import PLAYBACK_HEADER, publish

    started = time.perf_counter()
    source = make_source("pattern", width=512, height=512, fps=15)
    try:
        async with hosted_stream(client, {"model_id": _PROBE_MODEL, "prompt": "lab doctor"}, name="lab doctor") as made:
            ingest = await publish(made.whip_url, source, http=client.http)
            try:
                await ingest.wait_connected()
                ingest.header(PLAYBACK_HEADER)
            finally:
                await ingest.close(client.http)
        report.checks.append(Check("whip", "pass", f"stream created, ingest connected, playback URL given; "
                                   f"stream deleted ({_PROBE_MODEL})", elapsed_ms=_ms(started)))
    except LabError as exc:
        _fail(report, "whip", exc, started)
    finally:
        source.stop()


def _timed(report: DoctorReport, name: str, get: Any, describe: Any) -> Any:
    try:
        value = get()
    except LabError as exc:
        _fail(report, name, exc, None)
        return None
    report.checks.append(Check(name, "pass", describe(value)))
    return value


def _fail(report: DoctorReport, name: str, exc: LabError, started: float | None) -> DoctorReport:
    report.checks.append(Check(name, "fail", type(exc).__name__, str(exc),
                               _ms(started) if started is not None else None))
    return report


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1e3, 1)
