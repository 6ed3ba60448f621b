"""A pod's cold start, timed stage by stage from the start request to steady output.

:func:`warm_up` starts a stopped pod (``restart=True`` stops a running one first, unless a
sweep runs on it), then watches, each ``poll_s``: the API until it reports the container up,
and the pod's Scope URL until the proxy's "starting" page is gone and ``/health`` answers.
Then, through Scope's own routes, the pipeline's models (downloaded with progress if
missing), its load, and a short trial (:func:`lab.measure.run.run_session`, the same as
every trial) whose first frame and warm-up detector give the last two stages.

Stages and their meaning: :mod:`lab.pods.timeline`. Everything is kept in a run folder
(``kind: pod-warmup``) as it is seen; a failure after the start ends the timeline where it
happened and is kept in it (``ColdStart.error``), never raised. Errors before the start
(unknown pod, no key, no GPU free, a running pod without ``restart``) are raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lab.apifacts import simulator_speed_at
from lab.client import DownloadProgressEvent, ScopeClient
from lab.errors import LabError
from lab.http import RetryPolicy
from lab.measure.result import error_record
from lab.measure.run import run_session
from lab.measure.spec import Segment, TrialSpec, load_params
from lab.pods import get_pod, start_pod, stop_pod
from lab.pods.errors import PodError
from lab.pods.locate import PodRef, pod_behind
from lab.pods.timeline import DEFAULT_POLL_S, DEFAULT_TRIAL_S, ColdStart
from lab.store import RESULTS_DIR

__all__ = ["PodStartTimeoutError", "cold_start", "warm_up"]

DEFAULT_BOOT_TIMEOUT_S = 1200.0
_STARTING_PAGE = 503  # RunPod's proxy while the container is created


class PodStartTimeoutError(PodError):
    """The pod did not serve Scope's /health within the boot timeout."""


async def warm_up(pod: PodRef, pipeline_id: str = "longlive", *, restart: bool = False,
                  poll_s: float = DEFAULT_POLL_S, trial_s: float = DEFAULT_TRIAL_S,
                  boot_timeout_s: float = DEFAULT_BOOT_TIMEOUT_S, out_dir: Path | str = RESULTS_DIR,
                  say: Callable[[str], None] | None = None) -> ColdStart:
    """Start ``pod`` and time every stage up to steady ``pipeline_id`` output; kept in ``out_dir``.

    Examples
    --------
    >>> cold = await warm_up(await pod_behind("gbc63llq1zdxki"), "longlive", restart=True)  # doctest: +SKIP
    >>> print(cold.describe())
    """
    say = say or (lambda text: None)
    api, pod_id = pod.api, pod.pod_id
    facts = await get_pod(api, pod_id, action="time the pod's cold start")
    if facts.scope_url is None:
        raise PodError(f"Pod {pod_id} does not expose port 8000 over HTTP (its ports: {facts.http_ports or 'none'} "
                       "http), so Scope cannot be reached through RunPod's proxy. Add 8000/http to the pod's ports.",
                       action="time the pod's cold start", pod_id=pod_id)
    if facts.desired_status == "RUNNING":
        if not restart:
            raise PodError(f"Pod {pod_id} is running: a cold start is timed from a stopped pod's start. Stop it "
                           "first (lab pod stop), or pass --restart (restart=True) to stop and start it, which "
                           "ends whatever runs on it.", action="time the pod's cold start", pod_id=pod_id)
        say(f"stopping {pod_id} first (restart)")
        await stop_pod(api, pod_id, results_dir=out_dir)
    requested_at = time.perf_counter()
    started = await start_pod(api, pod_id)
    cold = ColdStart(started, pipeline_id, requested_at)
    cold.open_run(out_dir, {"poll_s": poll_s, "trial_s": trial_s, "restart": restart, "api": api.api_url,
                            "simulator_speed": await simulator_speed_at(api.api_url.removesuffix("/runpod"))
                            if cold.simulated else None})
    say(f"start requested: {pod_id}")
    try:
        await _watch_boot(cold, pod, poll_s, boot_timeout_s, say)
        await _serve_pipeline(cold, pod.scope_url, poll_s, trial_s, say)
    except LabError as exc:
        cold.error = error_record(exc, "warmup")
        say(f"failed: {type(exc).__name__}")
    except (KeyboardInterrupt, asyncio.CancelledError):
        cold.error = {"class": "Interrupted", "phase": "warmup", "message": "interrupted", "server_log": []}
        raise
    finally:
        cold.close_run()
    return cold


async def cold_start(target: str, pipeline_id: str, **options: Any) -> ColdStart:
    """:func:`warm_up` of the pod behind ``target`` (``sim``, a pod id, its proxy URL), stopped and
    started again if it runs: what notebook 01 calls. ``options`` are :func:`warm_up`'s."""
    pod = await pod_behind(target)
    if pod is None:
        raise PodError(f"{target!r} is not a RunPod pod (nor the simulator's emulated one): a cold start needs "
                       "a pod id, its proxy URL, or 'sim'.", action="time the pod's cold start")
    return await warm_up(pod, pipeline_id, **{"restart": True, **options})


