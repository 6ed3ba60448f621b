"""The client against the simulator over loopback: every endpoint it uses, and loading."""

from __future__ import annotations

import pytest

from lab.client import LoadProgress, ScopeClient
from lab.connect import connect
from lab.errors import InvalidParametersError, ModelsNotDownloadedError, ServerError, TargetError, UnknownPipelineError
from lab.overview import server_overview
from tests.conftest import SimControl

WAN = ["streamdiffusionv2", "longlive", "krea-realtime-video", "reward-forcing", "memflow"]


async def test_health_says_simulator(client: ScopeClient) -> None:
    health = await client.health()
    assert health.status == "healthy" and health.version == "0.2.4"
    assert health.is_simulator


async def test_schemas_come_from_the_server(client: ScopeClient, sim: SimControl) -> None:
    schemas = await client.pipeline_schemas()
    assert set(WAN + ["passthrough", "gray"]) <= set(schemas.ids)
    longlive = schemas.pipelines["longlive"]
    assert longlive.supports_vace and longlive.estimated_vram_gb == 20
    assert longlive.resolution() == (320, 576)
    assert longlive.resolution("video") == (512, 512)
    assert schemas.pipelines["krea-realtime-video"].estimated_vram_gb == 32
    assert schemas.pipelines["streamdiffusionv2"].resolution() == (512, 512)


async def test_hardware_and_vram_change(client: ScopeClient, sim: SimControl) -> None:
    assert (await client.hardware_info()).vram_gb == 32.0
    sim.put("/sim/hardware", {"vram_gb": 24.0})
    assert (await client.hardware_info()).vram_gb == 24.0


async def test_openapi_lists_scope_paths(client: ScopeClient) -> None:
    paths = (await client.openapi())["paths"]
    assert "/api/v1/pipeline/load" in paths and "/api/v1/pipelines/schemas" in paths


async def test_ice_servers_loras_metrics(client: ScopeClient, sim: SimControl) -> None:
    assert await client.ice_servers() == []
    assert await client.loras() == []
    assert (await client.session_metrics()).sessions == {}
    sim.put("/sim/ice-servers", [{"urls": ["turn:turn.sim:3478"], "username": "u", "credential": "secret"}])
    servers = await client.ice_servers()
    assert servers[0].is_turn and "secret" not in str(servers[0].redacted())


async def test_passthrough_loads_and_reports_time(client: ScopeClient) -> None:
    result = await client.load_pipeline("passthrough")
    assert result.pipeline_id == "passthrough" and result.load_s > 0 and result.polls >= 1
    status = await client.pipeline_status()
    assert (status.status, status.pipeline_id) == ("loaded", "passthrough")


async def test_generative_load_downloads_then_reports_stages(client: ScopeClient) -> None:
    with pytest.raises(ModelsNotDownloadedError, match="download_models"):
        await client.load_pipeline("longlive")
    events: list[LoadProgress] = []
    result = await client.load_pipeline("longlive", {"height": 512, "width": 512}, download_missing=True,
                                        on_progress=events.append)
    assert result.download is not None and result.download.download_s > 0
    assert result.download.artifacts  # current_artifact names were seen while downloading
    stages = [s.stage for s in result.stages]
    assert stages[0] == "Initializing pipeline..." and stages[-1] == "Warming up model..."
    assert [s.first_seen_s for s in result.stages] == sorted(s.first_seen_s for s in result.stages)
    assert any(e.status == "loading" for e in events) and events[-1].status == "loaded"
    # the profile says 45 s at speed 1; at speed 100 that is 0.45 s, within poll resolution and overhead
    assert 0.4 < result.load_s < 0.45 + 0.3
    assert (await client.models_status("longlive")).downloaded


async def test_same_load_again_is_reused(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/models", {"longlive": True})
    first = await client.load_pipeline("longlive")
    again = await client.load_pipeline("longlive")
    assert again.load_s < first.load_s / 2


async def test_unknown_pipeline_lists_valid_ids(client: ScopeClient) -> None:
    with pytest.raises(UnknownPipelineError, match="longlive") as info:
        await client.load_pipeline("longlife")
    assert "passthrough" in info.value.known


async def test_invalid_params_are_not_sent(client: ScopeClient, sim: SimControl) -> None:
    with pytest.raises(InvalidParametersError) as info:
        await client.load_pipeline("longlive", {"seed": 3, "height": 500, "quantization": "int4"})
    text = str(info.value)
    assert "did you mean 'base_seed'" in text and "multiple of 16" in text and "quantization='int4'" in text
    assert (await client.pipeline_status()).status == "not_loaded"
    with pytest.raises(InvalidParametersError, match="does not support VACE"):
        await client.load_pipeline("passthrough", {"vace_enabled": True})


async def test_assets_upload_list_and_bad_names(client: ScopeClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "ref.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    asset = await client.upload_asset(image)
    assert asset.path.startswith("/") and asset.path.endswith("ref.png")
    listed = await client.assets("image")
    assert [a.path for a in listed] == [asset.path]
    with pytest.raises(ValueError, match="extensions"):
        await client.upload_asset(b"x", "notes.txt")
    with pytest.raises(ServerError, match="Invalid filename") as info:
        await client.upload_asset(b"x", "../escape.png")
    assert info.value.status_code == 400


async def test_download_already_running_is_waited_for(client: ScopeClient) -> None:
    await client._post("/api/v1/models/download", json={"pipeline_id": "memflow"})
    result = await client.download_models("memflow")  # the server answers 409; the client waits
    assert result.download_s > 0 and (await client.models_status("memflow")).downloaded


async def test_overview_table_is_labelled_simulated(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/hardware", {"vram_gb": 24.0})
    table = (await server_overview(client)).pipelines_table()
    krea = table.set_index("pipeline").loc["krea-realtime-video"]
    assert (krea["VACE"], krea["fits GPU"], krea["models"]) == ("yes", "NO", "missing")
    assert set(table["source"]) == {"SIMULATED"}


async def test_a_bare_client_on_sim_says_how_to_start_it() -> None:
    """The client never starts the simulator itself (lab.connect does); without it, 'sim' has no URL."""
    with pytest.raises(TargetError, match=r"lab\.connect\.connect\('sim'\)"):
        async with ScopeClient("sim"):
            pass


async def test_sim_target_starts_the_shared_simulator() -> None:
    async with connect("sim") as scope:
        assert (await scope.health()).is_simulator
        assert scope.target.is_loopback and scope.url.startswith("http://127.0.0.1:")
