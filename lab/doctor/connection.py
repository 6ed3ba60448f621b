"""The doctor's checks that reach the server: the target understood, DNS, TCP, TLS, ``/health``
(and the RunPod proxy's pages), ``/docs`` with ``/openapi.json``, and the API's shape."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from urllib.parse import urlsplit

from lab.connect import connect
from lab.doctor.report import Check
from lab.doctor.state import DoctorRun
from lab.errors import LabError, PodNotReadyError, ScopeError, TargetError
from lab.overview import SIMULATED_LABEL
from lab.protocol import ApiShape, count_operations
from lab.target import SCOPE_PORT, Target

__all__ = ["NETWORK_TIMEOUT_S", "check_target", "check_dns", "check_tcp", "check_tls", "check_health", "check_docs",
           "check_api_shape"]

NETWORK_TIMEOUT_S = 5.0


async def check_target(run: DoctorRun) -> Check:
    try:
        run.target = Target.parse(run.report.target)
    except TargetError as exc:
        return Check("target", "fail", run.report.target, str(exc))
    run.client = connect(run.target, timeout=NETWORK_TIMEOUT_S * 2)
    if run.target.kind == "sim":
        await run.client.health()  # starts the shared simulator
        run.target = run.client.target
    run.report.url = run.target.url
    port = run.target.runpod_port
    if port is not None and port != SCOPE_PORT:
        return Check("target", "warn", f"{run.target.url} (RunPod port {port})",
                     f"Scope listens on {SCOPE_PORT}, but this proxy URL points at port {port} "
                     f"(8888 is usually Jupyter). Use https://<pod-id>-{SCOPE_PORT}.proxy.runpod.net.")
    return Check("target", "pass", f"{run.target.url} ({run.target.kind})")


def _host_port(run: DoctorRun) -> tuple[str, int, bool]:
    assert run.target is not None and run.target.url is not None
    parts = urlsplit(run.target.url)
    tls = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


async def check_dns(run: DoctorRun) -> Check:
    host, port, _ = _host_port(run)
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                                       NETWORK_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError) as exc:
        hint = " The pod may have been deleted: check its id in the RunPod console." if run.target and run.target.kind == "runpod" else ""
        return Check("dns", "fail", f"{host}: {exc or 'timeout'}", f"The host name does not resolve. Check its spelling.{hint}")
    addresses = sorted({info[4][0] for info in infos})
    return Check("dns", "pass", ", ".join(addresses[:3]))


async def check_tcp(run: DoctorRun) -> Check:
    host, port, _ = _host_port(run)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), NETWORK_TIMEOUT_S)
    except asyncio.TimeoutError:
        return Check("tcp", "fail", f"{host}:{port}: no answer in {NETWORK_TIMEOUT_S:g} s",
                     "The host does not answer: it is down, firewalled, or a new pod is still being created.")
    except OSError as exc:
        return Check("tcp", "fail", f"{host}:{port}: {exc.strerror or exc}",
                     f"Nothing listens on port {port}. Start Scope (it listens on {SCOPE_PORT}; on a pod "
                     "with --host 0.0.0.0), or use the target 'sim' for the built-in simulator.")
    writer.close()
    await writer.wait_closed()
    return Check("tcp", "pass", f"{host}:{port} accepts connections")


async def check_tls(run: DoctorRun) -> Check | None:
    host, port, tls = _host_port(run)
    if not tls:
        return None
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl.create_default_context(), server_hostname=host),
            NETWORK_TIMEOUT_S)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        return Check("tls", "fail", f"{exc}", "The TLS handshake failed. A local Scope speaks plain http://; "
                     "RunPod proxy URLs use https:// with a valid certificate.")
    cipher = writer.get_extra_info("cipher")
    writer.close()
    await writer.wait_closed()
    return Check("tls", "pass", cipher[1] if cipher else "ok")


async def check_health(run: DoctorRun) -> Check:
    assert run.client is not None
    try:
        health = run.health = await run.client.health()
    except PodNotReadyError as exc:
        return Check("health", "fail", f"proxy answered {exc.status_code}", str(exc))
    except ScopeError as exc:
        return Check("health", "fail", type(exc).__name__, str(exc))
    run.report.simulated = health.is_simulator
    run.log_offset = await run.client.log_offset()
    uptime = f", up {time.time() - health.server_start_time:.0f} s" if health.server_start_time else ""
    label = f" [{SIMULATED_LABEL}]" if health.is_simulator else ""
    value = f"{health.status}, Scope {health.version} ({health.git_commit}){uptime}{label}"
    if health.status != "healthy":
        return Check("health", "warn", value, "The server reports itself unhealthy: read its log (GET /api/v1/logs/tail).")
    return Check("health", "pass", value)


async def check_docs(run: DoctorRun) -> Check:
    assert run.client is not None
    try:
        docs = await run.client.docs_page()
        run.openapi = await run.client.openapi()
    except LabError as exc:
        return Check("docs", "warn", type(exc).__name__,
                     f"/docs or /openapi.json is not served ({exc}). The API may still work; the "
                     "interactive docs are FastAPI's and a proxy or a build without them hides them.")
    title = run.openapi.get("info", {}).get("title", "?")
    scope, simulator = count_operations(run.openapi)
    return Check("docs", "pass", f"/docs ({len(docs)} bytes), /openapi.json: {title} {run.openapi.get('info', {}).get('version', '')}, "
                                 f"{scope} operations" + (f" (+{simulator} simulator control)" if simulator else ""))


async def check_api_shape(run: DoctorRun) -> Check | None:
    if run.openapi is None:
        return None
    shape = ApiShape.from_openapi(run.openapi)
    if not shape.scope_local:
        return Check("api shape", "fail", shape.describe(), "This server does not offer Scope's /api/v1 pipeline "
                     "and WebRTC routes, so the workbench cannot drive it. Check that the URL points at Scope.")
    return Check("api shape", "pass", shape.describe())


