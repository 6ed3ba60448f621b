"""The *Nexus (Reference)* cells of *Performance Observations*: the quote, and beside it a hosted run's figure.

The column holds what the team quoted from MetaDJ Nexus on Daydream's hosted API
("15-25s", "~100ms/frame"). With a hosted run (:mod:`lab.logbook.hosted_runs`) a cell
becomes ``15-25s quoted; measured 18.2 s [16.9–19.5] n=3 (SIMULATED, run `X`)``; a cell
that quoted nothing (``-``) becomes ``measured ...``. Without one, the quote stands as
written. The quote is read back from a filled cell, so updates repeat byte for byte and
a later update without a hosted run gives the human's text back.

Each metric is the same figure as Scope's column: warm-up is first frame plus the time to
steady output, summed per trial (a hosted stream has no pipeline load step).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.logbook.hosted_runs import HOSTED_LABEL, HostedRuns
from lab.logbook.server_runs import LATENCY_FIGURES
from lab.overview import SIMULATED_LABEL
from lab.stats import Figure
from lab.units import format_figure

__all__ = ["NexusFigure", "NEXUS_FIGURES", "nexus_cell", "quoted"]

NO_QUOTE = frozenset({"", "-", "—", "TBD"})
_FILLED = re.compile(r"^(?:(?P<quote>.*?) quoted; )?measured .+ \((?:[^()]*; )?(?:%s|%s), runs? `[^()]+`\)$"
                     % (SIMULATED_LABEL, HOSTED_LABEL))


@dataclass(frozen=True)
class NexusFigure:
    """How a metric is measured on a hosted stream: its figure and what it means."""

    what: str
    figure: Callable[[HostedRuns, str], Figure | None]
    startup: bool = False  # holds the stream's start-up, which a fast simulator shortens


def _first(*names: str) -> Callable[[HostedRuns, str], Figure | None]:
    return lambda hosted, model: hosted.figure(model, names)


def _warmup(hosted: HostedRuns, model: str) -> Figure | None:
    return hosted.summed(model, ("ttff_s", "warmup_s"), "warmup")


NEXUS_FIGURES: dict[str, NexusFigure] = {
    "warm-up time": NexusFigure("first frame + to steady", _warmup, startup=True),
    "inference latency": NexusFigure("frame latency p50, input sent → output received", _first(*LATENCY_FIGURES)),
    "time to first frame": NexusFigure("", _first("ttff_s"), startup=True),
    "steady fps": NexusFigure("", _first("fps_out")),
    "p95 frame interval": NexusFigure("", _first("interval_p95")),
    "control latency": NexusFigure("prompt change → visible change, p50", _first("control_latency_p50")),
}


def quoted(cell: str, default: str) -> str:
    """The human's quote in a Nexus cell: the cell itself, or read back from a filled one.

    ``default``: the quote of a filled cell that quoted nothing (the row's own placeholder).
    """
    match = _FILLED.match(cell.strip())
    if match is None:
        return cell
    return match["quote"] if match["quote"] is not None else default


def _measured(hosted: HostedRuns, metric: NexusFigure) -> str | None:
    models = hosted.models()
    parts = []
    for model in models:
        figure = metric.figure(hosted, model)
        if figure is not None and figure.value is not None:
            parts.append(f"{model} {format_figure(figure)}" if len(models) > 1 else format_figure(figure))
    if not parts:
        return None
    notes = [metric.what] if metric.what else []
    speed = hosted.simulator_speed
    if metric.startup and speed not in (None, 1.0):
        notes.append(f"the emulated start-up ran {speed:g}x faster than real time")
    what = "".join(f"{note}; " for note in notes)
    return f"measured {'; '.join(parts)} ({what}{hosted.cite()})"


def nexus_cell(metric: str, cell: str, default: str, hosted: HostedRuns | None) -> str:
    """The Nexus cell of row ``metric``: the quote, with the hosted run's figure beside it when there is one."""
    quote = quoted(cell, default)
    known = NEXUS_FIGURES.get(metric.strip().lower())
    measured = _measured(hosted, known) if hosted is not None and known is not None else None
    if measured is None:
        return quote
    return measured if quote.strip() in NO_QUOTE else f"{quote} quoted; {measured}"
