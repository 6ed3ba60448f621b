"""The response models accept what real Scope sends, keep unknown fields, and expose helpers."""

from __future__ import annotations

import pytest

from lab.models import (
    AssetInfo,
    HardwareInfo,
    Health,
    IceServer,
    LoraFile,
    ModelsStatus,
    PipelineSchemas,
    PipelineStatus,
    SessionMetrics,
)
from tests.conftest import load_fixture


def test_real_health_is_not_a_simulator() -> None:
    health = Health.model_validate(load_fixture("health.json"))
    assert (health.version, health.git_commit, health.is_simulator) == ("0.2.4", "68b0f956", False)


def test_real_schemas_parse_with_resolution_and_capabilities() -> None:
    schemas = PipelineSchemas.model_validate(load_fixture("pipelines_schemas.json"))
    assert schemas.ids == ["passthrough", "controller-viz", "rife", "scribble", "gray", "optical-flow"]
    passthrough = schemas.pipelines["passthrough"]
    assert passthrough.resolution() == (512, 512)
    assert passthrough.supports_vace is False and passthrough.estimated_vram_gb is None
    assert passthrough.is_generative is False
    assert schemas.pipelines["gray"].usage == ["preprocessor"]


@pytest.mark.parametrize("name", ["pipeline_load_gray_sequence.json", "pipeline_load_passthrough_sequence.json"])
def test_real_load_sequences_parse(name: str) -> None:
    statuses = [PipelineStatus.model_validate(step["status"]) for step in load_fixture(name) if "status" in step]
    assert statuses[-1].status == "loaded"
    assert {s.status for s in statuses} <= {"not_loaded", "loading", "loaded"}


def test_other_real_responses_parse() -> None:
    assert PipelineStatus.model_validate(load_fixture("pipeline_status_initial.json")).status == "not_loaded"
    assert HardwareInfo.model_validate(load_fixture("hardware_info.json")).vram_gb is None
    assert ModelsStatus.model_validate(load_fixture("models_status_passthrough.json")).downloaded is True
    assert SessionMetrics.model_validate(load_fixture("session_metrics_idle.json")).sessions == {}
    assert load_fixture("ice_servers.json") == {"iceServers": []}


# Example responses in the shapes Scope's API documents for states no capture shows (loading, error).
def test_documented_examples_parse() -> None:
    status = PipelineStatus.model_validate({
        "status": "loading", "pipeline_id": None, "load_params": {"height": 320}, "loaded_lora_adapters": None,
        "error": None, "loading_stage": "Loading VAE...", "produces_video": True, "produces_audio": False})
    assert status.loading_stage == "Loading VAE..."
    progress = ModelsStatus.model_validate({"downloaded": False, "progress": {
        "is_downloading": True, "percentage": 41.5, "current_artifact": "daydreamlive/LongLive-1.3B"}})
    assert progress.progress is not None and progress.progress.percentage == 41.5
    asset = AssetInfo.model_validate({"name": "ref", "path": "/home/u/.daydream-scope/assets/ref.png",
                                      "size_mb": 0.12, "folder": None, "type": "image", "created_at": 1.0})
    assert asset.path.startswith("/")
    lora = LoraFile.model_validate({"name": "x", "path": "/m/lora/x.safetensors", "size_mb": 1.0, "folder": None,
                                    "sha256": None, "provenance": None, "read_only": False})
    assert lora.read_only is False
    metrics = SessionMetrics.model_validate({"sessions": {"abc": {"frames_in": 10, "frames_out": 8, "fps_out": 7.9}},
                                             "gpu": {"vram_allocated_mb": 1.0}})
    assert metrics.sessions["abc"]["frames_out"] == 8


def test_unknown_fields_are_kept() -> None:
    health = Health.model_validate({"status": "healthy", "version": "9.9", "uptime_s": 12})
    assert health.model_extra == {"uptime_s": 12}


def test_ice_server_redaction_and_turn_detection() -> None:
    turn = IceServer.model_validate({"urls": ["turn:turn.example:3478?transport=udp"], "username": "u1", "credential": "s3cret"})
    stun = IceServer.model_validate({"urls": "stun:stun.example:19302", "username": None, "credential": None})
    assert turn.is_turn and not stun.is_turn
    assert stun.url_list == ["stun:stun.example:19302"]
    redacted = str(turn.redacted())
    assert "s3cret" not in redacted and "u1" not in redacted and "turn:turn.example" in redacted


def test_schema_without_resolution_has_none() -> None:
    schemas = PipelineSchemas.model_validate({"pipelines": {"broken": {"id": "broken", "schema_error": "boom"}}})
    assert schemas.pipelines["broken"].resolution() is None
