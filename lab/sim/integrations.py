"""Integrations an emulated pod lacks: OSC, DMX, tempo sync, cloud relay, input sources.

The simulator opens no OSC or Art-Net UDP port, has no Ableton Link or MIDI, no cloud backend
and no NDI/Spout/Syphon ingest. Each answers as a Scope server without it would:

- OSC and DMX report ``listening: false``; their settings, inventory and config are kept so
  that reads return what was written, but no port is ever opened.
- Tempo sources are unavailable, so enabling tempo sync is a 400 and it stays disabled.
- Cloud connect fails: without credentials with Scope's 500 quirk (``"400: ..."``), with
  credentials as a connection that cannot be made (``connecting`` first, then an ``error``).
- NDI, Spout and Syphon input sources are listed as unavailable; asking one for sources is a
  400. The ``video_file`` source is available (:mod:`lab.sim.input_sources`).

Where Scope's answer shape is not known (``/osc/paths``, ``/dmx/paths``, the OSC and DMX
settings answers) the simulator chooses: paths are ``{"paths": [...]}``, settings answer
with the new status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from lab.sim.errors import RouteError

__all__ = [
    "INPUT_SOURCES",
    "TEMPO_SOURCES",
    "CloudLink",
    "DmxSettings",
    "OscSettings",
    "refuse_input_source",
    "tempo_status",
]

DMX_DEFAULT_PORT = 6454
_NOT_EMULATED = "not available on the simulator (lab.sim emulates no {} hardware or software)"


@dataclass
class OscSettings:
    """OSC state: the inventory the frontend supplies and the logging switch."""

    log_all_messages: bool = False
    inventory: list[dict[str, Any]] = field(default_factory=list)

    def status(self, host: str, port: int) -> dict[str, Any]:
        """OSC would listen on the HTTP port; the simulator does not listen at all."""
        return {"enabled": False, "listening": False, "port": port, "host": host,
                "log_all_messages": self.log_all_messages}


@dataclass
class DmxSettings:
    """The DMX config a real server persists; the Art-Net port is never opened."""

    enabled: bool = False
    preferred_port: int = DMX_DEFAULT_PORT
    log_all_messages: bool = False
    mappings: list[dict[str, Any]] = field(default_factory=list)

    def update(self, changes: dict[str, Any]) -> None:
        """Merge the non-null fields of a settings, restart or config body."""
        for key, value in changes.items():
            if value is not None and hasattr(self, key):
                setattr(self, key, value)

    def status(self, host: str) -> dict[str, Any]:
        """``GET /api/v1/dmx/status``."""
        return {"enabled": self.enabled, "listening": False, "port": None,
                "preferred_port": self.preferred_port, "host": host,
                "log_all_messages": self.log_all_messages, "mapping_count": len(self.mappings)}

    def config(self) -> dict[str, Any]:
        """``GET /api/v1/dmx/config``."""
        return {"enabled": self.enabled, "preferred_port": self.preferred_port,
                "log_all_messages": self.log_all_messages, "mappings": list(self.mappings)}


TEMPO_SOURCES: dict[str, Any] = {
    "sources": {
        "link": {"available": False, "name": "Ableton Link",
                 "install_hint": "Ableton Link is " + _NOT_EMULATED.format("tempo")},
        "midi_clock": {"available": False, "name": "MIDI Clock", "devices": []},
    }
}


def tempo_status() -> dict[str, Any]:
    """Tempo sync is never enabled: no source can start."""
    return {"enabled": False, "source": None, "beats_per_bar": 4, "beat_state": None}


class CloudLink:
    """The cloud relay: it never connects; a failed attempt shows in the status."""

    def __init__(self) -> None:
        self._app_id: str | None = None
        self._error: str | None = None

    def connect(self, app_id: str | None, api_key: str | None) -> dict[str, Any]:
        """Start a connection that will fail; the answer says ``connecting`` as Scope's does.

        Raises
        ------
        RouteError
            500 ``"400: cloud credentials not configured"`` without credentials (Scope's
            quirk: its 400 is wrapped in a 500).
        """
        if not (app_id and api_key):
            raise RouteError(500, "400: cloud credentials not configured (set app_id and "
                                  "api_key, or SCOPE_CLOUD_APP_ID and SCOPE_CLOUD_API_KEY)")
        self._app_id = app_id
        self._error = "Cloud relay is " + _NOT_EMULATED.format("cloud")
        return {**self.status(), "connecting": True, "error": None, "connect_stage": "connecting"}

    def disconnect(self) -> dict[str, Any]:
        """Forget the failed attempt."""
        self._app_id = self._error = None
        return self.status()

    def status(self) -> dict[str, Any]:
        """``CloudStatusResponse``: never connected."""
        return {"connected": False, "connecting": False, "error": self._error,
                "connect_stage": None, "webrtc_connected": False, "app_id": self._app_id,
                "connection_id": None, "credentials_configured": self._app_id is not None,
                "stats": None, "last_close_code": None, "last_close_reason": None}


INPUT_SOURCES: dict[str, Any] = {
    "input_sources": [
        {"source_id": source_id, "source_name": name, "source_description": description,
         "available": source_id == "video_file"}
        for source_id, name, description in (
            ("video_file", "Video File", "Frames from a video file on the server"),
            ("ndi", "NDI", "Video from an NDI source on the network"),
            ("spout", "Spout", "Video shared by a Windows application through Spout"),
            ("syphon", "Syphon", "Video shared by a macOS application through Syphon"),
        )
    ]
}


def refuse_input_source(source_type: str) -> NoReturn:
    """Refuse ``/input-sources/{source_type}/...`` for a type that is unknown or unavailable.

    Raises
    ------
    RouteError
        404 for an unknown type, 400 for a known one that is not available here.
    """
    known = {source["source_id"] for source in INPUT_SOURCES["input_sources"]}
    if source_type not in known:
        raise RouteError(404, f"Unknown input source type: {source_type}")
    raise RouteError(400, f"Input source {source_type} is " + _NOT_EMULATED.format("capture"))
