"""Load parameters are checked against the pipeline's own schema before they are sent."""

from __future__ import annotations

import pytest

from lab.models import PipelineSchema, PipelineSchemas
from lab.params import load_param_problems
from tests.conftest import load_fixture

WAN_LIKE = PipelineSchema(
    id="wan-like",
    supports_vace=True,
    supports_quantization=True,
    supports_lora=True,
    min_dimension=16,
    config_schema={
        "properties": {
            "height": {"type": "integer", "minimum": 16, "default": 320},
            "width": {"type": "integer", "minimum": 16, "default": 576},
            "base_seed": {"type": "integer", "minimum": 0, "default": 42},
            "quantization": {"anyOf": [{"$ref": "#/$defs/Quantization"}, {"type": "null"}], "default": None},
            "vace_context_scale": {"type": "number", "minimum": 0, "maximum": 2, "default": 1.0},
        },
        "$defs": {"Quantization": {"enum": ["fp8_e4m3fn"], "type": "string"}},
    },
)


def passthrough() -> PipelineSchema:
    return PipelineSchemas.model_validate(load_fixture("pipelines_schemas.json")).pipelines["passthrough"]


def test_valid_parameters_have_no_problems() -> None:
    params = {"height": 512, "width": 512, "base_seed": 7, "quantization": "fp8_e4m3fn",
              "vace_enabled": True, "vace_context_scale": 1.5, "lora_merge_mode": "runtime_peft"}
    assert load_param_problems(WAN_LIKE, params) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"seed": 1}, "did you mean 'base_seed'", id="typo"),
        pytest.param({"height": 500}, "not a multiple of 16", id="multiple-16"),
        pytest.param({"height": "512"}, "is not of type 'integer'", id="type"),
        pytest.param({"base_seed": -1}, "less than the minimum", id="minimum"),
        pytest.param({"vace_context_scale": 3}, "greater than the maximum", id="maximum"),
        pytest.param({"quantization": "int4"}, "is not valid under any of the given schemas", id="enum-ref"),
        pytest.param({"loras": [{"scale": 1}]}, "'path' is a required property", id="lora-shape"),
    ],
)
def test_each_problem_is_named(params: dict[str, object], expected: str) -> None:
    problems = load_param_problems(WAN_LIKE, params)
    assert len(problems) == 1
    assert expected in problems[0]


def test_capabilities_come_from_the_real_schema() -> None:
    problems = load_param_problems(passthrough(), {"vace_enabled": True, "loras": [{"path": "/x"}], "quantization": "fp8_e4m3fn"})
    text = " | ".join(problems)
    assert "does not support VACE" in text and "does not support LoRA" in text
    assert "unknown key 'quantization'" in text  # passthrough's schema has no quantization property


def test_vace_disabled_is_fine_anywhere() -> None:
    assert load_param_problems(passthrough(), {"vace_enabled": False}) == []
