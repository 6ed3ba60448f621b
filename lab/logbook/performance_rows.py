"""The log's *Performance Observations* table (``Metric | Nexus (Reference) | Scope (Measured)``):
the log's rows plus the ones the measurements support, median over trials [95 % CI] and n.

Rows a human added are kept as they are; a cell the data cannot fill keeps its old text.
The Nexus reference column keeps the log's quotes, with a hosted run's figures beside
them when there is one (:mod:`lab.logbook.nexus`). Every measured cell starts with SIMULATED when the numbers
come from the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from lab.logbook.generative import is_generative
from lab.logbook.hosted_runs import HostedRuns
from lab.logbook.markdown import Rows
from lab.logbook.nexus import nexus_cell
from lab.logbook.server_runs import ServerRuns
from lab.logbook.vace import vace_effects
from lab.models import gpu_memory_text
from lab.stats import Figure
from lab.units import format_figure, format_value

__all__ = ["performance_table", "PERFORMANCE_ROWS", "PerformanceRow"]


def _per_pipeline(server_runs: ServerRuns, figure_of: Callable[[str], Figure | None],
                  pipelines: Sequence[str] | None = None) -> str | None:
    parts = []
    for pipeline_id in pipelines or server_runs.pipelines():
        figure = figure_of(pipeline_id)
        if figure is not None and figure.value is not None:
            parts.append(f"{pipeline_id} {format_figure(figure)}")
    return "; ".join(parts) or None


def _tagged(server_runs: ServerRuns, text: str | None, what: str = "") -> str | None:
    if text is None:
        return None
    prefix = "SIMULATED: " if server_runs.simulated else ""
    return f"{prefix}{text}{f' ({what})' if what else ''}"


def _speed_note(server_runs: ServerRuns) -> str:
    speed = server_runs.server.simulator_speed
    return f"simulator loads ran {speed:g}x faster than its real-time profile" if speed and speed != 1 else ""


def _warmup(server_runs: ServerRuns) -> str | None:
    parts = []
    for pipeline_id in server_runs.pipelines():
        figures = [server_runs.figure(pipeline_id, name) for name in ("load_s", "ttff_s", "warmup_s")]
        values = [f.value if f is not None and f.value is not None else 0.0 for f in figures]
        if all(f is None for f in figures):
            continue
        parts.append(f"{pipeline_id} {format_value(sum(values), 's')}")
    text = "; ".join(parts) or None
    note = ", ".join(filter(None, ["load + first frame + to steady, medians; rows below", _speed_note(server_runs)]))
    return _tagged(server_runs, text, note)


def _inference_latency(server_runs: ServerRuns) -> str | None:
    text = _per_pipeline(server_runs, server_runs.latency)
    return _tagged(server_runs, text, "frame latency p50, input sent → output received; stamped or step test")


def _vace_latency(server_runs: ServerRuns) -> str | None:
    parts = []
    for pipeline_id, effects in vace_effects(server_runs).items():
        items = []
        for effect in effects:
            if effect.latency is None and effect.fps is None:
                continue
            bits = []
            if effect.latency is not None:
                c = effect.latency
                unit = c.unit
                bits.append(f"{'+' if c.difference >= 0 else '−'}{format_value(abs(c.difference), unit)} latency"
                            + (f" [{format_value(c.ci_low, unit)}, {format_value(c.ci_high, unit)}]"
                               if effect.judged else ""))
            if effect.fps is not None:
                bits.append(f"fps {effect.fps.median_a:.1f} → {effect.fps.median_b:.1f}")
            n = f"n={len(effect.reference.trials)}/{len(effect.condition.trials)}"
            verdict = "" if effect.judged else ", too few trials to judge"
            items.append(f"{effect.condition.label}: {', '.join(bits)} ({n}{verdict})")
        if items:
            parts.append(f"{pipeline_id} vs {effects[0].reference.label}: " + "; ".join(items))
    return _tagged(server_runs, " | ".join(parts) or None)


def _memory(server_runs: ServerRuns) -> str | None:
    estimates = [(p, s["estimated_vram_gb"]) for p, s in server_runs.server.schemas.items()
                 if s.get("estimated_vram_gb") is not None and is_generative(s)]
    if not estimates:
        return None
    listed = ", ".join(f"{gb:g} GB ({p})" for p, gb in estimates)
    gpu = server_runs.server.vram_gb
    on = f" on a {gpu:g} GB GPU" if gpu else ""
    return _tagged(server_runs, f"{listed}{on}{_memory_in_use(server_runs)}",
                   "the server's estimates; Scope reports no per-pipeline usage")


def _memory_in_use(server_runs: ServerRuns) -> str:
    """What /session/metrics said during the trials: the largest allocation, or unknown when its GPU block was empty."""
    if "gpu_memory" not in server_runs.ok:
        return ""  # runs from before the block was recorded
    blocks = [b for b in server_runs.ok["gpu_memory"] if isinstance(b, dict)]
    if not blocks:
        return ""
    filled = [b for b in blocks if b]
    if not filled:
        return f"; in use during the trials: {gpu_memory_text({})}"
    largest = max(filled, key=lambda b: b.get("vram_allocated_mb") or 0)
    return f"; in use during the trials, at most: {gpu_memory_text(largest)}"


def _figure_row(name: str, what: str, *, any_condition: bool = False) -> Callable[[ServerRuns], str | None]:
    def cell(server_runs: ServerRuns) -> str | None:
        if any_condition:
            def figure_of(pipeline_id: str) -> Figure | None:
                trials = server_runs.ok[server_runs.ok["pipeline_id"].eq(pipeline_id)]
                return server_runs.figure(pipeline_id, name, trials)
        else:
            def figure_of(pipeline_id: str) -> Figure | None:
                return server_runs.figure(pipeline_id, name)
        note = ", ".join(filter(None, [what, _speed_note(server_runs) if name == "load_s" else ""]))
        return _tagged(server_runs, _per_pipeline(server_runs, figure_of), note)
    return cell


def _control_latency(server_runs: ServerRuns) -> str | None:
    """Control latency with the prompt transition it ran with, per transition when a sweep varied it."""
    by_steps = _by_transition(server_runs.ok, "control_latency_p50")
    if by_steps:
        parts = []
        for steps, trials in by_steps.items():
            text = _per_pipeline(server_runs, lambda p, t=trials: server_runs.figure(p, "control_latency_p50",
                                                                                     t[t["pipeline_id"].eq(p)]))
            if text is not None:
                parts.append(f"{_transition_words(steps)}: {text}")
        return _tagged(server_runs, " | ".join(parts) or None, "prompt change → first visibly changed frame, p50")
    for name, what in (("control_latency_p50", "parameter change → visible output change, p50"),
                       ("settle_s", "runtime update over the data channel → visible response")):
        text = _figure_row(name, f"{what}{_transition_note(server_runs, name)}", any_condition=True)(server_runs)
        if text is not None:
            return text
    return None


def _by_transition(trials: pd.DataFrame, name: str) -> dict[int, pd.DataFrame]:
    """Trials with figure ``name``, by the transition steps their row records (empty: none recorded)."""
    if "transition" not in trials or name not in trials:
        return {}
    measured = trials[trials[name].notna() & trials["transition"].map(lambda t: isinstance(t, dict))]
    steps = measured["transition"].map(lambda t: int(t.get("num_steps") or 0))
    return {int(n): measured[steps.eq(n)] for n in sorted(steps.unique())}


def _transition_words(steps: int) -> str:
    return "prompts at once" if steps == 0 else f"{steps}-chunk transition"


def _transition_note(server_runs: ServerRuns, name: str) -> str:
    """How the prompt changes behind ``name`` were sent; "" when the updates changed no prompt."""
    recorded = _by_transition(server_runs.ok, name)
    if recorded:
        return "; " + ", ".join(_transition_words(n) for n in recorded)
    trials = server_runs.ok
    if name in trials and "runtime" in trials:
        runtimes = trials.loc[trials[name].notna(), "runtime"]
        if any(isinstance(r, dict) and "prompts" in r for r in runtimes):
            return "; prompt transition settings not recorded"
    return ""


@dataclass(frozen=True)
class PerformanceRow:
    """One metric of *Performance Observations*: its name, Nexus reference, and cell."""

    metric: str
    nexus: str
    cell: Callable[[ServerRuns], str | None]


PERFORMANCE_ROWS: tuple[PerformanceRow, ...] = (
    PerformanceRow("Warm-up time", "15-25s", _warmup),
    PerformanceRow("Inference latency", "~100ms/frame", _inference_latency),
    PerformanceRow("VACE latency", "N/A", _vace_latency),
    PerformanceRow("Memory usage", "-", _memory),
    PerformanceRow("Model load time", "-", _figure_row("load_s", "load request → status loaded")),
    PerformanceRow("Time to first frame", "-", _figure_row("ttff_s", "WebRTC offer → first output frame")),
    PerformanceRow("Steady FPS", "-", _figure_row("fps_out", "output, after warm-up")),
    PerformanceRow("p95 frame interval", "-", _figure_row("interval_p95", "steady state")),
    PerformanceRow("Control latency", "-", _control_latency),
)


def performance_table(server_runs: ServerRuns, existing: Rows | None = None,
                      hosted: HostedRuns | None = None) -> tuple[Rows, str]:
    """Rows of *Performance Observations* and its caption.

    The Nexus column keeps the log's quotes; with ``hosted`` runs each gets the hosted
    API's measured figure beside it (:func:`lab.logbook.nexus.nexus_cell`).
    """
    known = {row.metric.lower(): row for row in PERFORMANCE_ROWS}
    rows: Rows = []
    seen = set()
    for old in existing or []:
        old = (old + ["", ""])[:3]
        row = known.get(old[0].strip().lower())
        if row is not None:
            seen.add(row.metric.lower())
            rows.append([old[0], nexus_cell(old[0], old[1], row.nexus, hosted), row.cell(server_runs) or old[2]])
        else:
            rows.append(old)  # a human's row: kept as it is
    for row in PERFORMANCE_ROWS:
        if row.metric.lower() not in seen:
            rows.append([row.metric, nexus_cell(row.metric, row.nexus, row.nexus, hosted),
                         row.cell(server_runs) or "TBD"])
    warning = (" **SIMULATED**: numbers from the scope-lab simulator, not from a GPU." if server_runs.simulated else "")
    nexus = (f" Nexus (Reference): the log's quote, and the same figure measured on Daydream's hosted API "
             f"(warm-up without a load step; {hosted.cite()})." if hosted is not None else "")
    caption = (f"*Scope (Measured): median over trials [95 % CI where n ≥ 3], n = trials; "
               f"{server_runs.cite()}.{warning}{nexus}*")
    return rows, caption
