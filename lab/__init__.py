"""scope-lab: a research workbench for Daydream Scope servers.

The library is async. Start with :class:`lab.client.ScopeClient`::

    async with ScopeClient("sim") as scope:
        print((await scope.health()).version)
"""

from __future__ import annotations

from lab.client import LoadResult, ScopeClient
from lab.errors import LabError
from lab.target import Target

__all__ = ["ScopeClient", "LoadResult", "LabError", "Target", "__version__"]

__version__ = "0.1.0"
