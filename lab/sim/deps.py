"""FastAPI dependency that hands route handlers the app's :class:`~lab.sim.state.SimState`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lab.sim.state import SimState

__all__ = ["StateDep", "get_state"]


def get_state(request: Request) -> SimState:
    """Return the simulator state that :func:`lab.sim.app.create_app` attached to the app."""
    state: SimState = request.app.state.sim
    return state


StateDep = Annotated[SimState, Depends(get_state)]
