"""Deploy check: is this Scope server healthy and ready, and if not, what to do about it.

Checks run in order; each says pass, warn, fail or skip, with the measured value and, when
not passing, a remedy: what was seen, the likely cause, the fix. A check that cannot run
because an earlier one failed is skipped and says which. The exit code of ``lab doctor``
follows the worst status: 0 pass (or skip), 1 warn, 2 fail.

Nothing secret is ever put in a check: ICE server entries are summarised by their URLs,
and credentials are reduced to "present".

A failing check's remedy ends with the server's own log lines written since the doctor
reached it (warnings, errors, lines naming a pipeline; redacted), when the server serves
``/api/v1/logs/tail``: Scope reports many failures without a reason and logs the reason.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import pandas as pd

from lab.client import ScopeClient
from lab.connect import connect
from lab.errors import LabError, PodNotReadyError, ScopeError, TargetError, server_log_text
from lab.inputs import INTEGRATIONS, PodInputs, describe_integration, pod_inputs
from lab.models import Health, PipelineSchemas, gpu_memory_text
from lab.overview import SIMULATED_LABEL
from lab.protocol import ApiShape, count_operations
from lab.target import SCOPE_PORT, Target

__all__ = ["Check", "DoctorReport", "REPORT_SCHEMA", "run_doctor", "MIN_VRAM_GB", "Status"]

Status = Literal["pass", "warn", "fail", "skip"]
MIN_VRAM_GB = 24.0  # the research log's minimum for the generative pipelines
ROUND_TRIP_FPS = 15.0
ROUND_TRIP_S = 3.0
DEEP_STREAM_S = 4.0
NETWORK_TIMEOUT_S = 5.0
_RANK = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}


# The JSON report's schema (``lab doctor --json``): the same content as the table.
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["target", "url", "simulated", "source", "exit_code", "checks"],
    "additionalProperties": False,
    "properties": {
        "target": {"type": "string"},
        "url": {"type": ["string", "null"]},
        "simulated": {"type": "boolean"},
        "source": {"type": "string"},
        "exit_code": {"enum": [0, 1, 2]},
        "checks": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "status", "value", "remedy", "elapsed_ms"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "status": {"enum": ["pass", "warn", "fail", "skip"]},
                "value": {"type": "string"},
                "remedy": {"type": ["string", "null"]},
                "elapsed_ms": {"type": ["number", "null"]},
            },
        }},
    },
}


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    status: Status
    value: str
    remedy: str | None = None
    elapsed_ms: float | None = None


@dataclass
class DoctorReport:
    """All checks of one run, in order, and what they add up to."""

    target: str
    url: str | None = None
    simulated: bool = False
    checks: list[Check] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 warn, 2 fail (the worst check)."""
        return max((_RANK[c.status] for c in self.checks), default=0)

    def table(self) -> pd.DataFrame:
        """The checks as a table (status, value, remedy)."""
        return pd.DataFrame([asdict(c) for c in self.checks])

    def styled(self) -> Any:
        """The table coloured by status, for notebooks (a pandas Styler)."""
        colours = {"pass": "#d9f2d9", "warn": "#fff2cc", "fail": "#f8d0d0", "skip": "#eeeeee"}
        table = self.table().fillna({"remedy": ""})
        caption = f"lab doctor {self.target} ({self.url}){' [SIMULATED]' if self.simulated else ''}: exit {self.exit_code}"
        return (table.style.hide(axis="index").set_caption(caption)
                .map(lambda status: f"background-color: {colours[status]}", subset=["status"])
                .format({"elapsed_ms": lambda v: "" if pd.isna(v) else f"{v:.0f}"})
                .set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json``: the same content as the table."""
        return {"target": self.target, "url": self.url, "simulated": self.simulated,
                "source": SIMULATED_LABEL if self.simulated else "real server",
                "exit_code": self.exit_code, "checks": [asdict(c) for c in self.checks]}


class _Run:
    """State shared by the checks of one doctor run."""

    def __init__(self, report: DoctorReport, judge_as_remote: bool, deep: bool, stream: bool) -> None:
        self.report = report
        self.judge_as_remote = judge_as_remote
        self.deep = deep
        self.stream = stream
        self.target: Target | None = None
        self.client: ScopeClient | None = None
        self.health: Health | None = None
        self.openapi: dict[str, Any] | None = None
        self.schemas: PipelineSchemas | None = None
        self.vram_gb: float | None = None
        self.inputs: PodInputs | None = None
        self.log_offset: int | None = None  # the server log's end when the doctor reached it
        self.blocked_by: str | None = None

    def add(self, check: Check) -> None:
        self.report.checks.append(check)

    def skip(self, name: str) -> None:
        self.add(Check(name, "skip", f"not run: {self.blocked_by} failed"))


CheckFn = Callable[[_Run], Awaitable[Check | None]]


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
    report = DoctorReport(target)
    run = _Run(report, judge_as_remote, deep, stream)
    try:
        for name, check, blocking in _CHECKS:
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


async def _with_server_log(run: _Run, check: Check) -> Check:
    """A failed check with the server's log lines since the doctor reached the server (those not shown yet)."""
    if run.client is None:
        return check
    remedy = check.remedy or ""
    lines = [line for line in await run.client.log_excerpt(run.log_offset) if line not in remedy]
    return replace(check, remedy=(remedy + server_log_text(lines)).strip() or None) if lines else check


async def _check_target(run: _Run) -> Check:
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


def _host_port(run: _Run) -> tuple[str, int, bool]:
    assert run.target is not None and run.target.url is not None
    parts = urlsplit(run.target.url)
    tls = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


async def _check_dns(run: _Run) -> Check:
    host, port, _ = _host_port(run)
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                                       NETWORK_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError) as exc:
        hint = " The pod may have been deleted: check its id in the RunPod console." if run.target and run.target.kind == "runpod" else ""
        return Check("dns", "fail", f"{host}: {exc or 'timeout'}", f"The host name does not resolve. Check its spelling.{hint}")
    addresses = sorted({info[4][0] for info in infos})
    return Check("dns", "pass", ", ".join(addresses[:3]))


