"""Each error class provoked through the simulator's fault injection, message checked."""

from __future__ import annotations

import socket

import httpx
import pytest

from lab.client import ScopeClient
from lab.errors import (
    NotScopeError,
    PipelineLoadError,
    PodNotReadyError,
    ResponseTimeout,
    ServerError,
    UnreachableError,
)
from lab.http import RetryPolicy
from tests.conftest import SimControl


async def test_server_error_carries_the_detail(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("http_error", status=500, message="CUDA driver exploded", paths=["/api/v1/hardware"])
    with pytest.raises(ServerError, match="CUDA driver exploded") as info:
        await client.hardware_info()
    assert info.value.status_code == 500 and "logs/tail" in str(info.value)


async def test_transient_503_is_retried_until_it_clears(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("http_error", status=503, count=2, paths=["/health"])
    assert (await client.health()).status == "healthy"
    assert sim.faults() == []  # both 503s were consumed by retries


async def test_persistent_proxy_502_is_pod_not_ready(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("html", status=502)
    with pytest.raises(PodNotReadyError, match="still starting") as info:
        await client.health()
    assert info.value.status_code == 502


async def test_proxy_404_page_means_stopped_or_wrong_port(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("html", status=404)
    with pytest.raises(PodNotReadyError, match="stopped or does not exist"):
        await client.health()


async def test_html_200_is_not_scope(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("html", status=200, paths=["/api/v1/pipelines"])
    with pytest.raises(NotScopeError, match="HTML page, not JSON"):
        await client.pipeline_schemas()


async def test_slow_answer_times_out(sim: SimControl) -> None:
    sim.fault("slow", delay_s=1.0, paths=["/health"])
    async with ScopeClient(sim.url, timeout=0.2) as scope:
        with pytest.raises(ResponseTimeout, match="got no answer within 0.2 s"):
            await scope.health()


async def test_dropped_connection_is_retried(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("drop", count=1, paths=["/health"])
    assert (await client.health()).status == "healthy"


async def test_dropped_connection_for_good_is_unreachable(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("drop", paths=["/health"])
    with pytest.raises(UnreachableError, match="closed before a complete answer") as info:
        await client.health()
    assert info.value.reason == "dropped"


async def test_nothing_listening_is_refused() -> None:
    with socket.socket() as sock:  # a loopback port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ScopeClient(f"http://127.0.0.1:{port}", retry=RetryPolicy.none()) as scope:
        with pytest.raises(UnreachableError, match="lab sim") as info:
            await scope.health()
    assert info.value.reason == "refused"


async def test_https_to_plain_http_is_tls(sim: SimControl) -> None:
    url = httpx.URL(sim.url).copy_with(scheme="https")
    async with ScopeClient(str(url), retry=RetryPolicy.none()) as scope:
        with pytest.raises(UnreachableError, match="plain http://") as info:
            await scope.health()
    assert info.value.reason == "tls"


async def test_load_error_names_stage_and_lack_of_reason(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    sim.fault("load_error", stage="Loading text encoder...")
    with pytest.raises(PipelineLoadError, match="load status gave no reason") as info:
        await client.load_pipeline("longlive")
    assert info.value.stage == "Loading text encoder..."
    assert (await client.pipeline_status()).status == "not_loaded"  # the one-shot error is gone


async def test_load_error_text_is_passed_on_when_the_server_has_it(client: ScopeClient, sim: SimControl) -> None:
    sim.fault("load_error", message="weights file truncated", stage="Loading VAE...")
    with pytest.raises(PipelineLoadError, match="The server said: weights file truncated"):
        await client.load_pipeline("gray")


async def test_low_vram_is_explained_as_out_of_memory(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    sim.put("/sim/hardware", {"vram_gb": 8.0})
    with pytest.raises(PipelineLoadError, match=r"out of GPU memory: longlive needs about 20 GB and the GPU has 8.0 GB") as info:
        await client.load_pipeline("longlive")
    assert "fp8_e4m3fn" in str(info.value)
    assert info.value.stage == "Loading diffusion model..."


async def test_oom_fault_fails_at_the_diffusion_model(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"streamdiffusionv2": True})
    sim.fault("oom")
    with pytest.raises(PipelineLoadError) as info:
        await client.load_pipeline("streamdiffusionv2")
    assert info.value.stage == "Loading diffusion model..." and not info.value.timed_out


async def test_load_timeout_reports_the_stage(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"krea-realtime-video": True})
    with pytest.raises(PipelineLoadError, match="did not finish within") as info:
        await client.load_pipeline("krea-realtime-video", timeout_s=0.1)
    assert info.value.timed_out and info.value.stage == "Initializing pipeline..."
