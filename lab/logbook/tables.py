"""The research log's own tables, in the log's own shape, filled from runs.

- *Pipeline VACE Compatibility* (``Pipeline | VACE Support | Validated``): support as the
  server's schema states it (``supports_vace``), and whether a trial with VACE loaded ran,
  with date and run id as evidence;
- *Performance Observations* (``Metric | Nexus (Reference) | Scope (Measured)``): the log's
  rows plus the ones the measurements support, median over trials [95 % CI] and n;
- *Models* (``Pipeline ID | Status | Description``): download status from the server.

Each builder takes the rows already in the log (None when it has none) so that what only a
human knows survives: the Nexus reference column, descriptions, rows about pipelines or
metrics the runs say nothing about. A cell the data cannot fill keeps its old text.
Every measured cell starts with SIMULATED when the numbers come from the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from lab.logbook.evidence import Evidence, format_figure, format_value
from lab.logbook.generative import is_generative
from lab.logbook.markdown import Rows, TableBlock
from lab.logbook.vace import vace_effects
from lab.stats import Figure
from lab.models import gpu_memory_text

__all__ = ["vace_table", "performance_table", "models_table", "log_tables", "PERFORMANCE_ROWS",
           "VACE_HEADER", "PERFORMANCE_HEADER", "MODELS_HEADER", "pipeline_cell_id", "as_frame",
           "log_table_frames", "TITLES"]

VACE_HEADER = ("Pipeline", "VACE Support", "Validated")
PERFORMANCE_HEADER = ("Metric", "Nexus (Reference)", "Scope (Measured)")
MODELS_HEADER = ("Pipeline ID", "Status", "Description")
YES, NO, UNKNOWN = "✅ **Yes**", "❌ **No**", "❓ not listed by this server"


def pipeline_cell_id(cell: str) -> str:
    """``"`longlive`"`` -> ``"longlive"``: the id in a log's pipeline cell."""
    return cell.strip().strip("`*").strip()


def _merge_rows(existing: Rows | None, width: int, ids: Sequence[str],
                cells: Callable[[str, list[str] | None], list[str] | None]) -> Rows:
    """Existing rows in their order, then rows for new ids; ``cells`` returns None to keep a row."""
    rows: Rows = []
    seen = set()
    for row in existing or []:
        row = (row + [""] * width)[:width]
        key = pipeline_cell_id(row[0])
        seen.add(key)
        rows.append(cells(key, row) or row)
    for key in ids:
        if key not in seen:
            new = cells(key, None)
            if new is not None:
                rows.append(new)
    return rows


# -- Pipeline VACE Compatibility -----------------------------------------------------------

def _validated(evidence: Evidence, pipeline_id: str) -> str:
    trials = evidence.trials[evidence.trials["pipeline_id"].eq(pipeline_id)]
    vace = trials[trials["vace_enabled"].eq(True)] if "vace_enabled" in trials else trials.iloc[0:0]
    ok = vace[vace["status"].eq("ok")]
    failed = vace[vace["status"].eq("error")]
    skipped = trials[trials["status"].eq("skipped") & trials["skip_reason"].fillna("").str.contains("VACE")]
    if not ok.empty:
        return (f"✅ {_count(len(ok), 'trial')} with VACE loaded, {_refs(ok['vace_ref_count'])} "
                f"({evidence.cite(evidence.runs_of(ok))})")
    if not failed.empty:
        error = failed["error"].iloc[0] or {}
        return (f"❌ VACE trial failed: {error.get('class', '?')} in {error.get('phase', '?')} "
                f"({evidence.cite(evidence.runs_of(failed))})")
    if not skipped.empty:
        return f"not run: {skipped['skip_reason'].iloc[0]} ({evidence.cite(evidence.runs_of(skipped))})"
    return f"schema only, no VACE trial ({evidence.date()}, {evidence.label})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _refs(counts: pd.Series) -> str:
    """``0–2 reference images``: the range of reference-image counts the trials used."""
    values = sorted({int(c) for c in counts.fillna(0)})
    span = f"{values[0]}–{values[-1]}" if len(values) > 1 else f"{values[0]}"
    return f"{span} reference image{'' if values == [1] else 's'}"


