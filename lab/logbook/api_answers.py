"""The log's questions that compare Scope with Daydream's hosted API, answered from both APIs' schemas.

- "Is the API structure identical…": the operations side by side (:mod:`.api_operations`);
- "Does WHIP work the same way?": Scope's WebRTC offer route as its document describes it
  against WHIP (the hosted create response's WHIP URL, the protocol as :mod:`lab.whip`
  speaks it), and what a hosted run measured over it;
- "Can we reuse Nexus patterns?": the hosted parameters mapped to Scope's (:mod:`.api_params`).

The first two need the runs' ``api`` block (what this server's OpenAPI said); runs from
before it leave them open, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.logbook.answering import Asked, Question, api_block, cited
from lab.logbook.api_docs import ApiDocuments, body_schema, properties, response_schema
from lab.logbook.api_operations import OPERATIONS_HEADER, operation_table
from lab.logbook.api_params import HOSTED_CREATE, PARAMS_HEADER, param_mapping
from lab.logbook.markdown import Rows
from lab.logbook.hosted_runs import HostedRuns
from lab.logbook.server_runs import ServerRuns
from lab.protocol import WEBRTC_OFFER_PATH, webrtc_session_path
from lab.units import format_figure
from lab.whip import PLAYBACK_HEADER, SDP

__all__ = ["structure_answer", "whip_answer", "reuse_answer", "HOSTED_API_QUESTIONS", "REUSE_QUESTIONS",
           "ComparisonTable", "comparison_tables"]

MEASURED_OVER_WHIP = (("time to first frame", ("ttff_s",)), ("steady fps", ("fps_out",)))


def _names(names: list[str] | dict[str, str], limit: int = 8) -> str:
    items = [f"`{n}` → `{t}`" for n, t in names.items()] if isinstance(names, dict) else [f"`{n}`" for n in names]
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def structure_answer(server_runs: ServerRuns, docs: ApiDocuments) -> str:
    """The verdict and the counts of the side-by-side operation table."""
    table = operation_table(docs)
    verdict = "**Yes**" if table.same == table.hosted_count else "**Partly**" if table.same else "**No**"
    hosted_ops = ", ".join(f"`{key}`" for key in docs.hosted_operations)
    return cited(server_runs, f"{verdict}: the hosted API has {table.hosted_count} operations ({hosted_ops}), "
                              f"Scope {table.scope_count}. Same method and path: {table.same}; {table.by_job} more "
                              f"do the same job by other routes; {table.scope_only} Scope operations have no hosted "
                              f"counterpart (Scope: {docs.scope_source}; Daydream: "
                              f"{docs.hosted_source}; side by side in `lab report` and notebook 06)")


def _fields(docs: ApiDocuments, schema: Mapping[str, Any] | None) -> str:
    return ", ".join(f"`{n}`" for n in properties(docs.scope, schema))


def _measured(hosted: HostedRuns | None) -> str:
    """What a hosted run measured over WHIP/WHEP ("" without one)."""
    if hosted is None:
        return ""
    parts = []
    models = hosted.models()
    for model in models:
        for label, names in MEASURED_OVER_WHIP:
            figure = hosted.figure(model, names)
            if figure is not None and figure.value is not None:
                parts.append(f"{f'{model} ' if len(models) > 1 else ''}{label} {format_figure(figure)}")
    if not parts:
        return ""
    return f" Measured over WHIP/WHEP: {', '.join(parts)} ({hosted.cite()})."


def whip_answer(server_runs: ServerRuns, docs: ApiDocuments, hosted: HostedRuns | None) -> str:
    """Scope's offer route against the hosted API's WHIP, from the two documents and lab.whip's protocol."""
    api = api_block(server_runs) or {}
    offer = f"POST {WEBRTC_OFFER_PATH}"
    trickle = f"PATCH {webrtc_session_path('{session_id}')}"
    whip_url = next((n for n in properties(docs.hosted, response_schema(docs.hosted, HOSTED_CREATE)) if "whip" in n),
                    None)
    if api.get("whip_paths"):
        scope = f"**WHIP offered** at {', '.join(f'`{p}`' for p in api['whip_paths'])}."
    elif offer in docs.scope_operations:
        answer = _fields(docs, response_schema(docs.scope, offer))
        candidates = (f"ICE candidates trickle in afterwards (`{trickle}`: "
                      f"{_fields(docs, body_schema(docs.scope, trickle))}); " if trickle in docs.scope_operations else "")
        scope = (f"**No, a different exchange**: Scope takes the SDP offer as JSON (`{offer}`: "
                 f"{_fields(docs, body_schema(docs.scope, offer))}) and answers JSON ({answer}); {candidates}"
                 "one peer connection carries input and output.")
    else:
        scope = "**No WebRTC route** in Scope's document."
    hosted_text = (f" Daydream's hosted API is WHIP: `{HOSTED_CREATE}` returns the stream's `{whip_url}`, the offer "
                   f"is `POST`ed there as `{SDP}` and answered in a `201` with `Location`; the output plays over "
                   f"WHEP from the URL in the answer's `{PLAYBACK_HEADER}` header (a second peer connection)."
                   if whip_url else " The hosted API's document names no WHIP URL.")
    return cited(server_runs, scope + hosted_text + _measured(hosted))


def reuse_answer(server_runs: ServerRuns, docs: ApiDocuments) -> str:
    """How many hosted parameters carry over to Scope, by name or by meaning, and which do not."""
    mapping = param_mapping(docs)
    total = len(mapping.rows)
    carried = len(mapping.same) + len(mapping.equivalent)
    return cited(server_runs, f"**Partly, {carried} of {total} parameters**: same name {_names(mapping.same)}; "
                              f"equivalent {_names(mapping.equivalent)}; no Scope counterpart "
                              f"{_names(mapping.unmatched)} (mapping: `lab report`, notebook 06)")


def _structure(server_runs: ServerRuns, _: Asked) -> str | None:
    return structure_answer(server_runs, ApiDocuments.load(server_runs)) if api_block(server_runs) else None


def _whip(server_runs: ServerRuns, asked: Asked) -> str | None:
    return whip_answer(server_runs, ApiDocuments.load(server_runs), asked.hosted) if api_block(server_runs) else None


def _reuse(server_runs: ServerRuns, _: Asked) -> str | None:
    return reuse_answer(server_runs, ApiDocuments.load(server_runs))


@dataclass(frozen=True)
class ComparisonTable:
    """A table behind the answers, for the HTML report and notebook 06 (the log holds the answers only)."""

    title: str
    header: tuple[str, ...]
    rows: Rows
    caption: str


def comparison_tables(server_runs: ServerRuns | None = None) -> list[ComparisonTable]:
    """The side-by-side operations and the parameter mapping, from the runs' facts where they have them."""
    docs = ApiDocuments.load(server_runs)
    operations, params = operation_table(docs), param_mapping(docs)
    return [ComparisonTable("Scope and Daydream's hosted API: operations", OPERATIONS_HEADER, operations.rows,
                            operations.caption),
            ComparisonTable("Daydream's stream parameters in Scope", PARAMS_HEADER, params.rows, params.caption)]


HOSTED_API_QUESTIONS: tuple[Question, ...] = (
    Question("api-hosted", "Is the API structure identical to Daydream hosted API?", "API", _structure),
    Question("whip", "Does WHIP work the same way?", "API", _whip),
)
REUSE_QUESTIONS: tuple[Question, ...] = (
    Question("nexus-reuse", "Can we reuse Nexus patterns?", "Integration", _reuse),
)
