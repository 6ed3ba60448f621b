"""What a session runs: the pipeline chain, from ``pipeline_ids``, profiles and load params.

The *main* pipeline (the first without a pre/postprocessor ``usage``, else the last one)
decides the chunking, timing and content. Other pipelines of the chain contribute their
``pipeline_delay_s``; a ``gray`` preprocessor also turns the input gray. Other pre- and
postprocessors are not imitated beyond that (rife does not double the frame rate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import av

from lab.sim.profiles import PipelineProfile

__all__ = ["Chain", "build_chain", "grayscale"]


@dataclass(frozen=True)
class Chain:
    """A resolved pipeline chain and the numbers its emulation needs.

    Attributes
    ----------
    main
        The pipeline that decides chunking, timing and content.
    grays_input
        Whether the input is turned gray (a ``gray`` main pipeline or preprocessor).
    width, height
        Generative output size: the load params', else the loader's default.
    pixel_ratio
        Output pixels relative to the loader's default resolution.
    default_steps
        Length of the pipeline's default denoising step list.
    vace_enabled
        Loaded with VACE (``vace_enabled`` load param, default true) and VACE-capable.
    delay_ns
        Sum of the chain's ``pipeline_delay_s``, in ns.
    """

    main: PipelineProfile
    grays_input: bool
    width: int
    height: int
    pixel_ratio: float
    default_steps: int
    vace_enabled: bool
    delay_ns: int

    @property
    def generative(self) -> bool:
        """The main pipeline generates frames (chunked, compute-bound)."""
        return self.main.emulation.media == "generative"

    @property
    def chunk_frames(self) -> int:
        """Input frames per chunk in video mode."""
        return self.main.emulation.chunk_frames

    @property
    def text_capable(self) -> bool:
        """Whether it makes frames without input (text mode)."""
        return self.generative and "text" in self.main.supported_modes

    @property
    def video_capable(self) -> bool:
        """Whether it makes frames from input (video mode)."""
        return "video" in self.main.supported_modes


def grayscale(frame: av.VideoFrame) -> av.VideoFrame:
    """A gray copy of ``frame`` (its luma), same size."""
    return av.VideoFrame.from_ndarray(frame.to_ndarray(format="gray"), format="gray")


def build_chain(
    pipeline_ids: Sequence[str],
    profiles: Mapping[str, PipelineProfile],
    load_params: Mapping[str, Any] | None,
) -> Chain | None:
    """Resolve a session's chain; ``None`` when it is empty or names an unknown pipeline.

    Examples
    --------
    >>> from lab.sim.profiles import load_profiles
    >>> profiles = {p.id: p for p in load_profiles().pipelines}
    >>> chain = build_chain(["longlive"], profiles, None)
    >>> chain.chunk_frames, (chain.width, chain.height), chain.vace_enabled
    (12, (576, 320), True)
    """
    stages = [profiles.get(pid) for pid in pipeline_ids]
    if not stages or any(stage is None for stage in stages):
        return None
    chain = [stage for stage in stages if stage is not None]
    main = next((stage for stage in chain if not stage.usage), chain[-1])
    before_main = chain[: chain.index(main)]
    params = dict(load_params or {})
    defaults = {
        name: spec.get("default") for name, spec in main.config_schema["properties"].items()
    }
    default_height = main.emulation.loader_height or defaults["height"]
    default_width = main.emulation.loader_width or defaults["width"]
    height = int(params.get("height") or default_height)
    width = int(params.get("width") or default_width)
    steps = defaults.get("denoising_steps") or []
    return Chain(
        main=main,
        grays_input=any(stage.emulation.media == "gray" for stage in [*before_main, main]),
        width=width,
        height=height,
        pixel_ratio=(width * height) / (default_width * default_height),
        default_steps=max(len(steps), 1),
        vace_enabled=main.supports_vace and bool(params.get("vace_enabled", True)),
        delay_ns=round(sum(stage.emulation.pipeline_delay_s for stage in chain) * 1e9),
    )
