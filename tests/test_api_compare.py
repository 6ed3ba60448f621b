"""Scope's API against Daydream's hosted API, generated from both documents: operations side by side,
the WHIP answer and the parameter mapping. Every expectation is read from the documents themselves,
and editing a document changes the rows derived from it."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from lab.logbook import ServerRuns
from lab.logbook.api_answers import comparison_tables, reuse_answer, structure_answer, whip_answer
from lab.logbook.api_docs import ApiDocuments, read_document
from lab.logbook.api_operations import operation_table
from lab.logbook.api_params import param_mapping
from lab.logbook.hosted_runs import HostedRuns
from lab.resources import HOSTED_OPENAPI, SCOPE_OPENAPI
from tests.conftest import ROOT
from tests.fixtures import PIPELINES_RUN, RUNS, copy_runs
from tests.test_logbook_nexus import FPS, TTFF, expected_figure, store_hosted_run

SCOPE = read_document(SCOPE_OPENAPI)
HOSTED = read_document(HOSTED_OPENAPI)
UPDATE = "PATCH /v1/streams/{id}"


@pytest.fixture(scope="module")
def server_runs() -> ServerRuns:
    return ServerRuns.load(None, RUNS)


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    """``document`` less operation ``METHOD /path``."""
    edited = copy.deepcopy(document)
    method, _, path = key.partition(" ")
    del edited["paths"][path][method.lower()]
    return edited


def _rows_by_hosted(docs: ApiDocuments) -> dict[str, list[str]]:
    return {row[1].split("`")[1]: row for row in operation_table(docs).rows if row[1] != "none"}


def test_the_shipped_hosted_document_is_what_the_generator_makes_from_the_sdk() -> None:
    pytest.importorskip("daydream", reason="the hosted extra (daydream-sdk) is not installed")
    spec = importlib.util.spec_from_file_location("hosted_openapi", ROOT / "tools" / "hosted_openapi.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.build() == HOSTED, "run `python tools/hosted_openapi.py` and commit lab/data/api/"


def test_operations_side_by_side_come_from_both_documents(server_runs: ServerRuns) -> None:
    docs = ApiDocuments.load(server_runs)
    hosted_ops = [f"{m.upper()} {p}" for p, item in HOSTED["paths"].items() for m in item]
    scope_ops = [f"{m.upper()} {p}" for p, item in SCOPE["paths"].items() for m in item]
    table = operation_table(docs)
    by_hosted = _rows_by_hosted(docs)
    assert list(by_hosted) == hosted_ops and UPDATE in by_hosted
    assert by_hosted[UPDATE][2] == "`POST /api/v1/session/parameters`"
    assert by_hosted["GET /v1/streams"][2] == "none"  # Scope lists no sessions
    scope_only = [row[2].strip("`") for row in table.rows if row[1] == "none"]
    paired = {op.strip("`") for row in by_hosted.values() if row[2] != "none" for op in row[2].split(" + ")}
    assert sorted(scope_only) == sorted(set(scope_ops) - paired)
    assert (table.hosted_count, table.scope_count, table.same) == (len(hosted_ops), len(scope_ops), 0)
    assert "captured /openapi.json of Scope 0.2.4" in table.caption and "daydream-sdk 0.1.0" in table.caption


def test_dropping_an_operation_drops_its_row_and_its_pairing() -> None:
    docs = ApiDocuments.load(scope=SCOPE, hosted=_without(HOSTED, UPDATE))
    assert UPDATE not in _rows_by_hosted(docs)
    # Scope's parameters route, its counterpart, is now a row of its own
    assert ["Update Session Parameters", "none", "`POST /api/v1/session/parameters`"] in operation_table(docs).rows
    # without Scope's parameters route the hosted update has no counterpart, and hardware info no row
    docs = ApiDocuments.load(scope=_without(_without(SCOPE, "POST /api/v1/session/parameters"),
                                            "GET /api/v1/hardware/info"), hosted=HOSTED)
    assert _rows_by_hosted(docs)[UPDATE][2] == "none"
    assert not any("/api/v1/hardware/info" in row[2] for row in operation_table(docs).rows)


def test_a_run_that_recorded_its_operations_and_schemas_is_compared_by_them(tmp_path: Path) -> None:
    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["api"]["operation_list"] = ["POST /api/v1/pipeline/load", UPDATE]
    manifest["servers"]["sim"]["schemas"]["longlive"]["config_schema"] = {"properties": {"guidance_scale": {}}}
    path.write_text(json.dumps(manifest))
    server_runs = ServerRuns.load(None, out)
    docs = ApiDocuments.load(server_runs)
    assert docs.scope_operations == ("POST /api/v1/pipeline/load", UPDATE)
    assert _rows_by_hosted(docs)[UPDATE][0].endswith("(same route)")
    answer = structure_answer(server_runs, docs)
    assert answer.startswith("**Partly**") and "Same method and path: 1" in answer and "Scope 2." in answer
    # the load parameters are the run's own pipelines' (the fixture's schemas keep no config_schema)
    rows = {row[0]: row for row in param_mapping(docs).rows}
    assert rows["`guidance_scale`"][1:3] == ["`guidance_scale`: load (`config_schema` of longlive)", "same name"]
    assert rows["`width`"][1] == "none"


def test_parameters_map_by_name_by_meaning_or_to_none() -> None:
    docs = ApiDocuments.load()
    mapping = param_mapping(docs)
    variants = HOSTED["components"]["schemas"][HOSTED["paths"]["/v1/streams"]["post"]["requestBody"]["content"]
                                               ["application/json"]["schema"]["$ref"].split("/")[-1]]
    refs = [v["$ref"].split("/")[-1] for v in variants["properties"]["params"]["oneOf"]]
    hosted_names = list(dict.fromkeys(n for r in refs for n in HOSTED["components"]["schemas"][r]["properties"]))
    assert [row[0].strip("`") for row in mapping.rows] == hosted_names
    rows = {row[0].strip("`"): row for row in mapping.rows}
    runtime = SCOPE["components"]["schemas"]["Parameters"]["properties"]
    assert "negative_prompt" not in runtime and rows["negative_prompt"][1:3] == ["none", "none"]
    assert rows["prompt_interpolation_method"][2] == "same name" and "prompt_interpolation_method" in runtime
    assert rows["width"][1].startswith("`width`: load (`config_schema` of passthrough")
    assert rows["t_index_list"][1].startswith("`denoising_step_list`: runtime")
    assert rows["t_index_list"][2].startswith("equivalent: ")
    # an equivalent counts only where Scope has it
    scope = copy.deepcopy(SCOPE)
    del scope["components"]["schemas"]["Parameters"]["properties"]["denoising_step_list"]
    assert {r[0]: r[1] for r in param_mapping(ApiDocuments.load(scope=scope)).rows}["`t_index_list`"] == "none"


def test_whip_answer_from_the_documents_and_a_hosted_run(server_runs: ServerRuns, tmp_path: Path) -> None:
    docs = ApiDocuments.load(server_runs)
    answer = whip_answer(server_runs, docs, None)
    offer = SCOPE["components"]["schemas"]["WebRTCOfferRequest"]["properties"]
    assert answer.startswith("**No, a different exchange**")
    assert f"`POST /api/v1/webrtc/offer`: {', '.join(f'`{n}`' for n in offer)})" in answer
    assert "`sessionId`" in answer and "`PATCH /api/v1/webrtc/offer/{session_id}`: `candidates`" in answer
    assert "returns the stream's `whip_url`" in answer and "`livepeer-playback-url`" in answer
    assert "Measured" not in answer
    hosted = HostedRuns.load([store_hosted_run(tmp_path)], tmp_path)
    measured = whip_answer(server_runs, docs, hosted)
    assert (f"Measured over WHIP/WHEP: time to first frame {expected_figure(TTFF, 's', 'ttff_s')}, "
            f"steady fps {expected_figure(FPS, 'fps', 'fps_out')} (SIMULATED, run `") in measured
    # a hosted document whose create response names no WHIP URL says so
    edited = copy.deepcopy(HOSTED)
    del edited["components"]["schemas"]["CreateStreamResponse"]["properties"]["whip_url"]
    assert "names no WHIP URL" in whip_answer(server_runs, ApiDocuments.load(server_runs, hosted=edited), None)


def test_reuse_answer_and_report_tables_agree(server_runs: ServerRuns) -> None:
    docs = ApiDocuments.load(server_runs)
    mapping = param_mapping(docs)
    answer = reuse_answer(server_runs, docs)
    carried = len(mapping.same) + len(mapping.equivalent)
    assert answer.startswith(f"**Partly, {carried} of {len(mapping.rows)} parameters**")
    assert "`prompt` → `prompts`" in answer
    titles = [t.title for t in comparison_tables(server_runs)]
    assert titles == ["Scope and Daydream's hosted API: operations", "Daydream's stream parameters in Scope"]
