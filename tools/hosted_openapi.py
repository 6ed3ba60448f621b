"""Make ``lab/data/api/daydream-openapi.json``: the hosted API's OpenAPI document, rebuilt from its SDK.

Daydream publishes no OpenAPI document that ships offline, but ``daydream-sdk`` is generated
from it (Speakeasy), so the SDK holds the document's facts: each operation's method, path,
operationId, summary, parameters and status codes in its operation modules, and every schema
as a pydantic model (field descriptions are the models' attribute docstrings). This reads
them back into an OpenAPI 3.1 document: the operations, the request bodies and the create
response (which names the stream's WHIP URL). ``info.x-reconstructed-from`` and
``-how`` say so.

The research log compares Scope's API with this document (``lab.logbook.api_compare``);
``tests/test_api_compare.py`` checks the shipped file is what this writes from the SDK in
the lock. Needs the ``hosted`` extra.

Usage::

    .venv/bin/python tools/hosted_openapi.py            # rewrites lab/data/api/daydream-openapi.json
    .venv/bin/python tools/hosted_openapi.py out.json
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from daydream import models
from daydream._version import __gen_version__, __openapi_doc_version__, __version__
from daydream.sdk import Daydream
from daydream.sdkconfiguration import SERVERS
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.resources import HOSTED_OPENAPI  # noqa: E402  (after the checkout is on sys.path)

REF = "#/components/schemas/{model}"
# Responses whose schema the document keeps: the create response names the WHIP URL.
KEPT_RESPONSES = ("CreateStreamResponse",)


def _keyword(call: ast.Call, name: str) -> Any:
    return next((ast.literal_eval(k.value) for k in call.keywords if k.arg == name), None)


def _call_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def _models_used(function: ast.FunctionDef) -> list[str]:
    """``models.X`` names a method mentions, in order (its request and response models)."""
    return list(dict.fromkeys(ast.unparse(node).removeprefix("models.") for node in ast.walk(function)
                              if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "models"))


def _statuses(function: ast.FunctionDef) -> dict[str, bool]:
    """Status code -> whether it is a success (its branch returns), from ``utils.match_response`` checks."""
    codes: dict[str, bool] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Call) \
                and _call_name(node.test) == "utils.match_response":
            code = ast.literal_eval(node.test.args[1])
            codes[code] = any(isinstance(n, ast.Return) for n in node.body)
    return codes


def _operations(module_name: str) -> list[dict[str, Any]]:
    """The sync methods of one sub-SDK module, as operation facts."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")):
        calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
        build = next((c for c in calls if _call_name(c) == "self._build_request"), None)
        hook = next((c for c in calls if _call_name(c) == "HookContext"), None)
        if build is None or hook is None:
            continue
        doc = (ast.get_docstring(function) or "").split("\n\n")
        found.append({"method": _keyword(build, "method").lower(), "path": _keyword(build, "path"),
                      "operationId": _keyword(hook, "operation_id"), "summary": doc[0].strip(),
                      "description": doc[1].strip() if len(doc) > 1 and not doc[1].startswith(":") else "",
                      "models": _models_used(function), "statuses": _statuses(function)})
    return found


def _location(field: Any) -> str | None:
    """``path``, ``query``, ``body`` or None, from the SDK's FieldMetadata on a request field."""
    for meta in field.metadata:
        for where, name in (("path", "path"), ("query", "query"), ("request", "body")):
            if getattr(meta, where, None):
                return name
    return None


def _request(model: type[BaseModel]) -> tuple[list[dict[str, Any]], type[BaseModel] | None]:
    """Parameters and body model of an operation's request model (no field metadata: the model is the body)."""
    fields = model.model_fields
    if not any(_location(f) for f in fields.values()):
        return [], model
    params, body = [], None
    docs = _field_docs(model)
    for name, field in fields.items():
        where = _location(field)
        if where in ("path", "query"):
            params.append({"name": field.alias or name, "in": where, "required": field.is_required(),
                           "description": docs.get(name, ""), "schema": {"type": "string"}})
        elif where == "body":
            body = next(a for a in _flatten(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel))
    return params, body


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    return [x for a in args for x in _flatten(a)] if args else [annotation]


@functools.cache
def _classes(module_name: str) -> dict[str, ast.ClassDef]:
    """The class definitions of a module, parsed once (the models' modules are large)."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The attribute docstrings of a model's fields (Speakeasy writes each field's description there)."""
    cls = _classes(model.__module__)[model.__name__]
    docs = {}
    for before, after in zip(cls.body, cls.body[1:], strict=False):
        if isinstance(before, ast.AnnAssign) and isinstance(before.target, ast.Name) \
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                and isinstance(after.value.value, str):
            docs[before.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _describe(schemas: dict[str, Any]) -> None:
    """Add each field's description (the SDK's attribute docstring) to the generated schemas."""
    for name, schema in schemas.items():
        model = getattr(models, name, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for field, text in _field_docs(model).items():
            key = model.model_fields[field].alias or field
            if key in schema.get("properties", {}):
                schema["properties"][key]["description"] = text


def build() -> dict[str, Any]:
    """The document, from the installed SDK."""
    operations: dict[str, dict[str, Any]] = {}
    for module_name, _ in Daydream._sub_sdk_map.values():
        tag = module_name.rsplit(".", 1)[1]
        for op in _operations(module_name):
            operations.setdefault(op["operationId"], op | {"tags": []})["tags"].append(tag)
    wanted: list[tuple[type[BaseModel], str]] = []
    paths: dict[str, dict[str, Any]] = {}
    for op in operations.values():
        request = next((getattr(models, m) for m in op["models"] if m.endswith("Request")), None)
        params, body = _request(request) if request is not None else ([], None)
        entry: dict[str, Any] = {"operationId": op["operationId"], "summary": op["summary"], "tags": op["tags"]}
        if op["description"]:
            entry["description"] = op["description"]
        if params:
            entry["parameters"] = params
        if body is not None:
            wanted.append((body, "validation"))
            schema = {"$ref": REF.format(model=body.__name__)}
            entry["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        responses = {}
        for code, ok in op["statuses"].items():
            response = next((m for m in op["models"] if m.endswith("Response")), None) if ok else None
            responses[code] = {"description": "success" if ok else "error"}
            if response in KEPT_RESPONSES:
                wanted.append((getattr(models, response), "serialization"))
                responses[code]["content"] = {"application/json": {"schema": {"$ref": REF.format(model=response)}}}
        entry["responses"] = responses
        entry["security"] = [{"bearer": []}]
        paths.setdefault(op["path"], {})[op["method"]] = entry
    _, generated = models_json_schema(wanted, ref_template=REF, by_alias=True)
    schemas = generated.get("$defs", {})
    _describe(schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": (Daydream.__doc__ or "").split(":")[0].strip().removesuffix(" Documentation"),
                 "version": __openapi_doc_version__,
                 "x-reconstructed-from": f"daydream-sdk {__version__}",
                 "x-reconstructed-how": f"by scope-lab's tools/hosted_openapi.py from the SDK Speakeasy "
                                        f"{__gen_version__} generated: operations from its operation modules, "
                                        f"schemas from its pydantic models (request bodies and the create "
                                        f"response only)"},
        "servers": [{"url": url} for url in SERVERS],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=HOSTED_OPENAPI)
    args = parser.parse_args()
    document = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(document['paths'])} paths, {len(document['components']['schemas'])} schemas "
          f"from daydream-sdk {__version__}")


if __name__ == "__main__":
    main()