def vace_table(evidence: Evidence, existing: Rows | None = None) -> tuple[Rows, str]:
    """Rows of *Pipeline VACE Compatibility* and its caption."""
    schemas = evidence.server.schemas
    ids = [*[p for p, s in schemas.items() if s.get("supports_vace")], *evidence.pipelines()]

    def cells(pipeline_id: str, old: list[str] | None) -> list[str] | None:
        schema = schemas.get(pipeline_id)
        if schema is None:
            return [old[0], UNKNOWN, old[2]] if old else None
        support = YES if schema.get("supports_vace") else NO if is_generative(schema) else "N/A"
        return [f"`{pipeline_id}`", support, _validated(evidence, pipeline_id)]

    rows = _merge_rows(existing, 3, list(dict.fromkeys(ids)), cells)
    caption = (f"*VACE Support as the server's `/api/v1/pipelines/schemas` states it (`supports_vace`; "
               f"{evidence.cite()}). Validated: a trial with VACE loaded ran and measured.*")
    return rows, caption


# -- Performance Observations --------------------------------------------------------------

def _per_pipeline(evidence: Evidence, figure_of: Callable[[str], Figure | None],
                  pipelines: Sequence[str] | None = None) -> str | None:
    parts = []
    for pipeline_id in pipelines or evidence.pipelines():
        figure = figure_of(pipeline_id)
        if figure is not None and figure.value is not None:
            parts.append(f"{pipeline_id} {format_figure(figure)}")
    return "; ".join(parts) or None


def _tagged(evidence: Evidence, text: str | None, what: str = "") -> str | None:
    if text is None:
        return None
    prefix = "SIMULATED: " if evidence.simulated else ""
    return f"{prefix}{text}{f' ({what})' if what else ''}"


def _speed_note(evidence: Evidence) -> str:
    speed = evidence.server.simulator_speed
    return f"simulator loads ran {speed:g}x faster than its real-time profile" if speed and speed != 1 else ""


def _warmup(evidence: Evidence) -> str | None:
    parts = []
    for pipeline_id in evidence.pipelines():
        figures = [evidence.figure(pipeline_id, name) for name in ("load_s", "ttff_s", "warmup_s")]
        values = [f.value if f is not None and f.value is not None else 0.0 for f in figures]
        if all(f is None for f in figures):
            continue
        parts.append(f"{pipeline_id} {format_value(sum(values), 's')}")
    text = "; ".join(parts) or None
    note = ", ".join(filter(None, ["load + first frame + to steady, medians; rows below", _speed_note(evidence)]))
    return _tagged(evidence, text, note)


def _inference_latency(evidence: Evidence) -> str | None:
    text = _per_pipeline(evidence, evidence.latency)
    return _tagged(evidence, text, "frame latency p50, input sent → output received; stamped or step test")


def _vace_latency(evidence: Evidence) -> str | None:
    parts = []
    for pipeline_id, effects in vace_effects(evidence).items():
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
    return _tagged(evidence, " | ".join(parts) or None)


def _memory(evidence: Evidence) -> str | None:
    estimates = [(p, s["estimated_vram_gb"]) for p, s in evidence.server.schemas.items()
                 if s.get("estimated_vram_gb") is not None and is_generative(s)]
    if not estimates:
        return None
    listed = ", ".join(f"{gb:g} GB ({p})" for p, gb in estimates)
    gpu = evidence.server.vram_gb
    on = f" on a {gpu:g} GB GPU" if gpu else ""
    return _tagged(evidence, f"{listed}{on}{_memory_in_use(evidence)}",
                   "the server's estimates; Scope reports no per-pipeline usage")


def _memory_in_use(evidence: Evidence) -> str:
    """What /session/metrics said during the trials: the largest allocation, or unknown when its GPU block was empty."""
    if "gpu_memory" not in evidence.ok:
        return ""  # runs from before the block was recorded
    blocks = [b for b in evidence.ok["gpu_memory"] if isinstance(b, dict)]
    if not blocks:
        return ""
    filled = [b for b in blocks if b]
    if not filled:
        return f"; in use during the trials: {gpu_memory_text({})}"
    largest = max(filled, key=lambda b: b.get("vram_allocated_mb") or 0)
    return f"; in use during the trials, at most: {gpu_memory_text(largest)}"


def _figure_row(name: str, what: str, *, any_condition: bool = False) -> Callable[[Evidence], str | None]:
    def cell(evidence: Evidence) -> str | None:
        if any_condition:
            def figure_of(pipeline_id: str) -> Figure | None:
                return evidence.figure(pipeline_id, name, evidence.ok[evidence.ok["pipeline_id"].eq(pipeline_id)])
        else:
            def figure_of(pipeline_id: str) -> Figure | None:
                return evidence.figure(pipeline_id, name)
        note = ", ".join(filter(None, [what, _speed_note(evidence) if name == "load_s" else ""]))
        return _tagged(evidence, _per_pipeline(evidence, figure_of), note)
    return cell


