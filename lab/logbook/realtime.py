"""Is a pipeline fast enough: its steady output fps (median, CI over trials) against the
fps it needs, which for video-to-video is capped by its input rate."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lab.logbook.server_runs import ServerRuns
from lab.stats import Figure

__all__ = ["Realtime", "realtime_verdicts", "DEFAULT_REALTIME_FPS", "INPUT_KEEPUP"]

DEFAULT_REALTIME_FPS = 15.0
INPUT_KEEPUP = 0.95  # v2v output at this share of the input rate keeps up with it


def _input_fps(server_runs: ServerRuns, trials: pd.DataFrame) -> float | None:
    """The input frame rate of video-to-video trials (their output cannot exceed it)."""
    if trials.empty or not trials["mode"].eq("video").all():
        return None
    rates = {float((server_runs.manifests[r].get("spec") or {}).get("fps", 0)) for r in server_runs.runs_of(trials)}
    return min(rates) if rates and min(rates) > 0 else None


@dataclass(frozen=True)
class Realtime:
    """Is a pipeline fast enough: its steady fps against the fps it needs."""

    pipeline_id: str
    fps: Figure
    needed_fps: float
    capped_by_input: bool
    verdict: str  # "yes", "no" or "borderline" (the CI spans the threshold)


def realtime_verdicts(server_runs: ServerRuns, threshold_fps: float = DEFAULT_REALTIME_FPS) -> list[Realtime]:
    """Per measured pipeline: steady fps (median, CI over trials) against ``threshold_fps``.

    Video-to-video output cannot exceed its input rate: a pipeline fed below the threshold
    counts as real time when it keeps up with its input (within 5 %).
    """
    verdicts = []
    for pipeline_id in server_runs.pipelines():
        figure = server_runs.figure(pipeline_id, "fps_out")
        if figure is None or figure.value is None:
            continue
        needed, capped = threshold_fps, False
        input_fps = _input_fps(server_runs, server_runs.baseline(pipeline_id))
        if input_fps is not None and input_fps * INPUT_KEEPUP <= threshold_fps:
            needed, capped = input_fps * INPUT_KEEPUP, True
        low = figure.ci_low if figure.ci_low is not None and figure.n > 1 else figure.value
        high = figure.ci_high if figure.ci_high is not None and figure.n > 1 else figure.value
        verdict = "yes" if low >= needed else "no" if high < needed else "borderline"
        verdicts.append(Realtime(pipeline_id, figure, needed, capped, verdict))
    return verdicts
