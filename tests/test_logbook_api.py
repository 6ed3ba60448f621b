"""The manifest's api block: read from a real Scope's OpenAPI, a hosted-style API, and the simulator."""

from __future__ import annotations

import json
from pathlib import Path

from lab.client import ScopeClient
from lab.logbook import ServerRuns
from lab.apifacts import api_facts
from lab.protocol import summarize_openapi
from lab.logbook.answering import Asked
from lab.logbook.questions import QUESTIONS
from tests.conftest import SIM_SPEED, load_fixture
from tests.fixtures import PIPELINES_RUN, copy_runs


def test_real_scope_openapi_is_the_local_api_without_whip() -> None:
    facts = summarize_openapi(load_fixture("openapi.json"))
    assert facts["scope_local"] is True
    assert facts["hosted_streams"] is False
    assert facts["whip_paths"] == []
    assert facts["operations"] == 70  # method entries under "paths" of the captured Scope 0.2.4
    assert len(facts["operation_list"]) == 70 and "POST /api/v1/webrtc/offer" in facts["operation_list"]
    assert facts["simulator_operations"] == 0
    assert facts["groups"]["pipeline"] == 2 and facts["groups"]["webrtc"] >= 3
    assert (facts["title"], facts["api_version"]) == ("Scope", "0.2.4")


def test_hosted_api_with_whip_is_recognised_and_answered(tmp_path: Path) -> None:
    hosted = {"info": {"title": "Daydream", "version": "1"}, "paths": {
        "/v1/streams": {"post": {}}, "/v1/streams/{id}": {"get": {}, "patch": {}, "delete": {}},
        "/v1/streams/{id}/whip": {"post": {}}}}
    facts = summarize_openapi(hosted)
    assert facts["hosted_streams"] and not facts["scope_local"]
    assert facts["whip_paths"] == ["/v1/streams/{id}/whip"]
    assert facts["operations"] == 5 and facts["groups"] == {"v1": 5}

    out = copy_runs(tmp_path, PIPELINES_RUN)
    path = out / PIPELINES_RUN / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["servers"]["sim"]["api"] |= facts
    path.write_text(json.dumps(manifest))
    server_runs = ServerRuns.load(None, out)
    answers = {q.key: q.answer(server_runs, Asked(15.0)) for q in QUESTIONS}
    assert answers["api-hosted"] is not None and answers["api-hosted"].startswith("**Partly**")
    assert answers["whip"] is not None and "`/v1/streams/{id}/whip`" in answers["whip"]


async def test_api_facts_from_the_simulator(client: ScopeClient) -> None:
    facts = await api_facts(client)
    assert facts["scope_local"] and not facts["hosted_streams"] and facts["whip_paths"] == []
    assert facts["docs_served"] and facts["docs_title"] == "Scope - Swagger UI"
    assert facts["simulator_operations"] > 0  # /sim/ routes counted apart from Scope's
    assert not any(op.split(" ")[1].startswith("/sim/") for op in facts["operation_list"])  # and not listed
    assert facts["simulator_speed"] == SIM_SPEED
    assert facts["target_kind"] == "url"
