"""Scope's LoRA, plugin, node-catalogue and workflow routes, as the simulator answers them.

The state behind them is emulated (see :mod:`lab.sim.loras`, :mod:`lab.sim.plugins` and
:mod:`lab.sim.catalogue`): lists start empty, and what is added can be listed and removed.

``POST /api/v1/plugins`` and ``POST /api/v1/plugins/{name}/reload`` declare no request body in
Scope's OpenAPI document: Scope reads the JSON itself. The simulator does the same, and
answers 422 when the body is not a JSON object with the fields Scope reads.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.sim.catalogue import node_definitions, resolve_workflow
from lab.sim.deps import StateDep

__all__ = ["router"]

router = APIRouter()

_M = TypeVar("_M", bound=BaseModel)


class LoraInstallRequest(BaseModel):
    """Body of ``POST /api/v1/loras``."""

    url: str
    filename: str | None = None


class LoraDownloadRequest(BaseModel):
    """Body of ``POST /api/v1/lora/download``; which fields are needed depends on ``source``."""

    source: Literal["huggingface", "civitai", "url"]
    repo_id: str | None = None
    hf_filename: str | None = None
    model_id: str | None = None
    version_id: str | None = None
    url: str | None = None
    subfolder: str | None = None
    expected_sha256: str | None = None
    civitai_token: str | None = None


class LoraProvenance(BaseModel):
    """Body of ``PUT /api/v1/lora/{filename}/provenance``."""

    source: Literal["huggingface", "civitai", "url", "local"]
    repo_id: str | None = None
    hf_filename: str | None = None
    model_id: str | None = None
    version_id: str | None = None
    url: str | None = None


class PluginInstallRequest(BaseModel):
    """The JSON ``POST /api/v1/plugins`` reads."""

    package: str
    editable: bool = False
    upgrade: bool = False
    force: bool = False
    pre: bool = False


class PluginReloadRequest(BaseModel):
    """The JSON ``POST /api/v1/plugins/{name}/reload`` reads (it may be empty)."""

    force: bool = False


class WorkflowRequest(BaseModel):
    """Body of ``POST /api/v1/workflow/resolve``; a legacy ``pipelines`` list joins ``nodes``."""

    model_config = ConfigDict(extra="ignore")

    nodes: list[dict[str, Any]] = Field(default_factory=list, max_length=150)
    pipelines: list[dict[str, Any]] = Field(default_factory=list)
    min_scope_version: str | None = None


@router.get("/api/v1/loras")
async def list_loras(state: StateDep) -> dict[str, Any]:
    """LoRA files, by folder and name."""
    return {"lora_files": state.loras.list()}


@router.post("/api/v1/loras")
async def install_lora(body: LoraInstallRequest, state: StateDep) -> dict[str, Any]:
    """Add a LoRA from a CivitAI or HuggingFace URL (emulated: nothing is fetched)."""
    return state.loras.install(body.url, body.filename)


@router.delete("/api/v1/loras/{name}")
async def delete_lora(name: str, state: StateDep) -> dict[str, Any]:
    """Delete a LoRA by its stem."""
    return state.loras.delete(name)


@router.post("/api/v1/lora/download")
async def download_lora(body: LoraDownloadRequest, state: StateDep) -> dict[str, Any]:
    """Structured LoRA download (emulated: an empty file)."""
    return state.loras.download(body.model_dump())


@router.put("/api/v1/lora/{filename:path}/provenance")
async def tag_lora(filename: str, body: LoraProvenance, state: StateDep) -> dict[str, Any]:
    """Record where a LoRA came from; returns its manifest entry."""
    return state.loras.tag(filename, body.model_dump(exclude_none=True))


@router.get("/api/v1/plugins")
async def list_plugins(state: StateDep) -> dict[str, Any]:
    """Installed plugins (none fail to load here)."""
    return state.plugins.list()


@router.post("/api/v1/plugins")
async def install_plugin(request: Request, state: StateDep) -> dict[str, Any]:
    """Add a plugin entry (emulated: nothing is installed, no pipeline is added)."""
    body = await _json_body(request, PluginInstallRequest, default=None)
    return state.plugins.install(
        body.package, editable=body.editable, upgrade=body.upgrade, force=body.force
    )


@router.delete("/api/v1/plugins/{name}")
async def uninstall_plugin(name: str, state: StateDep) -> dict[str, Any]:
    """Remove a plugin."""
    return state.plugins.uninstall(name)


@router.post("/api/v1/plugins/{name}/reload")
async def reload_plugin(name: str, request: Request, state: StateDep) -> dict[str, Any]:
    """Reload an editable plugin."""
    await _json_body(request, PluginReloadRequest, default={})
    return state.plugins.reload(name)


@router.get("/api/v1/nodes/definitions")
async def list_node_definitions(state: StateDep) -> dict[str, Any]:
    """One node per registered pipeline (see :mod:`lab.sim.catalogue`)."""
    return node_definitions(state.schemas["pipelines"])


@router.post("/api/v1/workflow/resolve")
async def resolve(body: WorkflowRequest, state: StateDep) -> dict[str, Any]:
    """What a workflow needs that this server lacks."""
    return resolve_workflow(
        [*body.nodes, *body.pipelines], body.min_scope_version,
        version=state.config.version, pipelines=state.profiles,
        plugins=state.plugins, loras=state.loras,
    )


async def _json_body(
    request: Request, model: type[_M], *, default: dict[str, Any] | None
) -> _M:
    """Parse a body the route reads itself; 422 like FastAPI's when it does not fit."""
    raw = await request.body()
    try:
        if not raw.strip():
            if default is None:
                raise HTTPException(422, [{"type": "missing", "loc": ["body"],
                                           "msg": "Field required", "input": None}])
            return model.model_validate(default)
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
                  for e in exc.errors()]
        raise HTTPException(422, errors) from None
