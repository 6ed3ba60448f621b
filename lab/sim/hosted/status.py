"""The body of ``GET /v1/streams/{id}/status`` for a simulated stream, from its own records.

Shape (the ``data`` member), as the API's public documentation and client code show it::

    {"stream_id", "state": "OFFLINE" | "LOADING" | "ONLINE",
     "gateway_status": {"whep_url", "ingest_metrics": {"stats": {"track_stats": [
         {"type": "video", "jitter", "packets_lost", "packets_received", "packet_loss_pct", "rtt"}],
         "conn_quality"}}},
     "inference_status": {"fps", "restart_count", "last_error", "last_params"},
     "input_status": {"fps", "last_input_time"}}

The fps are the media session's averages since its WHIP offer (frames received and sent);
jitter (in seconds) and loss come from the WHIP peer connection's inbound RTP statistics.
``rtt`` is null: aiortc's receiving side does not measure a round trip.
``restart_count`` is 0: the emulation never restarts a pipeline.
"""

from __future__ import annotations

import time
from typing import Any

from lab.sim.hosted.streams import HostedStream

__all__ = ["stream_status"]

_VIDEO_CLOCK_RATE = 90_000  # aiortc reports jitter in RTP timestamp units


async def stream_status(stream: HostedStream, base_url: str) -> dict[str, Any]:
    """The status ``data`` of ``stream``."""
    session = stream.session
    metrics = session.metrics() if session is not None else {"fps_in": 0.0, "fps_out": 0.0}
    tracks = await _ingest_tracks(stream)
    ready = stream.state == "ONLINE"
    return {
        "stream_id": stream.id,
        "state": stream.state,
        "gateway_status": {
            "whep_url": f"{base_url}/live/video-to-video/{stream.stream_key}-out/whep" if ready else None,
            "ingest_metrics": {"stats": {"track_stats": tracks,
                                         "conn_quality": "good" if tracks else None}},
        },
        "inference_status": {"fps": round(metrics["fps_out"], 3), "restart_count": 0,
                             "last_error": None, "last_params": stream.params},
        "input_status": {"fps": round(metrics["fps_in"], 3),
                         "last_input_time": round(time.time() * 1e3) if tracks else None},
    }


async def _ingest_tracks(stream: HostedStream) -> list[dict[str, Any]]:
    pc = stream.session.pc if stream.session is not None else None
    if pc is None or pc.connectionState != "connected":
        return []
    report = await pc.getStats()
    tracks = []
    for stats in report.values():
        if stats.type == "inbound-rtp" and stats.kind == "video":
            total = stats.packetsReceived + max(stats.packetsLost, 0)
            tracks.append({"type": "video", "jitter": stats.jitter / _VIDEO_CLOCK_RATE, "packets_lost": stats.packetsLost,
                           "packets_received": stats.packetsReceived,
                           "packet_loss_pct": round(100 * max(stats.packetsLost, 0) / total, 3) if total else 0.0,
                           "rtt": None})
    return tracks
