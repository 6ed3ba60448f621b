"""The emulated plugin list behind ``/api/v1/plugins``.

The simulator installs nothing (no pip, no internet): installing a plugin adds an entry,
with the name, source and pinned version read from the package spec, and no pipelines,
so ``/pipelines/schemas`` does not change. Uninstall and reload act on those entries with
Scope's statuses (404 unknown, 409 name taken, 400 reload of a non-editable plugin).

Where Scope's behaviour is not known the simulator chooses: an unpinned version is ``"0.0.0"``,
``kind`` and ``origin`` are null, and the messages are its own words.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from lab.sim.errors import RouteError

__all__ = ["PluginBook"]

_SPEC_END = re.compile(r"[\s\[<>=!~;@]")


class PluginBook:
    """Installed plugins of the emulated host, by name."""

    def __init__(self) -> None:
        self._plugins: dict[str, dict[str, Any]] = {}

    def list(self) -> dict[str, Any]:
        """The ``GET /api/v1/plugins`` body (no plugin ever fails to load here)."""
        plugins = [dict(p) for p in self._plugins.values()]
        return {"plugins": plugins, "total": len(plugins), "failed_plugins": []}

    def install(
        self, package: str, *, editable: bool = False, upgrade: bool = False, force: bool = False
    ) -> dict[str, Any]:
        """Add a plugin from a PyPI name, ``git+`` URL or local path (editable or not)."""
        package = package.strip()
        if not package:
            raise RouteError(400, "package is required")
        plugin = _describe(package, editable)
        name = plugin["name"]
        if name in self._plugins and not (upgrade or force):
            raise RouteError(409, f"Plugin {name} is already installed")
        self._plugins[name] = plugin
        return {"success": True, "message": f"Installed plugin {name}", "plugin": dict(plugin)}

    def uninstall(self, name: str) -> dict[str, Any]:
        """Remove a plugin; it registered no pipelines, so none are unloaded."""
        if self._plugins.pop(name, None) is None:
            raise RouteError(404, f"Plugin {name} not found")
        return {"success": True, "message": f"Uninstalled plugin {name}", "unloaded_pipelines": []}

    def reload(self, name: str) -> dict[str, Any]:
        """Reload an editable plugin (nothing changes: it has no pipelines)."""
        plugin = self._plugins.get(name)
        if plugin is None:
            raise RouteError(404, f"Plugin {name} not found")
        if not plugin["editable"]:
            raise RouteError(400, f"Plugin {name} is not installed in editable mode")
        return {"success": True, "message": f"Reloaded plugin {name}", "reloaded_pipelines": [],
                "added_pipelines": [], "removed_pipelines": []}


def _describe(package: str, editable: bool) -> dict[str, Any]:
    """A plugin entry for a package spec, without installing anything."""
    if package.startswith("git+"):
        path = urlparse(package.removeprefix("git+").split("#")[0]).path.rsplit("@", 1)[0]
        source, name = "git", PurePosixPath(path).name.removesuffix(".git")
    elif editable or package.startswith((".", "/", "~")):
        source, name = "local", PurePosixPath(package.rstrip("/")).name
    else:
        source, name = "pypi", _SPEC_END.split(package, maxsplit=1)[0]
    version = package.split("==", 1)[1].strip() if source == "pypi" and "==" in package else "0.0.0"
    return {
        "name": name or package, "version": version, "author": None, "description": None,
        "source": source, "editable": editable, "editable_path": package if editable else None,
        "pipelines": [], "latest_version": None, "update_available": False,
        "package_spec": package, "bundled": False, "kind": None, "origin": None,
    }