def _control_latency(evidence: Evidence) -> str | None:
    """Control latency with the prompt transition it ran with, per transition when a sweep varied it."""
    by_steps = _by_transition(evidence.ok, "control_latency_p50")
    if by_steps:
        parts = []
        for steps, trials in by_steps.items():
            text = _per_pipeline(evidence, lambda p, t=trials: evidence.figure(p, "control_latency_p50",
                                                                             t[t["pipeline_id"].eq(p)]))
            if text is not None:
                parts.append(f"{_transition_words(steps)}: {text}")
        return _tagged(evidence, " | ".join(parts) or None, "prompt change → first visibly changed frame, p50")
    for name, what in (("control_latency_p50", "parameter change → visible output change, p50"),
                       ("settle_s", "runtime update over the data channel → visible response")):
        text = _figure_row(name, f"{what}{_transition_note(evidence, name)}", any_condition=True)(evidence)
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


def _transition_note(evidence: Evidence, name: str) -> str:
    """How the prompt changes behind ``name`` were sent; "" when the updates changed no prompt."""
    recorded = _by_transition(evidence.ok, name)
    if recorded:
        return "; " + ", ".join(_transition_words(n) for n in recorded)
    trials = evidence.ok
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
    cell: Callable[[Evidence], str | None]


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


def performance_table(evidence: Evidence, existing: Rows | None = None) -> tuple[Rows, str]:
    """Rows of *Performance Observations* (the Nexus column kept from the log) and its caption."""
    known = {row.metric.lower(): row for row in PERFORMANCE_ROWS}
    rows: Rows = []
    seen = set()
    for old in existing or []:
        old = (old + ["", ""])[:3]
        row = known.get(old[0].strip().lower())
        if row is not None:
            seen.add(row.metric.lower())
            rows.append([old[0], old[1], row.cell(evidence) or old[2]])
        else:
            rows.append(old)  # a human's row: kept as it is
    for row in PERFORMANCE_ROWS:
        if row.metric.lower() not in seen:
            rows.append([row.metric, row.nexus, row.cell(evidence) or "TBD"])
    warning = (" **SIMULATED**: numbers from the scope-lab simulator, not from a GPU." if evidence.simulated else "")
    caption = (f"*Scope (Measured): median over trials [95 % CI where n ≥ 3], n = trials; "
               f"{evidence.cite()}.{warning}*")
    return rows, caption


# -- Models --------------------------------------------------------------------------------

def models_table(evidence: Evidence, existing: Rows | None = None) -> tuple[Rows, str]:
    """Rows of *Models*: download status per pipeline as the server reported it at run start."""
    server = evidence.server
    ids = [p for p, s in server.schemas.items() if s.get("requires_models")]

    def cells(pipeline_id: str, old: list[str] | None) -> list[str] | None:
        schema = server.schemas.get(pipeline_id)
        if schema is None:
            return [old[0], UNKNOWN, old[2]] if old else None
        if not schema.get("requires_models"):
            status = "✅ Ready (no model needed)"
        elif server.models_present.get(pipeline_id):
            status = "✅ Downloaded"
        else:
            status = "⬇️ Not downloaded"
        description = old[2] if old and old[2].strip() else str(schema.get("description") or "")
        return [f"`{pipeline_id}`", status, description]

    rows = _merge_rows(existing, 3, ids, cells)
    caption = (f"*Status: `/api/v1/models/status` at run start on {server.url or server.target} "
               f"({evidence.cite()}).*")
    return rows, caption


def log_tables(evidence: Evidence) -> list[TableBlock]:
    """The managed tables of a research log, ready for :func:`lab.logbook.markdown.update_file`."""
    return [
        TableBlock("vace-compatibility", VACE_HEADER, lambda rows: vace_table(evidence, rows)),
        TableBlock("performance", PERFORMANCE_HEADER, lambda rows: performance_table(evidence, rows)),
        TableBlock("models", MODELS_HEADER, lambda rows: models_table(evidence, rows)),
    ]


def as_frame(header: Sequence[str], rows: Rows) -> pd.DataFrame:
    """A table as a DataFrame (for notebooks and the HTML report)."""
    return pd.DataFrame(rows, columns=list(header))


TITLES = {"vace-compatibility": "Pipeline VACE Compatibility", "performance": "Performance Observations",
          "models": "Models"}


def log_table_frames(evidence: Evidence) -> dict[str, pd.DataFrame]:
    """The three tables as DataFrames by title, as a fresh log would get them (notebook 06)."""
    frames = {}
    for block in log_tables(evidence):
        rows, _ = block.build(None)
        frames[TITLES[block.key]] = as_frame(block.header, rows)
    return frames
