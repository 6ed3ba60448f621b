"""Scope's operations and the hosted API's side by side (the log's "Is the API structure identical…").

Rows come from the two documents (:mod:`lab.logbook.api_docs`): first every hosted
operation, with the Scope operation of the same method and path when there is one, else
its counterpart by job from :data:`COUNTERPARTS` (a kept table, each pair with its reason,
listed only where Scope's document has the operation), else "none"; then every Scope
operation nothing was paired with. Drop an operation from a document and its row goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.logbook.api_docs import ApiDocuments, Document, operation
from lab.logbook.markdown import Rows

__all__ = ["OPERATIONS_HEADER", "Counterpart", "COUNTERPARTS", "OperationTable", "operation_table"]

OPERATIONS_HEADER = ("Job", "Daydream hosted API", "Scope")
NONE = "none"


@dataclass(frozen=True)
class Counterpart:
    """Scope's operations that do the job of a hosted one, and why they count as its counterpart."""

    hosted: str
    scope: tuple[str, ...]
    reason: str


COUNTERPARTS: tuple[Counterpart, ...] = (
    Counterpart("POST /v1/streams", ("POST /api/v1/pipeline/load", "POST /api/v1/webrtc/offer"),
                "a hosted stream is a loaded model and a media session at once; Scope loads, then connects"),
    Counterpart("PATCH /v1/streams/{id}", ("POST /api/v1/session/parameters",),
                "runtime parameters; a Scope WebRTC session sends them over its data channel instead"),
    Counterpart("GET /v1/streams/{id}", ("GET /api/v1/pipeline/status", "GET /api/v1/session/parameters"),
                "what runs, and with which parameters"),
    Counterpart("DELETE /v1/streams", ("DELETE /api/v1/webrtc/offer/{session_id}",),
                "ends the session; Scope's pipeline stays loaded"),
    Counterpart("GET /v1/streams/{id}/status", ("GET /api/v1/session/metrics",),
                "a running stream's health and frame rates"),
)


def _cell(document: Document, key: str) -> str:
    """```POST /v1/streams` (createStream)``: the operation, with its id where the document names one."""
    op_id = (operation(document, key) or {}).get("operationId")
    return f"`{key}`" + (f" ({op_id})" if op_id and not str(op_id).endswith("_" + key.split(" ")[0].lower()) else "")


def _summary(document: Document, key: str) -> str:
    return str((operation(document, key) or {}).get("summary") or "")


@dataclass(frozen=True)
class OperationTable:
    """The rows, and how the hosted operations pair with Scope's: the same route, by job, or not at all."""

    rows: Rows
    hosted_count: int
    scope_count: int
    same: int  # hosted operations Scope serves at the same method and path
    by_job: int  # hosted operations with a Scope counterpart by job
    scope_only: int  # Scope operations paired with none
    caption: str


def operation_table(docs: ApiDocuments) -> OperationTable:
    """The side-by-side rows of the two documents' operations, and the table's caption."""
    scope_ops = list(docs.scope_operations)
    counterparts = {c.hosted: c for c in COUNTERPARTS}
    used: set[str] = set()
    rows: Rows = []
    same = by_job = 0
    for key in docs.hosted_operations:
        summary = _summary(docs.hosted, key)
        if key in scope_ops:
            same += 1
            used.add(key)
            rows.append([f"{summary} (same route)", _cell(docs.hosted, key), _cell(docs.scope, key)])
            continue
        pair = counterparts.get(key)
        matched = [op for op in (pair.scope if pair else ()) if op in scope_ops]
        used.update(matched)
        by_job += bool(matched)
        job = f"{summary}: {pair.reason}" if matched and pair else summary
        rows.append([job, _cell(docs.hosted, key), " + ".join(_cell(docs.scope, op) for op in matched) or NONE])
    scope_only = [key for key in scope_ops if key not in used]
    for key in scope_only:
        rows.append([_summary(docs.scope, key), NONE, _cell(docs.scope, key)])
    caption = (f"*Operations from each API's own OpenAPI document. Scope: {docs.scope_source}, "
               f"{len(scope_ops)} operations. Daydream: {docs.hosted_source}, {len(docs.hosted_operations)} "
               f"operations. Same method and path in both: {same}. Other pairs are by job "
               f"(`lab.logbook.api_operations.COUNTERPARTS`, reason in the Job column); \"none\": no counterpart.*")
    return OperationTable(rows, len(docs.hosted_operations), len(scope_ops), same, by_job, len(scope_only), caption)
