"""Running the deploy check: the checks in order, a blocking failure skipping the rest, each
row timed, and a failed check's remedy ending with the server's own log lines since the
doctor reached it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from lab.doctor.connection import (check_api_shape, check_dns, check_docs, check_health, check_target, check_tcp,
                                   check_tls)
from lab.doctor.readiness import (check_deep_load, check_hardware, check_ice, check_inputs, check_models,
                                  check_pipeline_fit, check_plugins, check_webrtc)
from lab.doctor.pod_api import check_pod_api
from lab.doctor.report import Check, DoctorReport
from lab.doctor.state import DoctorRun
from lab.errors import LabError, server_log_text

__all__ = ["run_doctor", "CHECKS"]

CheckFn = Callable[[DoctorRun], Awaitable[Check | None]]

# (name, check, does a failure block the rest)
CHECKS: list[tuple[str, CheckFn, bool]] = [
    ("target", check_target, True),
    ("runpod api", check_pod_api, False),
    ("dns", check_dns, True),
    ("tcp", check_tcp, True),
    ("tls", check_tls, True),
    ("health", check_health, True),
    ("docs", check_docs, False),
    ("api shape", check_api_shape, True),
    ("gpu vram", check_hardware, False),
    ("pipelines fit", check_pipeline_fit, False),
    ("models", check_models, False),
    ("plugins", check_plugins, False),
    ("inputs", check_inputs, False),
    ("ice servers", check_ice, False),
    ("webrtc", check_webrtc, False),
    ("deep load", check_deep_load, False),
]


async def run_doctor(target: str, *, stream: bool = True, deep: bool = False,
                     judge_as_remote: bool = False) -> DoctorReport:
    """Run every check against ``target`` and return the report (never raises LabError).

    The WebRTC check loads ``passthrough`` (replacing what is loaded; ``stream=False``
    leaves the server's state alone and skips it); ``deep`` also loads
    the smallest generative pipeline that fits and has its models, and times it.
    ``judge_as_remote`` judges a loopback server as a remote pod would be judged (TURN is
    then required), e.g. to check a local Scope's configuration before deploying it.

    Examples
    --------
    >>> report = await run_doctor("sim")           # doctest: +SKIP
    >>> report.exit_code
    0
    """
    if target.lower().partition(":")[0] == "daydream":  # Daydream's hosted API: lab.doctor.hosted
        from lab.doctor.hosted import run_hosted_doctor
        from lab.target import Target

        return await run_hosted_doctor(Target.parse(target), stream=stream)
    report = DoctorReport(target)
    run = DoctorRun(report, judge_as_remote, deep, stream)
    try:
        for name, check, blocking in CHECKS:
            if run.blocked_by is not None:
                run.skip(name)
                continue
            started = time.perf_counter()
            try:
                result = await check(run)
            except LabError as exc:
                result = Check(name, "fail", type(exc).__name__, str(exc))
            if result is None:
                continue
            if result.elapsed_ms is None:
                result = Check(result.name, result.status, result.value, result.remedy,
                               round((time.perf_counter() - started) * 1e3, 1))
            if result.status == "fail":
                result = await _with_server_log(run, result)
            run.add(result)
            if blocking and result.status == "fail":
                run.blocked_by = name
    finally:
        if run.client is not None:
            await run.client.aclose()
    return report


async def _with_server_log(run: DoctorRun, check: Check) -> Check:
    """A failed check with the server's log lines since the doctor reached the server (those not shown yet)."""
    if run.client is None:
        return check
    remedy = check.remedy or ""
    lines = [line for line in await run.client.log_excerpt(run.log_offset) if line not in remedy]
    return replace(check, remedy=(remedy + server_log_text(lines)).strip() or None) if lines else check
