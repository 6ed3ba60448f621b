"""How long an emulated generative chunk computes, from the pipeline's profile.

A steady chunk takes ``chunk_compute_s`` (an RTX 5090 at the loader's default resolution
with the schema's default denoising steps), scaled by

* the pixel count relative to that default resolution, and
* the denoising steps: ``denoise_share`` of the time is proportional to
  ``len(denoising_step_list)`` relative to the default list,

plus ``vace_overhead_s`` when VACE was enabled at load and ``vace_ref_overhead_s`` per
reference image on chunks that carry ``vace_ref_images``. Each chunk's time is then
multiplied by

* warm-up: chunk ``k`` after a (re)start takes
  ``1 + (warmup_factor - 1) * (1 - k / warmup_chunks)`` times as long while
  ``k < warmup_chunks``, and
* noise: a gamma-distributed factor with mean 1 and CV ``chunk_compute_cv``.

All in real seconds.
"""

from __future__ import annotations

import numpy as np

from lab.sim.profiles import Emulation

__all__ = ["ChunkTimer"]


class ChunkTimer:
    """Draws the compute time of each generative chunk of one session.

    Parameters
    ----------
    emulation
        The pipeline's emulation profile.
    pixel_ratio
        Output pixels relative to the loader's default resolution.
    default_steps
        Length of the schema's default denoising step list.
    vace_enabled
        Whether the pipeline was loaded with VACE (Scope's default is yes).
    rng
        Source of the timing noise.

    Examples
    --------
    >>> from lab.sim.profiles import load_profiles
    >>> longlive = next(p for p in load_profiles().pipelines if p.id == "longlive")
    >>> timer = ChunkTimer(longlive.emulation, pixel_ratio=1.0, default_steps=4,
    ...                    vace_enabled=False, rng=np.random.default_rng(0))
    >>> round(timer.expected_s(steps=None, ref_images=0), 3)
    0.6
    """

    def __init__(
        self,
        emulation: Emulation,
        *,
        pixel_ratio: float,
        default_steps: int,
        vace_enabled: bool,
        rng: np.random.Generator,
    ) -> None:
        self._emulation = emulation
        self._pixel_ratio = pixel_ratio
        self._default_steps = max(default_steps, 1)
        self._vace_s = emulation.vace_overhead_s if vace_enabled else 0.0
        self._rng = rng
        self._chunks_since_start = 0

    @property
    def warming_up(self) -> bool:
        """Whether the next chunk is still a warm-up chunk."""
        return self._chunks_since_start < self._emulation.warmup_chunks

    def restart_warmup(self) -> None:
        """Start warming up again (cache reset, input mode change)."""
        self._chunks_since_start = 0

    def expected_s(self, *, steps: int | None, ref_images: int) -> float:
        """Mean compute time of a steady-state chunk, without noise or warm-up."""
        emulation = self._emulation
        step_ratio = (steps or self._default_steps) / self._default_steps
        step_factor = 1 - emulation.denoise_share + emulation.denoise_share * step_ratio
        base_s = emulation.chunk_compute_s * self._pixel_ratio * step_factor
        return base_s + self._vace_s + emulation.vace_ref_overhead_s * ref_images

    def next_s(self, *, steps: int | None, ref_images: int) -> float:
        """Draw the compute time of the next chunk (and count it towards warm-up)."""
        emulation = self._emulation
        k = self._chunks_since_start
        self._chunks_since_start += 1
        warmup = 1.0
        if k < emulation.warmup_chunks:
            warmup += (emulation.warmup_factor - 1) * (1 - k / emulation.warmup_chunks)
        noise = 1.0
        cv = emulation.chunk_compute_cv
        if cv > 0:
            noise = float(self._rng.gamma(1 / cv**2, cv**2))
        return self.expected_s(steps=steps, ref_images=ref_images) * warmup * noise
