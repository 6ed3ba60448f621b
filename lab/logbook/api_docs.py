"""The two APIs' OpenAPI documents, as the log's API comparison reads them, and where each came from.

- **Scope**: its operations are the server's own (the ``operation_list`` a sweep records from
  ``/openapi.json`` in the manifest's ``api`` block, :mod:`lab.apifacts`) when the runs have
  it, else those of Scope 0.2.4's captured document (shipped as package data, a copy of
  ``lab/data/api/scope-0.2.4-openapi.json``). Schemas and summaries come from the captured
  document: a run records the operations, not the whole document. Load parameters are
  the pipelines' ``config_schema`` as the runs' manifests keep them, else as Scope 0.2.4's
  captured ``/api/v1/pipelines/schemas`` has them (its CPU pipelines).
- **Daydream's hosted API**: no OpenAPI document ships offline, so the one shipped is rebuilt
  from ``daydream-sdk``, which is generated from it (``tools/hosted_openapi.py``; its
  ``info.x-reconstructed-from`` names the SDK, ``-how`` says how).

The readers here follow ``$ref`` and merge ``oneOf``/``anyOf``/``allOf`` variants, so a
property is found however a document nests it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.logbook.server_runs import ServerRuns
from lab.protocol import operation_list
from lab.resources import HOSTED_OPENAPI, SCOPE_OPENAPI, SCOPE_PIPELINE_SCHEMAS

__all__ = ["ApiDocuments", "read_document", "operation", "resolve", "properties", "body_schema", "response_schema"]

Document = Mapping[str, Any]


def read_document(path: Path) -> dict[str, Any]:
    """An OpenAPI document from a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ApiDocuments:
    """Scope's and the hosted API's documents, Scope's operations, and where each came from."""

    scope: Document
    hosted: Document
    scope_operations: tuple[str, ...]  # METHOD /path
    scope_source: str
    hosted_source: str
    pipeline_schemas: Mapping[str, Mapping[str, Any]]  # pipeline id -> its schema (config_schema: load params)
    pipelines_source: str

    @classmethod
    def load(cls, server_runs: ServerRuns | None = None, *, scope: Document | None = None,
             hosted: Document | None = None) -> ApiDocuments:
        """The shipped documents (or ``scope``/``hosted`` given), with the runs' own Scope operations
        and pipeline schemas where they recorded them."""
        schemas, pipelines_source = _pipeline_schemas(server_runs)
        scope = scope if scope is not None else read_document(SCOPE_OPENAPI)
        hosted = hosted if hosted is not None else read_document(HOSTED_OPENAPI)
        api = server_runs.server.api if server_runs is not None else None
        recorded = (api or {}).get("operation_list")
        if recorded:
            source = "the server's own /openapi.json, as the runs recorded it"
            operations = tuple(recorded)
        else:
            info = scope.get("info", {})
            source = f"the captured /openapi.json of {info.get('title', 'Scope')} {info.get('version', '')}".strip()
            operations = tuple(operation_list(dict(scope)))
        info = hosted.get("info", {})
        name = f"{info.get('title', 'the hosted API')} {info.get('version', '')}".strip()
        sdk = info.get("x-reconstructed-from")
        hosted_source = f"{name} as rebuilt from {sdk}" if sdk else name
        return cls(scope, hosted, operations, source, hosted_source, schemas, pipelines_source)

    @property
    def hosted_operations(self) -> tuple[str, ...]:
        return tuple(operation_list(dict(self.hosted)))


def _pipeline_schemas(server_runs: ServerRuns | None) -> tuple[Mapping[str, Mapping[str, Any]], str]:
    """The runs' pipeline schemas when they kept ``config_schema``, else Scope 0.2.4's captured ones."""
    schemas = server_runs.server.schemas if server_runs is not None else {}
    if any(s.get("config_schema") for s in schemas.values()):
        return schemas, "the server's /api/v1/pipelines/schemas, as the runs recorded them"
    captured = read_document(SCOPE_PIPELINE_SCHEMAS)["pipelines"]
    return captured, f"Scope 0.2.4's captured /api/v1/pipelines/schemas ({len(captured)} CPU pipelines)"


def operation(document: Document, key: str) -> Mapping[str, Any] | None:
    """The operation object of ``METHOD /path`` in ``document`` (None when it has none)."""
    method, _, path = key.partition(" ")
    found = (document.get("paths", {}).get(path) or {}).get(method.lower())
    return found if isinstance(found, Mapping) else None


def resolve(document: Document, schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``schema`` with its ``$ref`` followed (``#/components/schemas/X``)."""
    seen = 0
    while schema is not None and "$ref" in schema and seen < 32:
        node: Any = document
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        schema, seen = node, seen + 1
    return schema or {}


def properties(document: Document, schema: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Every property ``schema`` can have, in order, through refs and ``oneOf``/``anyOf``/``allOf`` variants."""
    schema = resolve(document, schema)
    found: dict[str, Mapping[str, Any]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        found.setdefault(name, prop)
    for key in ("allOf", "oneOf", "anyOf"):
        for variant in schema.get(key) or []:
            for name, prop in properties(document, variant).items():
                found.setdefault(name, prop)
    return found


def body_schema(document: Document, key: str) -> Mapping[str, Any] | None:
    """The JSON request body schema of operation ``key`` (None without one)."""
    op = operation(document, key) or {}
    return ((op.get("requestBody") or {}).get("content") or {}).get("application/json", {}).get("schema")


def response_schema(document: Document, key: str) -> Mapping[str, Any] | None:
    """The JSON schema of the first 2xx response of operation ``key`` (None without one)."""
    responses = (operation(document, key) or {}).get("responses") or {}
    for code, response in responses.items():
        if str(code).startswith("2"):
            schema = ((response or {}).get("content") or {}).get("application/json", {}).get("schema")
            if schema is not None:
                return schema
    return None
