"""A local simulator of the Daydream Scope server (HTTP API), for running and testing the lab.

It answers every route of Scope 0.2.4 with the same shapes, emulates pipeline loads, model
downloads and assets from a profile file, injects faults on demand, and says that it is a
simulator (``/health`` has ``"simulator": true`` and ``git_commit`` ``"simulator"``).

Modules::

    config        SimConfig: how a simulator starts
    profiles      pipeline profiles (YAML) and Scope's schema metadata
    config_schema pipeline config JSON Schemas
    faults        Fault, parse_fault_spec, the book of active faults
    middleware    HTTP faults as ASGI middleware
    loader        pipeline load state machine
    graph         a headless start's graph: Scope's checks, the one shape the simulator runs
    downloads     model files and emulated downloads
    assets        the asset directory
    host          fixed host answers (hardware integrations, API keys)
    userdata      stored API keys and onboarding answers
    loras         the emulated LoRA directory;  plugins: the emulated plugin list
    catalogue     node definitions and workflow dependency checks
    integrations  OSC, DMX, tempo, cloud and input sources, as a pod without them answers
    input_sources the video_file input source;  input_preview: its MJPEG preview stream
    recordings    recording switches of sessions (WebRTC and headless)
    simlog        the simulator's in-memory log (/api/v1/logs/*)
    errors        RouteError: a Scope refusal raised by state modules
    state         SimState: all mutable state, resettable
    routes        Scope's core routes; routes_session, routes_library, routes_host and
                  routes_live the rest;  control: the /sim/ control API;  deps: FastAPI dependency
    app           create_app
    inprocess     httpx client over ASGI for fast tests
    launch        start_simulator / shared_simulator (child process)
    cli           ``lab sim`` / ``python -m lab.sim``
    media/        the WebRTC side: signalling, emulated pipelines, pacing, ground truth
    runpod/       an emulated RunPod account: its pods, the GraphQL API RunPod's SDK uses,
                  the proxy in front of this Scope (``/runpod/...``)
"""

from __future__ import annotations

from lab.sim.app import create_app
from lab.sim.config import SimConfig
from lab.sim.faults import Fault, parse_fault_spec
from lab.sim.inprocess import in_process_client
from lab.sim.launch import RunningSimulator, shared_simulator, start_simulator

__all__ = [
    "Fault",
    "RunningSimulator",
    "SimConfig",
    "create_app",
    "in_process_client",
    "parse_fault_spec",
    "shared_simulator",
    "start_simulator",
]
