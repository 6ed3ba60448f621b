"""Score one trial's quality samples: the quality figures and their per-sample time series.

Runs after streaming, never on the receive path. Every figure is a
:class:`~lab.stats.Figure` like the timing figures (value, unit, n, CI, warnings,
a note saying what it is); one that cannot be computed has value ``None`` and says why.

==================  =========  ===================================================================
figure              unit       definition
==================  =========  ===================================================================
flicker             levels     median warp error of the sampled consecutive output pairs
                               (:func:`~lab.quality.flow.warp_error`: DIS flow, luma at <= 256 px)
flicker_trend       levels/s   Theil-Sen slope of that warp error over the trial
duplicate_share     %          steady output frames repeating the frame before (luma change
                               <= :data:`~lab.quality.metrics.DUPLICATE_TOLERANCE` levels)
freeze_share        %          time in runs of repeats lasting >= 0.5 s
fidelity_ssim       SSIM       median SSIM of input and output luma, paired by stamp id
                               (video-to-video through a pipeline that keeps the picture)
ref_similarity      cosine     mean over samples of the mean cosine to the reference images
identity_drift      cosine/s   Theil-Sen slope of ref_similarity over the trial
prompt_alignment    cosine     mean cosine of samples to the prompt's text embedding (CLIP only)
sharpness           levels²    median Laplacian variance of the sampled frames' luma
==================  =========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from lab.stats import Figure, mean_figure, percentile_figure
from lab.quality.embed import DEFAULT_MODEL, Embedder, cosine
from lab.quality.flow import warp_error
from lab.quality.metrics import (DUPLICATE_TOLERANCE, FREEZE_MIN_DURATION_S, freeze_share_of_repeats, sharpness,
                                 structural_similarity)
from lab.quality.samples import SAMPLE_MAX_SIDE, QualitySamples
from lab.quality.trend import trend

__all__ = ["QUALITY_FIGURES", "SERIES_COLUMNS", "score_trial"]

QUALITY_FIGURES = ("flicker", "flicker_trend", "duplicate_share", "freeze_share", "fidelity_ssim",
                   "ref_similarity", "identity_drift", "prompt_alignment", "sharpness")
SERIES_COLUMNS = ("t_s", "warp_error", "ref_similarity", "prompt_alignment", "sharpness", "fidelity_ssim")
_TREND_MIN = 3


def score_trial(samples: QualitySamples, *, references: Sequence[NDArray[np.uint8]], prompt: str | None,
                embedder: Embedder | None) -> tuple[list[Figure], pd.DataFrame]:
    """The quality figures of one trial, and its per-sample series (one row per sampled pair).

    ``references`` are the RGB reference images the output is compared with (none: no
    ``ref_similarity`` or ``identity_drift``); ``embedder`` is None when no embedding
    model could be loaded (the embedding figures then say so; the others are unaffected).
    """
    series = pd.DataFrame({"t_s": samples.times_s})
    series["warp_error"] = [warp_error(a, b) for a, b in zip(samples.frames, samples.next_frames, strict=True)]
    series["sharpness"] = [sharpness(frame) for frame in samples.frames]
    series["fidelity_ssim"] = _fidelity(samples)
    embeddings = embedder.images(list(samples.frames)) if embedder is not None and len(samples) else None
    series["ref_similarity"] = _reference_similarity(embeddings, references, embedder, len(samples))
    text = embedder.texts([prompt]) if embedder is not None and prompt else None
    series["prompt_alignment"] = cosine(embeddings, text[0]) if embeddings is not None and text is not None else np.nan
    figures = [
        *_flicker_figures(series),
        *_repeat_figures(samples),
        _fidelity_figure(samples, series),
        *(_reference_figures(series, len(references), embedder) if references else []),
        _prompt_figure(series, prompt, embedder, has_text_side=text is not None),
        replace(percentile_figure("sharpness", series["sharpness"], 50, "levels²"),
                note=f"median Laplacian variance of the sampled frames' luma at <= {SAMPLE_MAX_SIDE} px"),
    ]
    return figures, series[list(SERIES_COLUMNS)]


def _flicker_figures(series: pd.DataFrame) -> list[Figure]:
    note = f"median warp error of consecutive output frames (DIS flow, luma at <= {SAMPLE_MAX_SIDE} px)"
    flicker = replace(percentile_figure("flicker", series["warp_error"], 50, "levels"), note=note)
    return [flicker, _trend_figure("flicker_trend", series["t_s"], series["warp_error"], "levels",
                                   "Theil-Sen slope of the warp error over the trial")]


def _trend_figure(name: str, times: pd.Series, values: pd.Series, unit: str, note: str) -> Figure:
    """A Theil-Sen slope figure, or None with the reason when there are too few samples."""
    finite = np.isfinite(values.to_numpy(dtype=float))
    t, y = times.to_numpy(dtype=float)[finite], values.to_numpy(dtype=float)[finite]
    if t.size < _TREND_MIN or np.ptp(t) == 0:
        return Figure(name, None, f"{unit}/s", int(t.size), note=note,
                      warnings=(f"a trend needs at least {_TREND_MIN} samples at different times, got {t.size}",))
    return replace(trend(t, y).figure(name, unit), note=note)


def _repeat_figures(samples: QualitySamples) -> list[Figure]:
    """Duplicate and freeze shares over every steady frame of the window (not only the samples)."""
    known = np.isfinite(samples.luma_change)
    repeats = samples.luma_change[known] <= DUPLICATE_TOLERANCE
    rule = f"luma change <= {DUPLICATE_TOLERANCE:g} levels from the frame before, at <= {SAMPLE_MAX_SIDE} px"
    duplicate = mean_figure("duplicate_share", 100.0 * repeats, "%",
                            note=f"steady output frames repeating the one before ({rule})")
    times = samples.frame_times_s[known]
    if times.size < 2:
        return [duplicate, Figure("freeze_share", None, "%", int(times.size), warnings=("fewer than 2 frames",))]
    frozen = 100.0 * freeze_share_of_repeats(times, repeats, FREEZE_MIN_DURATION_S)
    freeze = Figure("freeze_share", frozen, "%", int(times.size), note=(
        f"time in runs of repeated frames lasting >= {FREEZE_MIN_DURATION_S:g} s ({rule}); "
        "one value per trial: compare trials for its spread"))
    return [duplicate, freeze]


def _fidelity(samples: QualitySamples) -> NDArray[np.float64]:
    values = np.full(len(samples), np.nan)
    if samples.inputs is not None:
        for i in np.flatnonzero(samples.paired):
            values[i] = structural_similarity(samples.inputs[i], samples.frames[i])
    return values


def _fidelity_figure(samples: QualitySamples, series: pd.DataFrame) -> Figure:
    if samples.inputs is None or not samples.paired.any():
        return Figure("fidelity_ssim", None, "SSIM", 0, note=f"not scored: {samples.no_pairing}")
    return replace(percentile_figure("fidelity_ssim", series["fidelity_ssim"], 50, "SSIM"),
                   note="median SSIM of each input frame's luma and the output frame that answers it (by stamp id)")


def _reference_similarity(embeddings: NDArray[np.float32] | None, references: Sequence[NDArray[np.uint8]],
                          embedder: Embedder | None, n: int) -> NDArray[np.float64]:
    """Per sample, the mean cosine to the reference images (NaN without references or model)."""
    if embeddings is None or embedder is None or not references:
        return np.full(n, np.nan)
    reference_rows = embedder.images(list(references))
    return np.mean([cosine(embeddings, row) for row in reference_rows], axis=0)


def _reference_figures(series: pd.DataFrame, count: int, embedder: Embedder | None) -> list[Figure]:
    if embedder is None:
        why = "not scored: no embedding model could be loaded (see the message of lab quality --model)"
        return [Figure("ref_similarity", None, "cosine", 0, note=why),
                Figure("identity_drift", None, "cosine/s", 0, note=why)]
    model = f"embedding: {embedder.model_id}"
    similarity = mean_figure("ref_similarity", series["ref_similarity"], "cosine",
                             note=f"mean cosine of the output samples to the {count} reference images ({model})")
    drift = _trend_figure("identity_drift", series["t_s"], series["ref_similarity"], "cosine",
                          f"Theil-Sen slope of ref_similarity over the trial ({model})")
    return [similarity, drift]


def _prompt_figure(series: pd.DataFrame, prompt: str | None, embedder: Embedder | None, *,
                   has_text_side: bool) -> Figure:
    if embedder is None:
        why = "no embedding model could be loaded (see the message of lab quality --model)"
    elif not prompt:
        why = "the trial sent no text prompt"
    elif not has_text_side:
        why = (f"the {embedder.model_id} embedder has no text side: prompt alignment needs a CLIP model "
               f"(e.g. --model {DEFAULT_MODEL}, with scope-lab[quality])")
    else:
        note = f"mean cosine of the output samples to the prompt's text (embedding: {embedder.model_id})"
        return mean_figure("prompt_alignment", series["prompt_alignment"], "cosine", note=note)
    return Figure("prompt_alignment", None, "cosine", 0, note=f"not scored: {why}")
