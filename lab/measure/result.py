"""What one trial measured: :class:`TrialResult`, and how a failure is kept in it.

A failure mid-trial (stream stopped, stalled, server error) does not lose the frames
already received: the result keeps them and carries the error (:func:`error_record`) with
its phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from lab.client import LoadResult
from lab.errors import LabError
from lab.headless import Via
from lab.measure.change import ChangeDetection
from lab.measure.server_recording import ServerRecording
from lab.measure.spec import Segment, TrialSpec
from lab.quality.samples import QualitySamples
from lab.rtc import SessionTimeline
from lab.stats import Figure

__all__ = ["TrialResult", "error_record"]


@dataclass
class TrialResult:
    """Everything one trial measured. ``frames`` has one row per received frame."""

    spec: TrialSpec
    url: str
    simulated: bool
    server_version: str | None
    started_at: float
    load: LoadResult | None = None
    timeline: SessionTimeline = field(default_factory=SessionTimeline)
    frames: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: list[Figure] = field(default_factory=list)
    step_detections: list[ChangeDetection] = field(default_factory=list)
    control_detections: list[ChangeDetection] = field(default_factory=list)
    server_samples: list[dict[str, Any]] = field(default_factory=list)
    server_state: dict[str, Any] = field(default_factory=dict)
    server_gpu: dict[str, Any] | None = None  # the last /session/metrics GPU block; {}: the server reported none
    error: dict[str, Any] | None = None  # see error_record
    segment: Segment = field(default_factory=Segment)
    samples: list[np.ndarray] = field(default_factory=list, repr=False)
    quality: QualitySamples | None = field(default=None, repr=False)  # scored after streaming (lab.quality.score)
    server_recording: ServerRecording | None = None  # on the session's last segment (or the one that failed)
    via: Via | Literal["whip"] = "webrtc"  # "whip": a hosted stream (lab.measure.paths)
    setup_steps: list[str] = field(default_factory=list)  # the HTTP calls the path took (lab.headless.setup_steps)

    def figure(self, name: str) -> Figure:
        """The figure called ``name`` (KeyError if this trial did not produce it)."""
        for figure in self.figures:
            if figure.name == name:
                return figure
        raise KeyError(f"no figure {name!r}; this trial has {', '.join(f.name for f in self.figures)}")

    @property
    def server_label(self) -> str:
        """What measured numbers are tagged with: the server (Scope's version, or the hosted API)."""
        return "Daydream hosted API" if self.via == "whip" else f"Scope {self.server_version}"

    def summary(self) -> pd.DataFrame:
        """Figures as a table (value, unit, n, CI, warnings), labelled SIMULATED when so."""
        table = pd.DataFrame([f.as_dict() for f in self.figures])
        table["warnings"] = table["warnings"].map("; ".join)
        table["source"] = "SIMULATED" if self.simulated else self.server_label
        return table


def error_record(exc: LabError, phase: str) -> dict[str, Any]:
    """A failure as a result or trial row keeps it: class, phase, message, and the server's log lines."""
    return {"class": type(exc).__name__, "phase": phase, "message": str(exc),
            "server_log": list(getattr(exc, "server_log", ()))}
