"""What the emulated server can run: its node catalogue and workflow dependency checks.

``/api/v1/nodes/definitions`` lists one node per registered pipeline, built from the same
metadata as ``/pipelines/schemas``. The simulator has no plain (non-pipeline) nodes, so
Scope's built-in ``scheduler`` is left out rather than described from guesswork. Where
Scope's values are not known the simulator chooses: ports are not ``required``, pipeline
nodes are ``continuous``, and ``params`` is empty (the pipeline's settings are in
``pipeline_meta.config_schema``).

``/api/v1/workflow/resolve`` checks a workflow's pipelines, plugins and LoRAs against what
is registered, installed and downloaded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.sim.loras import LoraBook
from lab.sim.plugins import PluginBook

__all__ = ["node_definitions", "resolve_workflow"]


def node_definitions(pipelines: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``GET /api/v1/nodes/definitions`` body for pipelines' schema metadata."""
    return {"nodes": [_pipeline_node(meta) for meta in pipelines.values()]}


def _pipeline_node(meta: dict[str, Any]) -> dict[str, Any]:
    inputs = [_port(name) for name in meta.get("inputs", [])]
    if meta.get("supports_prompts"):
        inputs.append(_port("prompts", "string"))
    return {
        "node_type_id": meta["id"],
        "display_name": meta["name"],
        "category": "pipeline",
        "description": meta.get("description", ""),
        "inputs": inputs,
        "outputs": [_port(name) for name in meta.get("outputs", [])],
        "params": [],
        "continuous": True,
        "pipeline_meta": meta,
        "plugin_name": meta.get("plugin_name"),
    }


def _port(name: str, port_type: str | None = None) -> dict[str, Any]:
    kind = port_type or ("audio" if "audio" in name else "video")
    return {"name": name, "port_type": kind, "required": False, "description": "",
            "default_value": None}


def resolve_workflow(
    nodes: list[dict[str, Any]],
    min_scope_version: str | None,
    *,
    version: str,
    pipelines: Mapping[str, Any],
    plugins: PluginBook,
    loras: LoraBook,
) -> dict[str, Any]:
    """The ``WorkflowResolutionPlan`` for a workflow's nodes.

    A node's pipeline is ``ok`` when registered; otherwise a plugin source (``pypi``,
    ``git``) makes it an installable ``plugin`` item and a built-in or local one a
    ``missing`` pipeline. A LoRA is ``ok`` when present, else installable if it has
    provenance. The plan can be applied when every item is ok or installable.
    """
    items: list[dict[str, Any]] = []
    installed = {plugin["name"] for plugin in plugins.list()["plugins"]}
    for node in nodes:
        name = str(node.get("node_type_id") or node.get("pipeline_id") or "")
        source = node.get("source") or {"type": "builtin"}
        if name in pipelines:
            items.append(_item("pipeline", name, "ok"))
        elif source.get("type") in ("pypi", "git"):
            plugin = source.get("plugin_name") or source.get("package_spec") or name
            status = "ok" if plugin in installed else "missing"
            items.append(_item("plugin", plugin, status, "install plugin", auto=True))
        else:
            items.append(_item("pipeline", name, "missing", detail="not registered here"))
        for lora in node.get("loras") or []:
            filename = str(lora.get("filename", ""))
            if loras.has(filename):
                items.append(_item("lora", filename, "ok"))
            else:
                auto = lora.get("provenance") is not None
                items.append(_item("lora", filename, "missing", "download LoRA", auto=auto))
    warnings = []
    if min_scope_version and _version(min_scope_version) > _version(version):
        warnings.append(f"The workflow needs Scope {min_scope_version}; this is {version}")
    can_apply = all(i["status"] == "ok" or i["can_auto_resolve"] for i in items)
    return {"can_apply": can_apply, "items": items, "warnings": warnings}


def _item(
    kind: str, name: str, status: str, action: str | None = None, *, auto: bool = False,
    detail: str | None = None,
) -> dict[str, Any]:
    return {"kind": kind, "name": name, "status": status, "detail": detail,
            "action": action if status != "ok" else None,
            "can_auto_resolve": auto and status != "ok"}


def _version(text: str) -> tuple[int, ...]:
    """``"0.2.4"`` as (0, 2, 4); non-numeric parts count as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))
