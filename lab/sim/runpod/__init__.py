"""The simulator's emulated RunPod: an account's pods, the GraphQL API the ``runpod`` SDK
talks to (``RUNPOD_API_BASE_URL=<simulator>/runpod``), and RunPod's proxy in front of the
emulated Scope, all sharing one state (``SimState.runpod``).

Modules::

    config     RunpodSimConfig: the account at startup (key, home pod, boot time, faults)
    catalogue  GPU types (SIMULATED prices) and templates
    pods       PodBook: pods, their boot phases, what the API and the proxy say of them
    schema     the GraphQL schema subset the SDK uses, executed by graphql-core
    proxy      the proxy's pages for pods that are not serving, as ASGI middleware
    routes     POST /runpod/graphql and the /sim/runpod control routes
"""

from __future__ import annotations

# proxy and routes are imported by lab.sim.app itself: they need lab.sim.state, which needs these.
from lab.sim.runpod.config import HOME_POD_ID, RunpodFault, RunpodSimConfig
from lab.sim.runpod.pods import PodBook

__all__ = ["HOME_POD_ID", "PodBook", "RunpodFault", "RunpodSimConfig"]
