"""Answers from what the server says about itself: its API (the manifest's ``api`` block,
:mod:`lab.apifacts`; the comparison with the hosted API is :mod:`lab.logbook.api_answers`),
its pipelines' schemas (masking), its hardware and inputs (Spout), and the integration
paths with their measured figures (:mod:`lab.logbook.integration`).

Runs made before the ``api`` block existed answer the API questions not at all rather than
from guesses. What the data cannot judge (ease of integration) is never ticked by
judgement: the integration path is answered with each path's figures and set-up steps,
leaving the judgement of ease to the reader. Spout is answered as far as the API can:
whether the server can use it, the server's reason when not, and its install hint.
"""

from __future__ import annotations

from lab.logbook.answering import Asked, Question, api_block, cited
from lab.logbook.api_answers import HOSTED_API_QUESTIONS
from lab.logbook.integration import integration_answer
from lab.logbook.server_runs import ServerRuns

__all__ = ["API_QUESTIONS", "INTEGRATION_QUESTIONS", "MASKING_QUESTIONS"]


def _docs(server_runs: ServerRuns, _: Asked) -> str | None:
    api = api_block(server_runs)
    if api is None or not api.get("docs_served"):
        return None
    groups = ", ".join(f"{name} ({count})" for name, count in list(api["groups"].items())[:8])
    more = f" and {len(api['groups']) - 8} more groups" if len(api["groups"]) > 8 else ""
    simulator = (f"; plus {api['simulator_operations']} simulator control routes under `/sim/`"
                 if api.get("simulator_operations") else "")
    return cited(server_runs, f"**FastAPI Swagger UI of \"{api['title']}\" {api['api_version']}**: "
                              f"{api['operations']} operations, by group: {groups}{more}{simulator}")


def _sam3(server_runs: ServerRuns, _: Asked) -> str | None:
    schemas = server_runs.server.schemas
    if not schemas:
        return None
    found = [p for p, s in schemas.items() if "sam" in p.lower().split("-") or "sam3" in p.lower()
             or "sam" in str(s.get("name", "")).lower().split()]
    if found:
        return cited(server_runs, "**Yes**: the server lists " + ", ".join(f"`{p}`" for p in found))
    return cited(server_runs, f"**Not listed**: none of the server's {len(schemas)} pipelines is SAM3")


def _alpha(server_runs: ServerRuns, _: Asked) -> str | None:
    schemas = server_runs.server.schemas
    if not schemas or not all("outputs" in s for s in schemas.values()):
        return None
    other = {p: s["outputs"] for p, s in schemas.items() if set(s["outputs"]) - {"video"}}
    if other:
        listed = "; ".join(f"`{p}`: {', '.join(o)}" for p, o in other.items())
        return cited(server_runs, f"**Yes, some pipelines**: {listed}")
    return cited(server_runs, f"**No**: all {len(schemas)} pipelines declare `outputs: [video]` only "
                              "(no mask or alpha output)")


def _spout(server_runs: ServerRuns, _: Asked) -> str | None:
    spout = (server_runs.server.hardware or {}).get("spout")
    if not isinstance(spout, dict):
        return None
    how = ("output is one runtime parameter, `output_sinks: {\"spout\": {\"enabled\": true, \"name\": ...}}`, and "
           "input a session's `input_source` of type `spout`")
    sources = (server_runs.server.inputs or {}).get("input_sources") or []
    source = next((s for s in sources if s.get("source_id") == "spout"), None)
    as_input = "" if source is None else f"; its input source type `spout` is {'' if source.get('available') else 'not '}available"
    if spout.get("available"):
        return cited(server_runs, f"**Available on this server** (`/api/v1/hardware/info`): {how}{as_input}")
    hint = f"; the server's install hint: \"{spout['install_hint']}\"" if spout.get("install_hint") else ""
    return cited(server_runs, f"**Not available on this server**: \"{spout.get('reason') or 'no reason given'}\""
                              f"{hint}{as_input} (`/api/v1/hardware/info`). Where it is available, {how}")


def _integration(server_runs: ServerRuns, _: Asked) -> str | None:
    answer = integration_answer(server_runs)
    return None if answer is None else cited(server_runs, *answer)


API_QUESTIONS: tuple[Question, ...] = (
    *HOSTED_API_QUESTIONS,  # compared with Daydream's hosted API (lab.logbook.api_answers)
    Question("docs", "What's in the Swagger UI (`/docs`)?", "API", _docs),
)
INTEGRATION_QUESTIONS: tuple[Question, ...] = (
    Question("spout", "Spout output complexity (future, optional)?", "Integration", _spout),
    Question("integration", "Simplest web UI integration path?", "Integration", _integration),
)
MASKING_QUESTIONS: tuple[Question, ...] = (
    Question("sam3", "Is SAM3 available as a pipeline module?", "Masking", _sam3),
    Question("alpha", "Does Scope expose segmentation or alpha output?", "Masking", _alpha),
)
