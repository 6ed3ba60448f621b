"""scope-lab: a research workbench for Daydream Scope servers.

The library is async. Open a target with :func:`lab.connect.connect` (``sim`` starts the
embedded simulator) and use the :class:`lab.client.ScopeClient` it gives::

    async with lab.connect("sim") as scope:
        print((await scope.health()).version)
"""

from __future__ import annotations

from lab.client import LoadResult, ScopeClient
from lab.connect import connect
from lab.errors import LabError
from lab.target import Target
from lab.versions import LAB_VERSION

__all__ = ["connect", "ScopeClient", "LoadResult", "LabError", "Target", "__version__"]

__version__ = LAB_VERSION
