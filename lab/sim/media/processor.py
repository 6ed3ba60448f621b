"""The frame processor: turns input frames into output frames, chunk by chunk, like Scope.

Each step applies at most one pending parameter update, then:

* video mode: waits until the input queue holds a chunk (``chunk_frames``) and takes one,
  sampled uniformly from what is queued (skipping the frames between; see
  :mod:`lab.sim.media.queues`);
* text mode: generative pipelines generate without input; video-only pipelines (passthrough,
  gray) make nothing and wait for a parameter update;

and then processes the chunk. Passthrough and gray return their input frames (gray turned
gray) with the input timestamps; their frames are ready ``pipeline_delay_s`` after the chunk
is complete. Generative pipelines paint ``output_frames_per_chunk`` frames from the prompts
in force (and the input, in video mode), with the VACE reference images and flicker that
:mod:`lab.sim.media.quality` decides, and take the chunk's emulated compute time, in real
time. The output frames go into the bounded output queue, which drops what does not fit.
Every chunk is recorded in the session's ground truth.

Paused, it starts no new chunk. A cache reset or an ``input_mode`` change restarts warm-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from lab.sim.media.chain import Chain, grayscale
from lab.sim.media.pacing import Pacer
from lab.sim.media.parameters import ChunkParameters, SessionParameters, prompt_weights
from lab.sim.media.quality import (
    NOTHING_INJECTED,
    Injected,
    Injector,
    QualityKnobs,
    ReferenceImageError,
    References,
    reference_picture,
)
from lab.sim.media.queues import InputFrame, InputQueue, OutputBuffer, OutputFrame
from lab.sim.media.render import Painter
from lab.sim.media.timing import ChunkTimer
from lab.sim.media.truth import SessionTruth

__all__ = ["FrameProcessor"]

logger = logging.getLogger(__name__)

PromptMix = list[tuple[str, float]]
Processed = list[tuple[av.VideoFrame, InputFrame | None, Injected]]


@dataclass
class _Transition:
    """A prompt transition in progress (``transition`` parameter)."""

    start: PromptMix
    target: PromptMix
    target_prompts: list[Any]
    steps: int
    done: int = 0


class FrameProcessor:
    """Processes a session's chunks until cancelled.

    Parameters
    ----------
    chain
        What the session runs.
    params
        The session's parameters and pending updates.
    inputs, outputs
        Where input frames come from and output frames go.
    pacer
        Told about every output batch (it measures throughput).
    truth
        Where chunks are recorded.
    quality
        Run-time overrides of the profile's reference share, identity drift and flicker.
    seed
        Seed of the timing, pixel and flicker noise.
    """

    def __init__(
        self,
        chain: Chain,
        params: SessionParameters,
        inputs: InputQueue,
        outputs: OutputBuffer,
        pacer: Pacer,
        truth: SessionTruth,
        *,
        quality: QualityKnobs,
        seed: int,
    ) -> None:
        self._chain = chain
        self._params = params
        self._inputs = inputs
        self._outputs = outputs
        self._pacer = pacer
        self._truth = truth
        rng = np.random.default_rng(seed)
        self._timer = ChunkTimer(
            chain.main.emulation,
            pixel_ratio=chain.pixel_ratio,
            default_steps=chain.default_steps,
            vace_enabled=chain.vace_enabled,
            rng=rng,
        )
        self._painter = Painter(chain.width, chain.height, seed)
        # Its own stream, so that flicker draws do not shift the timing noise.
        self._injector = Injector(chain.main.emulation, quality, np.random.default_rng([seed, 1]))
        self._references: References | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._reset_requested = False
        self._mode: object = None
        self._mix: PromptMix = []
        self._transition: _Transition | None = None
        self._chunk_index = 0

    def pause(self) -> None:
        """Start no new chunk until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        """Start chunks again."""
        self._running.set()

    def request_reset(self) -> None:
        """Re-initialise the cache at the next chunk (warm-up starts again)."""
        self._reset_requested = True

    async def run(self) -> None:
        """Process chunks until cancelled."""
        chain = self._chain
        while True:
            await self._running.wait()
            chunk = self._params.next_chunk()
            if chunk.video_mode and chain.video_capable:
                inputs = await self._inputs.take(chain.chunk_frames, self._chunk_index)
            elif not chunk.video_mode and chain.text_capable:
                inputs = []
            else:
                await self._params.wait_for_update()  # nothing to make in this mode
                continue
            await self._run_chunk(chunk, inputs)

    async def _run_chunk(self, chunk: ChunkParameters, inputs: list[InputFrame]) -> None:
        started_ns = time.perf_counter_ns()
        mode = chunk.values.get("input_mode")
        if self._reset_requested or mode != self._mode:
            self._timer.restart_warmup()
            self._reset_requested = False
            self._mode = mode
        mix = self._prompt_mix(chunk)
        warmup = self._chain.generative and self._timer.warming_up
        if self._chain.generative:
            frames, compute_s = await self._generate(chunk, mix, inputs, started_ns)
        else:
            frames = [(self._filter(source.frame), source, NOTHING_INJECTED) for source in inputs]
            compute_s = 0.0
        done_ns = time.perf_counter_ns()
        dropped = self._outputs.extend((
            OutputFrame(
                frame=frame,
                ready_ns=done_ns + self._chain.delay_ns,
                chunk_index=self._chunk_index,
                # Passthrough and gray forward the input timestamps; generative ones do not.
                pts=None if self._chain.generative or source is None else source.frame.pts,
                source=source,
                injected=injected,
            )
            for frame, source, injected in frames
        ), done_ns)
        self._pacer.add_batch(done_ns, len(frames))
        self._truth.chunks.append(
            chunk_index=self._chunk_index,
            started_ns=started_ns,
            done_ns=done_ns,
            frames=len(frames),
            outputs_dropped=dropped,
            compute_s=compute_s,
            warmup=warmup,
            prompt=_label(mix),
            update_received_ns=chunk.update_received_ns,
            ref_images=[] if self._references is None else list(self._references.paths),
            ref_since_ns=None if self._references is None else self._references.since_ns,
        )
        self._chunk_index += 1

    async def _generate(
        self, chunk: ChunkParameters, mix: PromptMix, inputs: list[InputFrame], started_ns: int
    ) -> tuple[Processed, float]:
        """Paint a chunk's frames, then wait out its emulated compute time (real time)."""
        compute_s = self._timer.next_s(
            steps=_count(chunk.values.get("denoising_step_list")) or None,
            ref_images=_count(chunk.values.get("vace_ref_images")),
        )
        count = self._chain.main.emulation.frames_per_chunk
        references = await self._update_references(chunk, started_ns)
        plan = self._injector.plan(
            count,
            started_ns=started_ns,
            compute_s=compute_s,
            context_scale=_context_scale(chunk),
            references=references,
        )
        reference = None if references is None else references.picture
        frames: Processed = []
        for index, injected in enumerate(plan):
            source = inputs[index * len(inputs) // count] if inputs else None
            picture = None if source is None else self._filter(source.frame)
            frame = self._painter.paint(
                mix,
                picture,
                reference=reference,
                ref_share=injected.ref_share,
                flicker_offset=injected.flicker_offset,
            )
            frames.append((frame, source, injected))
            await asyncio.sleep(0)  # let the output track send between paintings
        await asyncio.sleep(max(0.0, started_ns / 1e9 + compute_s - time.perf_counter()))
        return frames, compute_s

    async def _update_references(
        self, chunk: ChunkParameters, started_ns: int
    ) -> References | None:
        """The VACE reference set painted into this chunk; a chunk carrying references sets it.

        The references' cost is per chunk that carries them (one-shot, as in Scope), but they
        stay in the picture (the content stays conditioned through the cache) until others
        are sent; an empty list removes them. Without VACE loaded they do nothing. Images that
        cannot be read are logged and not painted.
        """
        paths = chunk.values.get("vace_ref_images")
        if not (isinstance(paths, list) and self._chain.vace_enabled):
            return self._references
        self._references = None
        if paths:
            refs = tuple(str(path) for path in paths)
            try:  # decoded off the event loop: a large JPEG must not hold up the output track
                picture = await asyncio.to_thread(
                    reference_picture, refs, *self._painter.canvas_size
                )
            except ReferenceImageError as exc:
                logger.warning("VACE reference images not painted: %s", exc)
            else:
                self._references = References(refs, picture, since_ns=started_ns)
        return self._references

    def _filter(self, frame: av.VideoFrame) -> av.VideoFrame:
        return grayscale(frame) if self._chain.grays_input else frame

    def _prompt_mix(self, chunk: ChunkParameters) -> PromptMix:
        """The prompts in force for this chunk, moving a transition one step on."""
        update = chunk.update or {}
        transition = update.get("transition")
        if isinstance(transition, dict):
            target_prompts = transition.get("target_prompts")
            num_steps = transition.get("num_steps", 4)
            self._transition = _Transition(
                start=self._mix or prompt_weights(chunk.values.get("prompts")),
                target=prompt_weights(target_prompts),
                target_prompts=target_prompts if isinstance(target_prompts, list) else [],
                steps=max(num_steps, 0) if isinstance(num_steps, int) else 4,
            )
        elif "prompts" in update:
            self._transition = None
        if self._transition is None:
            self._mix = prompt_weights(chunk.values.get("prompts"))
            return self._mix
        step = self._transition
        step.done += 1
        alpha = min(step.done / step.steps, 1.0) if step.steps else 1.0
        self._mix = [(text, (1 - alpha) * weight) for text, weight in step.start] + [
            (text, alpha * weight) for text, weight in step.target
        ]
        if alpha >= 1.0:
            self._params.settle_transition(step.target_prompts)
            self._transition = None
            self._mix = step.target
        return self._mix


def _context_scale(chunk: ChunkParameters) -> float:
    """``vace_context_scale`` in force (data-channel values are not validated; 1 if unusable)."""
    scale = chunk.values.get("vace_context_scale", 1.0)
    return float(scale) if isinstance(scale, int | float) else 1.0


def _count(value: object) -> int:
    """How many items a list parameter holds (data-channel values are not validated)."""
    return len(value) if isinstance(value, list) else 0


def _label(mix: PromptMix) -> str:
    """The prompts in force as text: ``"a"``, or ``"a (0.25) + b (0.75)"`` for a mix."""
    shown = [(text, weight) for text, weight in mix if weight > 0]
    if len(shown) == 1:
        return shown[0][0]
    return " + ".join(f"{text} ({weight:.2f})" for text, weight in shown)