async def _watch_boot(cold: ColdStart, pod: PodRef, poll_s: float, timeout_s: float,
                      say: Callable[[str], None]) -> None:
    """Poll the API and the proxy together until the container is up and /health answers."""
    last_sent = cold.requested_at
    async with httpx.AsyncClient(timeout=max(poll_s * 4, 5.0)) as http:
        while cold.stage("scope_healthy") is None or cold.stage("pod_running") is None:
            if time.perf_counter() - cold.requested_at > timeout_s:
                raise PodStartTimeoutError(
                    f"Pod {pod.pod_id} did not serve Scope's /health within {timeout_s:.0f} s of the start "
                    f"request (seen: {', '.join(s.name for s in cold.stages) or 'nothing'}). Look at its logs "
                    "in the RunPod console; a first start pulls the image, which can take long.",
                    action="time the pod's cold start", pod_id=pod.pod_id)
            sent = time.perf_counter()
            running, status = await asyncio.gather(_container_up(cold, pod), _health_status(http, pod.scope_url))
            now = time.perf_counter()  # what this poll saw happened since the previous one was sent
            if running and cold.stage("pod_running") is None:
                _seen(cold, "pod_running", now, now - last_sent, say)
            if status is not None and status != _STARTING_PAGE and cold.stage("proxy_answering") is None:
                _seen(cold, "proxy_answering", now, now - last_sent, say, f"HTTP {status}")
            if status == 200 and cold.stage("scope_healthy") is None:
                _seen(cold, "scope_healthy", now, now - last_sent, say)
            last_sent = sent
            await asyncio.sleep(poll_s)


async def _container_up(cold: ColdStart, pod: PodRef) -> bool:
    if cold.stage("pod_running") is not None:
        return True
    return (await get_pod(pod.api, pod.pod_id, action="time the pod's cold start")).status == "running"


async def _health_status(http: httpx.AsyncClient, scope_url: str) -> int | None:
    """The status of one /health request (None when the connection failed: not answering yet)."""
    try:
        return (await http.get(f"{scope_url}/health")).status_code
    except httpx.HTTPError:
        return None


def _seen(cold: ColdStart, name: str, at: float, resolution_s: float, say: Callable[[str], None],
          note: str = "") -> None:
    stage = cold.add(name, at, resolution_s, note)
    say(f"{name} at {stage.at_s:.2f} s")


async def _serve_pipeline(cold: ColdStart, scope_url: str, poll_s: float, trial_s: float,
                          say: Callable[[str], None]) -> None:
    """Models, load, first frame and steady output, through Scope's own routes and one short trial."""
    retry = RetryPolicy(attempts=3, budget_s=10, initial_backoff_s=0.05, max_backoff_s=0.5)
    async with ScopeClient(scope_url, poll_interval_s=poll_s, retry=retry) as client:
        schema = await client.pipeline_schema(cold.pipeline_id)
        if schema.requires_models and not (await client.models_status(cold.pipeline_id)).downloaded:
            def progress(event: DownloadProgressEvent) -> None:
                say(f"downloading {event.artifact or ''} {event.percentage or 0:.0f} %")
            download = await client.download_models(cold.pipeline_id, on_progress=progress)
            artifacts = ", ".join(download.artifacts) or "no artifact named"
            cold.add("models_present", time.perf_counter(), poll_s,
                     f"downloaded in {download.download_s:.2f} s: {artifacts}")
        else:
            cold.add("models_present", time.perf_counter(), None, "already on the pod")
        mode = "text" if schema.default_mode == "text" else "video"
        spec = TrialSpec(cold.pipeline_id, mode=mode, duration_s=trial_s)
        load = await client.load_pipeline(cold.pipeline_id, load_params(spec, schema))
        cold.add("pipeline_loaded", load.started_at + load.load_s, load.poll_interval_s,
                 f"load {load.load_s:.2f} s")
        say(f"loaded {cold.pipeline_id} in {load.load_s:.2f} s; streaming {trial_s:g} s")
        (result,) = await run_session(client, spec, [Segment(spec.parameters)], load=load)
        first_ns = result.timeline.first_frame_ns
        if first_ns is not None:
            cold.add("first_frame", first_ns / 1e9, None, f"{result.timeline.ttff_s or 0:.2f} s after the offer")
        warmup = next((f for f in result.figures if f.name == "warmup_s"), None)
        if first_ns is not None and warmup is not None and warmup.value is not None:
            cold.add("steady_output", first_ns / 1e9 + warmup.value, None, f"warm-up {warmup.value:.2f} s")
        if result.error is not None:
            cold.error = result.error
        elif cold.stage("steady_output") is None:
            cold.error = {"class": "NoSteadyOutput", "phase": "warmup", "server_log": [],
                          "message": f"the {trial_s:g} s trial never reached a steady rate; pass a longer --trial-s"}
