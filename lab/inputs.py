"""What Scope can take in and send out on a pod: plugins, LoRAs, input sources, Spout/NDI/Syphon.

Read from the server (``/api/v1/plugins``, ``/api/v1/loras``, ``/api/v1/input-sources`` and
the ``spout``, ``ndi`` and ``syphon`` entries of ``/api/v1/hardware/info``), for ``lab
info``, ``lab doctor`` and the sweep manifest (where the research log's Spout question is
answered from). Spout, NDI and Syphon are both server-side inputs (an input source type)
and outputs (``output_sinks`` in the parameters); ``/hardware/info`` says whether each is
usable on this host, why not, and how to install it.

A part the server does not serve (an older Scope) or that fails is recorded with the reason
in ``unreadable``, never guessed.

Examples
--------
>>> async with connect("sim") as client:          # doctest: +SKIP
...     inputs = await pod_inputs(client)
...     print("\\n".join(inputs.lines()))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lab.client import ScopeClient
from lab.errors import ScopeError
from lab.models import DeviceAvailability, HardwareInfo, InputSourceType, LoraFile, PluginList

__all__ = ["PodInputs", "pod_inputs", "INTEGRATIONS", "describe_integration"]

INTEGRATIONS = ("spout", "ndi", "syphon")  # the /hardware/info entries, in Scope's order
_NAMES = {"spout": "Spout", "ndi": "NDI", "syphon": "Syphon"}

T = TypeVar("T")


@dataclass(frozen=True)
class PodInputs:
    """One server's plugins, LoRAs, input source types and video-sharing integrations.

    ``None`` for a part means it could not be read; ``unreadable`` says why.
    """

    plugins: PluginList | None
    loras: list[LoraFile] | None
    input_sources: list[InputSourceType] | None
    integrations: dict[str, DeviceAvailability | None]
    unreadable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_parts(cls, hardware: HardwareInfo | None, plugins: PluginList | None = None,
                   loras: list[LoraFile] | None = None, input_sources: list[InputSourceType] | None = None,
                   unreadable: Mapping[str, str] | None = None) -> PodInputs:
        """Assemble from responses already read (``hardware`` None: not read)."""
        integrations = {name: getattr(hardware, name) if hardware else None for name in INTEGRATIONS}
        return cls(plugins, loras, input_sources, integrations, dict(unreadable or {}))

    def lines(self) -> list[str]:
        """One line per part, for ``lab info`` and the doctor."""
        return [f"plugins      {self.plugins_text()}", f"LoRAs        {self.loras_text()}",
                f"inputs       {self.sources_text()}",
                *(f"{_NAMES[name]:<12} {describe_integration(name, self.integrations[name])}" for name in INTEGRATIONS)]

    def plugins_text(self) -> str:
        if self.plugins is None:
            return self._unread("plugins")
        installed = [f"{p.name} {p.version or ''}".strip() + (f" ({', '.join(x.pipeline_id for x in p.pipelines)})"
                                                              if p.pipelines else "") for p in self.plugins.plugins]
        failed = [f"{f.get('package_name') or f.get('entry_point_name') or '?'}: {f.get('error_message') or f.get('error_type')}"
                  for f in self.plugins.failed_plugins]
        text = ", ".join(installed) if installed else "none installed"
        return text + (f"; failed to load: {'; '.join(failed)}" if failed else "")

    def loras_text(self) -> str:
        if self.loras is None:
            return self._unread("loras")
        if not self.loras:
            return "none installed"
        return ", ".join(f"{lora.name} ({lora.size_mb:g} MB)" if lora.size_mb is not None else lora.name
                         for lora in self.loras)

    def sources_text(self) -> str:
        if self.input_sources is None:
            return self._unread("input_sources")
        if not self.input_sources:
            return "no server-side input source types"
        available = [s.source_id for s in self.input_sources if s.available]
        missing = [s.source_id for s in self.input_sources if not s.available]
        return "; ".join(filter(None, [f"available: {', '.join(available)}" if available else "none available",
                                       f"not available: {', '.join(missing)}" if missing else ""]))

    def _unread(self, part: str) -> str:
        return f"unknown ({self.unreadable.get(part, 'not read')})"

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``lab info --json`` and the sweep manifest's ``inputs`` block."""
        return {
            "plugins": None if self.plugins is None else [p.model_dump() for p in self.plugins.plugins],
            "failed_plugins": None if self.plugins is None else self.plugins.failed_plugins,
            "loras": None if self.loras is None else [lora.model_dump() for lora in self.loras],
            "input_sources": None if self.input_sources is None else [s.model_dump() for s in self.input_sources],
            "integrations": {name: None if value is None else value.model_dump()
                             for name, value in self.integrations.items()},
            "unreadable": dict(self.unreadable),
        }


def describe_integration(name: str, availability: DeviceAvailability | Mapping[str, Any] | None) -> str:
    """``"not available: Spout is Windows-only (hint: Run Scope on Windows ...)"``, from the server's words.

    Examples
    --------
    >>> describe_integration("spout", {"available": False, "reason": "Windows only", "install_hint": "Use Windows."})
    'not available: Windows only (install hint: Use Windows.)'
    """
    if availability is None:
        return "unknown (the server does not report it)"
    if isinstance(availability, Mapping):
        availability = DeviceAvailability.model_validate(availability)
    if availability.available:
        return "available"
    reason = availability.reason or "no reason given"
    hint = f" (install hint: {availability.install_hint})" if availability.install_hint else ""
    return f"not available: {reason}{hint}"


async def pod_inputs(client: ScopeClient) -> PodInputs:
    """Read every part concurrently; a part that fails is recorded in ``unreadable``, never raised."""
    unreadable: dict[str, str] = {}
    hardware, plugins, loras, sources = await asyncio.gather(
        _read("hardware", client.hardware_info(), unreadable), _read("plugins", client.plugins(), unreadable),
        _read("loras", client.loras(), unreadable), _read("input_sources", client.input_sources(), unreadable))
    return PodInputs.from_parts(hardware, plugins, loras, sources, unreadable)


async def _read(part: str, request: Awaitable[T], unreadable: dict[str, str]) -> T | None:
    try:
        return await request
    except ScopeError as exc:
        unreadable[part] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return None