async def _check_tcp(run: _Run) -> Check:
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


async def _check_tls(run: _Run) -> Check | None:
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


async def _check_health(run: _Run) -> Check:
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


async def _check_docs(run: _Run) -> Check:
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


async def _check_api_shape(run: _Run) -> Check | None:
    if run.openapi is None:
        return None
    shape = ApiShape.from_openapi(run.openapi)
    if not shape.scope_local:
        return Check("api shape", "fail", shape.describe(), "This server does not offer Scope's /api/v1 pipeline "
                     "and WebRTC routes, so the workbench cannot drive it. Check that the URL points at Scope.")
    return Check("api shape", "pass", shape.describe())


async def _check_hardware(run: _Run) -> Check:
    assert run.client is not None
    vram = run.vram_gb = (await run.client.hardware_info()).vram_gb
    in_use = f"; memory in use (/session/metrics): {gpu_memory_text((await run.client.session_metrics()).gpu)}"
    if vram is None:
        return Check("gpu vram", "warn", "no CUDA GPU reported" + in_use,
                     "Only the CPU pipelines (passthrough, gray, ...) are available. The generative "
                     f"pipelines need an NVIDIA GPU with at least {MIN_VRAM_GB:g} GB.")
    if vram < MIN_VRAM_GB:
        return Check("gpu vram", "fail", f"{vram:.1f} GB{in_use}",
                     f"Below the {MIN_VRAM_GB:g} GB the generative pipelines need: choose a larger GPU "
                     "(RTX 4090/5090) for the pod.")
    return Check("gpu vram", "pass", f"{vram:.1f} GB (minimum {MIN_VRAM_GB:g} GB){in_use}")


async def _check_pipeline_fit(run: _Run) -> Check:
    assert run.client is not None
    schemas = run.schemas = await run.client.pipeline_schemas(refresh=True)
    sized = [s for s in schemas.pipelines.values() if s.estimated_vram_gb is not None]
    misfits = [s for s in sized if s.fits_vram(run.vram_gb) is False]
    value = f"{len(schemas.ids)} pipelines; {len(sized) - len(misfits)}/{len(sized)} with a VRAM estimate fit"
    if misfits:
        names = ", ".join(f"{s.id} ({s.estimated_vram_gb:g} GB)" for s in misfits)
        return Check("pipelines fit", "warn", value,
                     f"These need more than the GPU's {run.vram_gb:.1f} GB: {names}. Load them with "
                     "quantization='fp8_e4m3fn' where supported, or use a larger GPU.")
    return Check("pipelines fit", "pass", value)


async def _check_models(run: _Run) -> Check:
    assert run.client is not None and run.schemas is not None
    needing = [s.id for s in run.schemas.pipelines.values() if s.requires_models]
    statuses = await asyncio.gather(*(run.client.models_status(pid) for pid in needing))
    missing = [pid for pid, status in zip(needing, statuses, strict=True) if not status.downloaded]
    value = f"{len(needing) - len(missing)}/{len(needing)} pipelines with models have them downloaded"
    if missing:
        return Check("models", "warn", value,
                     f"Missing: {', '.join(missing)}. Download before measuring (first use takes minutes): "
                     f"`download_models --pipeline {missing[0]}` on the pod, or "
                     f"`await client.download_models('{missing[0]}')`.")
    return Check("models", "pass", value)


async def _check_plugins(run: _Run) -> Check:
    """Installed plugins and LoRAs (what researchers bring to the pod), and plugins that failed to load."""
    assert run.client is not None
    inputs = run.inputs = await pod_inputs(run.client)
    value = f"plugins: {inputs.plugins_text()}; LoRAs: {inputs.loras_text()}"
    if inputs.plugins is not None and inputs.plugins.failed_plugins:
        return Check("plugins", "warn", value, "A plugin failed to load, so its pipelines are missing: reinstall it "
                     "(POST /api/v1/plugins with upgrade or force) or read the server log for the import error.")
    return Check("plugins", "pass", value)


