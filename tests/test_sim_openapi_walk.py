"""Walk Scope 0.2.4's captured OpenAPI document and call every operation on the simulator.

For each operation the walk builds a minimal valid request from the document (path and
required query parameters filled, the request body's required fields generated from its
schema) and checks the simulator's answer: the route exists (no routing 404/405), the status
is one the document lists for the operation, and a JSON body validates against the
documented schema, ``$ref``s resolved against the document.

FastAPI's documents list only the success and 422 responses: the refusals Scope's handlers
raise (404 for an unknown session, 400 for an unavailable integration, ...) are not in them.
Where a minimal request meets such a documented refusal, ``REFUSALS`` names the status and
detail Scope gives; the walk then wants exactly that, with a ``{"detail": ...}`` body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from lab.sim import RunningSimulator
from tests.conftest import SimControl, load_fixture

DOCUMENT: dict[str, Any] = load_fixture("openapi.json")
_DOC_URI = "urn:scope-0.2.4-openapi"
_REGISTRY = Registry().with_resource(_DOC_URI, Resource(DOCUMENT, specification=DRAFT202012))
_ERROR_BODY = {"type": "object", "required": ["detail"], "properties": {"detail": {}}}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items() for method in item]

# Values for path and required query parameters (others get "walk").
PARAMETERS = {
    "service_id": "civitai",
    "source_type": "ndi",
    "pipeline_id": "passthrough",
    "filename": "walk.png",
}

# Bodies the document cannot give: routes that read their JSON themselves, raw uploads, and
# requests that would only be refused for a made-up value ("x" is no pipeline or LoRA host).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/plugins"): {"json": {"package": "scope-walk-plugin"}},
    ("post", "/api/v1/plugins/{name}/reload"): {"json": {"force": False}},
    ("post", "/api/v1/assets"): {
        "content": PNG, "headers": {"content-type": "application/octet-stream"}
    },
    ("post", "/api/v1/pipeline/load"): {"json": {"pipeline_ids": ["passthrough"]}},
    ("post", "/api/v1/models/download"): {"json": {"pipeline_id": "passthrough"}},
    ("post", "/api/v1/loras"): {
        "json": {"url": "https://huggingface.co/walk/loras/resolve/main/walk.safetensors"}
    },
    ("post", "/api/v1/lora/download"): {
        "json": {"source": "huggingface", "repo_id": "walk/loras",
                 "hf_filename": "walk.safetensors"}
    },
    ("post", "/api/v1/session/start"): {"json": {"pipeline_id": "passthrough"}},
}

# Scope's documented refusals that a minimal request meets on a fresh simulator:
# (method, path) -> (status, start of the detail).
REFUSALS: dict[tuple[str, str], tuple[int, str]] = {
    ("post", "/api/v1/webrtc/offer"): (400, "Pipeline not loaded"),
    ("patch", "/api/v1/webrtc/offer/{session_id}"): (404, "Session walk not found"),
    ("get", "/api/v1/recordings/{session_id}"): (404, "Session walk not found"),
    ("post", "/api/v1/recordings/{session_id}/start"): (404, "Session walk not found"),
    ("post", "/api/v1/recordings/{session_id}/stop"): (404, "Session walk not found"),
    ("delete", "/api/v1/loras/{name}"): (404, "LoRA walk not found"),
    ("put", "/api/v1/lora/{filename}/provenance"): (404, "LoRA file walk.png not found"),
    ("get", "/api/v1/assets/{asset_path}"): (404, "Asset not found"),
    ("get", "/api/v1/input-sources/{source_type}/sources"): (400, "Input source ndi"),
    ("get", "/api/v1/input-sources/{source_type}/sources/{identifier}/resolution"): (
        400, "Input source ndi"),
    ("get", "/api/v1/input-sources/{source_type}/sources/{identifier}/stream"): (
        400, "Input source ndi"),
    ("delete", "/api/v1/keys/{service_id}"): (404, "No stored API key for civitai"),
    ("delete", "/api/v1/plugins/{name}"): (404, "Plugin walk not found"),
    ("post", "/api/v1/plugins/{name}/reload"): (404, "Plugin walk not found"),
    ("post", "/api/v1/cloud/connect"): (500, "400: cloud credentials not configured"),
    ("post", "/api/v1/tempo/enable"): (400, "Tempo source link"),
    ("post", "/api/v1/tempo/set_tempo"): (400, "Tempo sync is not enabled"),
    ("get", "/api/v1/session/frame"): (404, "No frame available"),
    ("get", "/api/v1/session/output.ts"): (404, "No active headless session"),
    ("post", "/api/v1/session/start"): (500, "FrameProcessor failed to start"),
    ("post", "/api/v1/session/stop"): (404, "No active headless session"),
    ("get", "/{path}"): (404, "Frontend not built"),
}

# Server-Sent Events streams never end: the walk reads their first event and leaves.
STREAMS = {("get", "/api/v1/osc/stream"), ("get", "/api/v1/dmx/stream")}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref``s to the schema they name in the document."""
    while "$ref" in schema:
        node: Any = DOCUMENT
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example(schema: dict[str, Any]) -> Any:
    """A minimal value that the schema accepts: required fields only, lowest bounds."""
    schema = resolve(schema)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example(options[0]) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: example(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return "walk" * max(1, schema.get("minLength", 1))


def request_for(path: str, method: str) -> tuple[str, dict[str, Any]]:
    """The URL and httpx keyword arguments of a minimal valid request."""
    operation = DOCUMENT["paths"][path][method]
    url, params = path, {}
    for parameter in operation.get("parameters", []):
        value = PARAMETERS.get(parameter["name"], "walk")
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", value)
        elif parameter.get("required"):
            params[parameter["name"]] = value
    kwargs: dict[str, Any] = {"params": params}
    if (method, path) in BODIES:
        kwargs |= BODIES[(method, path)]
    elif "requestBody" in operation:
        kwargs["json"] = example(operation["requestBody"]["content"]["application/json"]["schema"])
    return url, kwargs


def validate(body: Any, schema: dict[str, Any]) -> None:
    """Validate against a schema of the document (its ``$ref``s resolved in the document)."""
    if "$ref" in schema:
        schema = {"$ref": _DOC_URI + schema["$ref"]}
    Draft202012Validator(schema, registry=_REGISTRY).validate(body)


@pytest.fixture
def http(sim: SimControl) -> Iterator[httpx.Client]:
    """A client of the reset session simulator."""
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "method"), [pytest.param(p, m, id=f"{m.upper()} {p}") for p, m in OPERATIONS]
)
def test_every_documented_operation_answers_as_documented(
    http: httpx.Client, path: str, method: str
) -> None:
    url, kwargs = request_for(path, method)
    with http.stream(method.upper(), url, **kwargs) as response:
        if (method, path) in STREAMS:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert next(response.iter_text()).startswith(":")
            return
        response.read()
    documented = DOCUMENT["paths"][path][method]["responses"]
    where = f"{method.upper()} {url} -> {response.status_code} {response.text[:300]}"
    refusal = REFUSALS.get((method, path))
    if refusal is not None:
        status, detail = refusal
        assert response.status_code == status, where
        validate(response.json(), _ERROR_BODY)
        assert str(response.json()["detail"]).startswith(detail), where
        return
    assert str(response.status_code) in documented, where
    schema = documented[str(response.status_code)].get("content", {}).get(
        "application/json", {}).get("schema")
    if schema and response.headers.get("content-type", "").startswith("application/json"):
        validate(response.json(), schema)


def test_openapi_lists_the_captured_operations_and_tags_the_rest(
    sim_server: RunningSimulator,
) -> None:
    served = httpx.get(f"{sim_server.url}/openapi.json", timeout=10).json()
    scope, control = set(), set()
    for path, item in served["paths"].items():
        for method, operation in item.items():
            tagged = "simulator" in operation.get("tags", [])
            (control if tagged else scope).add((path, method))
    assert scope == set(OPERATIONS)
    assert len(OPERATIONS) == 70
    assert control and all(path.startswith("/sim/") for path, _ in control)


def test_the_walk_covers_only_documented_operations() -> None:
    """Every special case names an operation of the document (no stale entries)."""
    for method, path in [*BODIES, *REFUSALS, *STREAMS]:
        assert method in DOCUMENT["paths"].get(path, {}), (method, path)
