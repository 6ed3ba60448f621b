"""The log's "Simplest web UI integration path?": each path to Scope's output, measured side by side.

The paths (a trial's ``via``, :mod:`lab.measure.paths`): WebRTC (SDP offer, peer connection,
data channel), headless ``output.ts`` (one MPEG-TS response) and headless ``/session/frame``
polling (one JPEG request per poll). For each pipeline measured over at least two paths in
one run the answer gives, per path, time to first frame, steady fps, control latency (a prompt change
to its first visible frame; over REST for the headless paths, so it is labelled as not
comparable with WebRTC's input-to-output latency) and the set-up steps, with the runs.
Only runs that compared paths count: every WebRTC trial records its path too, and the
pipeline and VACE sweeps' trials ran other settings, so mixing them in would compare a
path's figures under different conditions.
Simplicity itself is the reader's call: the answer counts each path's steps and says what a
web page needs to show it (a fact about the path, not a measurement); it does not rank ease.
"""

from __future__ import annotations

import pandas as pd

from lab.logbook.server_runs import ServerRuns
from lab.units import format_figure

__all__ = ["integration_answer", "PATH_NAMES"]

PATH_NAMES = {"webrtc": "WebRTC", "headless-ts": "headless output.ts", "headless-frame": "headless /session/frame polling"}
FIGURES = (("ttff", "ttff_s"), ("fps", "fps_out"), ("control latency", "control_latency_p50"))
CLIENT_NEEDS = {"webrtc": "a WebRTC stack (RTCPeerConnection) and the SDP exchange",
                "headless-ts": "an MPEG-TS/H.264 player (e.g. mpegts.js over Media Source Extensions)",
                "headless-frame": "plain HTTP and JPEG (an <img> refreshed by a timer)"}


def _path_text(server_runs: ServerRuns, pipeline_id: str, via: str, trials: pd.DataFrame) -> str:
    parts = []
    for label, name in FIGURES:
        figure = server_runs.figure(pipeline_id, name, trials)
        if figure is not None and figure.value is not None:
            parts.append(f"{label} {format_figure(figure)}")
    steps = trials["setup_steps"].dropna().iloc[0] if "setup_steps" in trials and trials["setup_steps"].notna().any() \
        else []
    name = PATH_NAMES.get(via, via)
    if via == "headless-frame" and "poll_hz" in trials and trials["poll_hz"].notna().any():
        name += f" at {float(trials['poll_hz'].dropna().iloc[0]):g} Hz (fps capped by it)"
    needs = f"; a page needs {CLIENT_NEEDS[via]}" if via in CLIENT_NEEDS else ""
    return f"{name}: {', '.join(parts) or 'no figures'}; {len(steps)} set-up steps ({'; '.join(steps)}){needs}"


def _compared_paths(trials: pd.DataFrame) -> pd.DataFrame:
    """One pipeline's trials from the runs that measured it over two paths or more."""
    if "run_id" not in trials:
        return trials
    paths_per_run = trials.groupby("run_id")["via"].transform("nunique")
    return trials[paths_per_run >= 2]


def integration_answer(server_runs: ServerRuns) -> tuple[str, list[str]] | None:
    """The answer text and its runs, or None when no pipeline was measured over two paths."""
    trials = server_runs.ok
    if "via" not in trials:
        return None
    trials = trials[trials["via"].notna()]
    parts: list[str] = []
    runs: list[str] = []
    counts: dict[str, int] = {}
    for pipeline_id in dict.fromkeys(trials["pipeline_id"]):
        mine = _compared_paths(trials[trials["pipeline_id"].eq(pipeline_id)])
        vias = list(dict.fromkeys(mine["via"]))
        if len(vias) < 2:
            continue
        parts.append(f"{pipeline_id} — " + " | ".join(
            _path_text(server_runs, pipeline_id, via, mine[mine["via"].eq(via)]) for via in vias))
        runs += server_runs.runs_of(mine)
        for via in vias:
            steps = mine.loc[mine["via"].eq(via), "setup_steps"].dropna()
            if len(steps):
                counts[via] = len(steps.iloc[0])
    if not parts:
        return None
    fewest = min(counts.values(), default=0)
    simplest = [PATH_NAMES.get(v, v) for v, c in counts.items() if c == fewest]
    steps_text = (f"Every path takes {fewest} set-up steps" if len(simplest) == len(counts)
                  else f"Fewest set-up steps ({fewest}): {', '.join(simplest)}")
    text = (f"**Measured per path** ({server_runs.label}; control latency = a prompt change to its first visible "
            f"frame, sent over the data channel for WebRTC and by `POST /api/v1/session/parameters` for the "
            f"headless paths, which have no input-to-output latency to compare: their input plays on the server). "
            f"{steps_text}. " + " || ".join(parts))
    return text, list(dict.fromkeys(runs))