async def _check_inputs(run: _Run) -> Check:
    """Server-side input sources and Spout/NDI/Syphon: available or not, the server's reason and install hint."""
    assert run.client is not None
    inputs = run.inputs or await pod_inputs(run.client)
    sharing = "; ".join(f"{name}: {describe_integration(name, inputs.integrations[name])}" for name in INTEGRATIONS)
    return Check("inputs", "pass", f"input sources: {inputs.sources_text()}; {sharing}")


async def _check_ice(run: _Run) -> Check:
    assert run.client is not None and run.target is not None
    servers = await run.client.ice_servers()
    turn = [s for s in servers if s.is_turn]
    kinds = sorted({url.split(":", 1)[0] for s in servers for url in s.url_list})
    value = f"{len(servers)} ICE servers ({', '.join(kinds) or 'none'}); TURN {'present' if turn else 'absent'}"
    if turn or (run.target.is_loopback and not run.judge_as_remote):
        return Check("ice servers", "pass", value + ("" if turn else "; not needed on loopback"))
    return Check("ice servers", "warn", value,
                 "Without a TURN relay, WebRTC to a RunPod pod usually fails (the research log's 'WebRTC "
                 "fails'). Set HF_TOKEN (HuggingFace token with read permission) in the pod's environment "
                 "and restart it: Scope then fetches Cloudflare TURN credentials.")


async def _check_webrtc(run: _Run) -> Check | None:
    """A real round trip: passthrough, stamped 512x512 input at 15 fps for a few seconds."""
    assert run.client is not None and run.schemas is not None
    if not run.stream:
        return None
    if "passthrough" not in run.schemas.pipelines:
        return Check("webrtc", "warn", "no passthrough pipeline to test with",
                     "This server lists no passthrough pipeline; the WebRTC check needs it.")
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec

    result = await run_trial(run.client, TrialSpec("passthrough", source="stamped", fps=ROUND_TRIP_FPS,
                                                   duration_s=ROUND_TRIP_S, resolution=(512, 512)))
    if result.error:
        return Check("webrtc", "fail", f"{result.error['class']} while {result.error['phase']}ing",
                     result.error["message"])
    fps = result.figure("fps_out").value or 0.0
    latency = result.figure("latency_p50").value
    value = (f"connected in {1e3 * (result.timeline.connect_s or 0):.0f} ms, first frame after "
             f"{1e3 * (result.timeline.ttff_s or 0):.0f} ms, {fps:.1f} fps, "
             f"latency p50 {latency:.0f} ms (passthrough, 15 fps in; loads passthrough)" if latency is not None else
             f"{fps:.1f} fps, no stamp read back")
    if latency is None or fps < 0.8 * ROUND_TRIP_FPS:
        return Check("webrtc", "warn", value, "Frames came back slower than sent or without their stamps: the "
                     "network path is lossy or slow (no TURN? a far pod?); measure on a better connection.")
    return Check("webrtc", "pass", value)


async def _check_deep_load(run: _Run) -> Check | None:
    """--deep: load the smallest generative pipeline that fits and has its models; time it."""
    if not run.deep:
        return None
    assert run.client is not None and run.schemas is not None
    candidates = sorted((s for s in run.schemas.pipelines.values()
                         if s.is_generative and s.fits_vram(run.vram_gb) is not False),
                        key=lambda s: s.estimated_vram_gb or 0.0)
    ready = [s for s in candidates if (await run.client.models_status(s.id)).downloaded]
    if not ready:
        return Check("deep load", "warn", "no generative pipeline with downloaded models fits this GPU",
                     "Download one first (see the models row), then run --deep again.")
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec

    pipeline = ready[0].id
    result = await run_trial(run.client, TrialSpec(pipeline, mode="text", duration_s=DEEP_STREAM_S,
                                                   parameters={"prompts": [{"text": "a calm lake at dawn", "weight": 1.0}]}))
    if result.error:
        return Check("deep load", "fail", f"{pipeline}: {result.error['class']}", result.error["message"])
    return Check("deep load", "pass", f"{pipeline}: loaded in {result.figure('load_s').value:.1f} s, first frame "
                 f"{result.figure('ttff_s').value:.2f} s after the offer, {result.figure('fps_out').value or 0:.1f} fps (t2v)")


# (name, check, does a failure block the rest)
_CHECKS: list[tuple[str, CheckFn, bool]] = [
    ("target", _check_target, True),
    ("dns", _check_dns, True),
    ("tcp", _check_tcp, True),
    ("tls", _check_tls, True),
    ("health", _check_health, True),
    ("docs", _check_docs, False),
    ("api shape", _check_api_shape, True),
    ("gpu vram", _check_hardware, False),
    ("pipelines fit", _check_pipeline_fit, False),
    ("models", _check_models, False),
    ("plugins", _check_plugins, False),
    ("inputs", _check_inputs, False),
    ("ice servers", _check_ice, False),
    ("webrtc", _check_webrtc, False),
    ("deep load", _check_deep_load, False),
]
