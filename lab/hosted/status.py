"""The status of a hosted stream (``GET /v1/streams/{id}/status``), read leniently.

The route is not in ``daydream-sdk`` 0.1.0, so there is no typed model to follow: the
fields come from the API's public documentation and client code (``data.state``,
``data.gateway_status.whep_url`` and ``.ingest_metrics.stats.track_stats``,
``data.inference_status.fps`` and ``.restart_count``, ``data.input_status.fps``). A field
the answer lacks is None, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["READY_STATES", "StreamStatus"]

# States in which the output plays (the pipeline runs, possibly degraded).
READY_STATES = frozenset({"ONLINE", "DEGRADED_INFERENCE", "DEGRADED_INPUT"})


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class StreamStatus:
    """What the status route says about a stream (jitter and RTT in seconds, loss in %)."""

    state: str | None
    whep_url: str | None
    input_fps: float | None
    output_fps: float | None
    restarts: int | None
    ingest_jitter_s: float | None
    ingest_rtt_s: float | None
    ingest_loss_pct: float | None
    raw: dict[str, Any]

    @property
    def ready(self) -> bool:
        """Whether the stream's output plays."""
        return self.state in READY_STATES

    @classmethod
    def from_json(cls, body: Any) -> StreamStatus:
        """Read the route's answer (``{"success": true, "data": {...}}`` or the bare data)."""
        data = body.get("data", body) if isinstance(body, dict) else {}
        tracks = _dig(data, "gateway_status", "ingest_metrics", "stats", "track_stats") or []
        video = next((t for t in tracks if isinstance(t, dict) and t.get("type") == "video"), {})
        restarts = _number(_dig(data, "inference_status", "restart_count"))
        return cls(
            state=_dig(data, "state"),
            whep_url=_dig(data, "gateway_status", "whep_url"),
            input_fps=_number(_dig(data, "input_status", "fps")),
            output_fps=_number(_dig(data, "inference_status", "fps")),
            restarts=None if restarts is None else int(restarts),
            ingest_jitter_s=_number(video.get("jitter")),
            ingest_rtt_s=_number(video.get("rtt")),
            ingest_loss_pct=_number(video.get("packet_loss_pct")),
            raw=data if isinstance(data, dict) else {},
        )
