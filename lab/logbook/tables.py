"""The research log's own tables, in the log's own shape, filled from runs.

- *Pipeline VACE Compatibility* (``Pipeline | VACE Support | Validated``): support as the
  server's schema states it (``supports_vace``), and whether a trial with VACE loaded ran,
  with date and run id as evidence;
- *Performance Observations* (``Metric | Nexus (Reference) | Scope (Measured)``):
  :mod:`lab.logbook.performance_rows`;
- *Models* (``Pipeline ID | Status | Description``): download status from the server.

Each builder takes the rows already in the log (None when it has none) so that what only a
human knows survives: the Nexus reference column, descriptions, rows about pipelines or
metrics the runs say nothing about. A cell the data cannot fill keeps its old text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from lab.logbook.generative import is_generative
from lab.logbook.hosted_runs import HostedRuns
from lab.logbook.markdown import Rows, TableBlock
from lab.logbook.performance_rows import performance_table
from lab.logbook.server_runs import ServerRuns

__all__ = ["vace_table", "models_table", "log_tables", "VACE_HEADER", "PERFORMANCE_HEADER", "MODELS_HEADER",
           "pipeline_cell_id", "as_frame", "log_table_frames", "TITLES"]

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

def _validated(server_runs: ServerRuns, pipeline_id: str) -> str:
    trials = server_runs.trials[server_runs.trials["pipeline_id"].eq(pipeline_id)]
    vace = trials[trials["vace_enabled"].eq(True)] if "vace_enabled" in trials else trials.iloc[0:0]
    ok = vace[vace["status"].eq("ok")]
    failed = vace[vace["status"].eq("error")]
    skipped = trials[trials["status"].eq("skipped") & trials["skip_reason"].fillna("").str.contains("VACE")]
    if not ok.empty:
        return (f"✅ {_count(len(ok), 'trial')} with VACE loaded, {_refs(ok['vace_ref_count'])} "
                f"({server_runs.cite(server_runs.runs_of(ok))})")
    if not failed.empty:
        error = failed["error"].iloc[0] or {}
        return (f"❌ VACE trial failed: {error.get('class', '?')} in {error.get('phase', '?')} "
                f"({server_runs.cite(server_runs.runs_of(failed))})")
    if not skipped.empty:
        return f"not run: {skipped['skip_reason'].iloc[0]} ({server_runs.cite(server_runs.runs_of(skipped))})"
    return f"schema only, no VACE trial ({server_runs.date()}, {server_runs.label})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _refs(counts: pd.Series) -> str:
    """``0–2 reference images``: the range of reference-image counts the trials used."""
    values = sorted({int(c) for c in counts.fillna(0)})
    span = f"{values[0]}–{values[-1]}" if len(values) > 1 else f"{values[0]}"
    return f"{span} reference image{'' if values == [1] else 's'}"


def vace_table(server_runs: ServerRuns, existing: Rows | None = None) -> tuple[Rows, str]:
    """Rows of *Pipeline VACE Compatibility* and its caption."""
    schemas = server_runs.server.schemas
    ids = [*[p for p, s in schemas.items() if s.get("supports_vace")], *server_runs.pipelines()]

    def cells(pipeline_id: str, old: list[str] | None) -> list[str] | None:
        schema = schemas.get(pipeline_id)
        if schema is None:
            return [old[0], UNKNOWN, old[2]] if old else None
        support = YES if schema.get("supports_vace") else NO if is_generative(schema) else "N/A"
        return [f"`{pipeline_id}`", support, _validated(server_runs, pipeline_id)]

    rows = _merge_rows(existing, 3, list(dict.fromkeys(ids)), cells)
    caption = (f"*VACE Support as the server's `/api/v1/pipelines/schemas` states it (`supports_vace`; "
               f"{server_runs.cite()}). Validated: a trial with VACE loaded ran and measured.*")
    return rows, caption


# -- Models --------------------------------------------------------------------------------

def models_table(server_runs: ServerRuns, existing: Rows | None = None) -> tuple[Rows, str]:
    """Rows of *Models*: download status per pipeline as the server reported it at run start."""
    server = server_runs.server
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
               f"({server_runs.cite()}).*")
    return rows, caption


def log_tables(server_runs: ServerRuns, hosted: HostedRuns | None = None) -> list[TableBlock]:
    """The managed tables of a research log, ready for :func:`lab.logbook.markdown.update_file`."""
    return [
        TableBlock("vace-compatibility", VACE_HEADER, lambda rows: vace_table(server_runs, rows)),
        TableBlock("performance", PERFORMANCE_HEADER, lambda rows: performance_table(server_runs, rows, hosted)),
        TableBlock("models", MODELS_HEADER, lambda rows: models_table(server_runs, rows)),
    ]


def as_frame(header: Sequence[str], rows: Rows) -> pd.DataFrame:
    """A table as a DataFrame (for notebooks and the HTML report)."""
    return pd.DataFrame(rows, columns=list(header))


TITLES = {"vace-compatibility": "Pipeline VACE Compatibility", "performance": "Performance Observations",
          "models": "Models"}


def log_table_frames(server_runs: ServerRuns, hosted: HostedRuns | None = None) -> dict[str, pd.DataFrame]:
    """The three tables as DataFrames by title, as a fresh log would get them (notebook 06)."""
    frames = {}
    for block in log_tables(server_runs, hosted):
        rows, _ = block.build(None)
        frames[TITLES[block.key]] = as_frame(block.header, rows)
    return frames
