"""The hosted ``streamdiffusion`` pipeline as the media path runs it, one profile per model.

Hosted StreamDiffusion is an image model run frame by frame: one input frame per step, one
output frame per step. The numbers are emulation choices, NOT measurements: plausible for a
hosted GPU so that the workbench has something to measure (steady output fps =
1 / chunk_compute_s: sd-turbo 22, the SD 1.5 models 17, sdxl-turbo 12), with a short
warm-up. They run in real time, like every media time of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.sim.media.chain import Chain, build_chain
from lab.sim.profiles import PipelineProfile

__all__ = ["PIPELINE", "ModelTiming", "MODEL_TIMINGS", "chain_for"]

PIPELINE = "streamdiffusion"


@dataclass(frozen=True)
class ModelTiming:
    """What differs between the public models: the output size and the time of one frame."""

    size: int
    frame_s: float


MODEL_TIMINGS: dict[str, ModelTiming] = {
    "stabilityai/sd-turbo": ModelTiming(size=512, frame_s=0.045),
    "stabilityai/sdxl-turbo": ModelTiming(size=1024, frame_s=0.083),
    "Lykon/dreamshaper-8": ModelTiming(size=512, frame_s=0.06),
    "prompthero/openjourney-v4": ModelTiming(size=512, frame_s=0.06),
}


def _profile(model_id: str, timing: ModelTiming) -> PipelineProfile:
    return PipelineProfile.model_validate({
        "id": PIPELINE,
        "name": f"StreamDiffusion ({model_id}, hosted)",
        "description": "Daydream's hosted StreamDiffusion, as the simulator emulates it.",
        "supported_modes": ["video"],
        "default_mode": "video",
        "supports_prompts": True,
        "config": {"title": "HostedStreamDiffusionConfig",
                   "defaults": {"height": timing.size, "width": timing.size}},
        "emulation": {
            "load_s": 0.0,
            "chunk_frames": 1,
            # A real-time service works on fresh frames: it holds one input frame, not the 2 s
            # of input a Scope-sized queue (30) keeps through start-up and then works off.
            "input_queue_frames": 1,
            "output_frames_per_chunk": 1,
            "media": "generative",
            "chunk_compute_s": timing.frame_s,
            "chunk_compute_cv": 0.08,
            "warmup_chunks": 10,
            "warmup_factor": 2.0,
            "flicker_amplitude": 3.0,
        },
    })


_PROFILES = {model_id: _profile(model_id, timing) for model_id, timing in MODEL_TIMINGS.items()}


def chain_for(params: dict[str, Any]) -> Chain:
    """The chain a stream with these (accepted) params runs: its model, at its size."""
    profile = _PROFILES[params["model_id"]]
    size = {key: params[key] for key in ("width", "height") if params.get(key)}
    chain = build_chain([PIPELINE], {PIPELINE: profile}, size)
    assert chain is not None  # the one pipeline is always known
    return chain
