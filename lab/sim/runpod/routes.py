"""The emulated RunPod API's HTTP face (``POST /runpod/graphql``, as the SDK posts to
``$RUNPOD_API_BASE_URL/graphql``) and its control routes under ``/sim/runpod``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lab.sim.deps import StateDep
from lab.sim.runpod.config import HOME_POD_ID, RunpodFault
from lab.sim.runpod.schema import execute

__all__ = ["api_router", "control_router"]

api_router = APIRouter(prefix="/runpod", tags=["simulator"])
control_router = APIRouter(prefix="/sim/runpod", tags=["simulator"])
_EXTRA_MISSING = ("The simulator's RunPod API needs graphql-core, which comes with the runpod extra: "
                  "pip install 'scope-lab[runpod]'.")


@api_router.post("/graphql", response_model=None, include_in_schema=False)
async def graphql(request: Request, state: StateDep) -> JSONResponse | dict[str, Any]:
    """One GraphQL request: 401 unless it carries the emulated account's key (never logged).

    Not in the simulator's ``/openapi.json``: that document is Scope's (and the ``/sim/``
    control routes); this is another service's API, described by its GraphQL schema.
    """
    book = state.runpod
    header = request.headers.get("authorization", "")
    given = header.removeprefix("Bearer ").strip() or request.query_params.get("api_key", "")
    if book.take_fault("invalid_key") or given != book.config.api_key:
        return JSONResponse({"errors": [{"message": "Unauthorized"}]}, status_code=401)
    body = await request.json()
    home = book.pods[HOME_POD_ID]
    was_running = home.desired == "RUNNING"
    try:
        answer = execute(book, str(body.get("query", "")))
    except ImportError:
        return JSONResponse({"errors": [{"message": _EXTRA_MISSING}]}, status_code=501)
    if was_running and home.desired != "RUNNING":
        # A stopped pod's container is gone: the Scope it fronts starts afresh, with no
        # pipeline loaded and no session (its models stay on the volume).
        await state.restart()
    return answer


@control_router.get("")
async def runpod_state(state: StateDep) -> dict[str, Any]:
    """The emulated pods (phases, env keys only) and the active API faults."""
    return state.runpod.snapshot()


@control_router.post("/faults")
async def add_runpod_fault(fault: RunpodFault, state: StateDep) -> dict[str, Any]:
    """Activate an API fault (``no_capacity``, ``invalid_key``, ``unreachable``)."""
    state.runpod.faults.append(fault)
    return state.runpod.snapshot()


@control_router.delete("/faults")
async def clear_runpod_faults(state: StateDep) -> dict[str, Any]:
    """Clear every API fault."""
    state.runpod.faults.clear()
    return state.runpod.snapshot()
