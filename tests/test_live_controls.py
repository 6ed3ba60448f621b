"""Runtime controls from pipeline schemas, prompt updates and update diffing (no server, no browser)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.live.controls import (
    Transition,
    UpdateTracker,
    parse_steps,
    prompt_items,
    prompt_update,
    runtime_controls,
)
from lab.models import PipelineSchema, PipelineSchemas
from tests.conftest import load_fixture


@pytest.fixture(scope="module")
def schemas() -> PipelineSchemas:
    """The schemas a real Scope 0.2.4 sent (captured fixture)."""
    return PipelineSchemas.model_validate(load_fixture("pipelines_schemas.json"))


def _keys(schema: PipelineSchema, mode: str) -> list[str]:
    return [control.key for control in runtime_controls(schema, mode)]


def test_wan_pipeline_offers_steps_vace_and_cache_and_noise_only_in_video_mode() -> None:
    schema = PipelineSchema(
        id="wan", supports_vace=True, supports_cache_management=True,
        config_schema={"properties": {
            "denoising_steps": {"default": [1000, 750, 500, 250]},
            "noise_scale": {"anyOf": [{"type": "number", "minimum": 0.0, "maximum": 1.0}, {"type": "null"}],
                            "default": 0.7},
            "noise_controller": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": True},
            "vace_context_scale": {"type": "number", "minimum": 0.0, "maximum": 2.0, "default": 1.0},
            "manage_cache": {"type": "boolean", "default": True},
        }},
        mode_defaults={"video": {"denoising_steps": [1000, 750], "noise_scale": 0.6}},
    )
    assert _keys(schema, "text") == ["denoising_step_list", "vace_context_scale", "manage_cache"]
    video = {c.key: c for c in runtime_controls(schema, "video")}
    assert list(video) == ["denoising_step_list", "noise_scale", "noise_controller", "vace_context_scale",
                           "manage_cache"]
    # the mode's own defaults win over the schema's
    assert video["denoising_step_list"].default == [1000, 750]
    assert (video["noise_scale"].default, video["noise_scale"].minimum, video["noise_scale"].maximum) == (0.6, 0.0, 1.0)
    assert (video["vace_context_scale"].minimum, video["vace_context_scale"].maximum) == (0.0, 2.0)
    assert all(c.sent_at_start for c in video.values())


def test_kv_cache_bias_is_offered_but_not_sent_until_moved() -> None:
    schema = PipelineSchema(id="krea", supports_kv_cache_bias=True)
    (control,) = runtime_controls(schema, "text")
    assert control.key == "kv_cache_attention_bias" and not control.sent_at_start
    assert control.minimum == 0.01 and control.maximum == 1.0


def test_properties_marked_as_runtime_by_their_ui_object_become_controls() -> None:
    schema = PipelineSchema(id="plugin", config_schema={"properties": {
        "strength": {"type": "number", "minimum": 0, "maximum": 4, "default": 1.5,
                     "ui": {"is_load_param": False, "label": "effect strength"}},
        "mirror": {"type": "boolean", "default": False, "ui": {"is_load_param": False, "modes": ["video"]}},
        "height": {"type": "integer", "default": 512, "ui": {"is_load_param": False}},  # named: never generic
        "size": {"type": "integer", "minimum": 1, "maximum": 9, "ui": {"is_load_param": True}},
        "tint": {"type": "string", "ui": {"is_load_param": False}},  # no widget for free text
    }})
    text = runtime_controls(schema, "text")
    assert [(c.key, c.label, c.kind, c.default, c.maximum) for c in text] == [
        ("strength", "effect strength", "float", 1.5, 4.0)]
    assert _keys(schema, "video") == ["strength", "mirror"]


def test_real_scope_cpu_pipelines_offer_no_runtime_controls(schemas: PipelineSchemas) -> None:
    # They list manage_cache and vace_context_scale properties, but without the capability
    # flags (supports_cache_management, supports_vace) those are not runtime controls.
    for schema in schemas.pipelines.values():
        for mode in schema.supported_modes:
            assert _keys(schema, mode) == [], (schema.id, mode)


def test_parse_steps_accepts_commas_or_spaces_and_explains_bad_input() -> None:
    assert parse_steps("1000,750, 500 250") == [1000, 750, 500, 250]
    with pytest.raises(ValueError, match="whole numbers"):
        parse_steps("1000, abc")
    with pytest.raises(ValueError, match="descending"):
        parse_steps("500, 750")
    with pytest.raises(ValueError, match="at least one"):
        parse_steps(" , ")


def test_prompts_leave_out_empty_and_unweighted_entries_and_a_transition_wraps_them() -> None:
    prompts = prompt_items([(" a fox ", 0.8), ("  ", 1.0), ("snow", 0.0), ("dusk", 0.2)])
    assert prompts == [{"text": "a fox", "weight": 0.8}, {"text": "dusk", "weight": 0.2}]
    assert prompt_update(prompts, Transition()) == {"prompts": prompts}
    assert prompt_update(prompts, Transition(enabled=True, num_steps=6, method="slerp")) == {
        "transition": {"target_prompts": prompts, "num_steps": 6, "temporal_interpolation_method": "slerp"}}
    assert prompt_update(prompts, Transition(enabled=True, num_steps=0)) == {"prompts": prompts}


def test_tracker_sends_only_changes_and_always_one_shot_keys() -> None:
    first: dict[str, Any] = {"prompts": [{"text": "a", "weight": 1.0}], "noise_scale": 0.7}
    tracker = UpdateTracker(first)
    assert tracker.changes(first) == {}
    assert tracker.changes({"noise_scale": 0.5, "prompts": first["prompts"]}) == {"noise_scale": 0.5}
    assert tracker.changes({"vace_context_scale": 1.0}) == {"vace_context_scale": 1.0}  # never sent yet
    refs = {"vace_ref_images": ["/assets/ref.png"], "reset_cache": True}
    tracker.mark_sent(refs)
    assert tracker.changes(refs) == refs  # Scope forgets them after one chunk
    assert "vace_ref_images" not in tracker.sent


def test_a_sent_transition_counts_as_its_target_prompts() -> None:
    tracker = UpdateTracker({"prompts": [{"text": "a", "weight": 1.0}]})
    target = [{"text": "b", "weight": 1.0}]
    tracker.mark_sent(prompt_update(target, Transition(enabled=True)))
    assert tracker.sent["prompts"] == target
    assert tracker.changes({"prompts": target}) == {}
