"""The receive clock's hooks into aiortc's receiver: when each frame's RTP packets arrived.

aiortc reports a decoded frame's pts but not when its packets came in. :class:`PacketTimes`
reads that from two private parts of an ``RTCRtpReceiver``: its packet handler
(``_handle_rtp_packet``, wrapped to note each packet's arrival) and its timestamp mapper
(``__timestamp_mapper``, wrapped to remember which RTP timestamp each pts came from). Both
are wrapped on the one instance only and pass everything through unchanged.

This is the only module that touches aiortc's receiver internals (the loopback ICE
restriction's own hooks are in :mod:`lab.loopback`). Since they can change in any release,
importing it refuses untested aiortc and aioice versions (:mod:`lab.versions`).
"""

from __future__ import annotations

import time
from typing import Any

from aiortc import RTCRtpReceiver

from lab.versions import require_tested

require_tested()

__all__ = ["PacketTimes"]

_PACKET_MEMORY = 2048  # RTP timestamps remembered for matching decoded frames


class PacketTimes:
    """Arrival times of RTP packets per frame, read from a receiver without changing it.

    Wraps the receiver's packet handler and its timestamp mapper on the instance only,
    so that a decoded frame's pts (a mapped RTP timestamp) leads back to when its first
    and last packets arrived.
    """

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._raw_by_pts: dict[int, int] = {}
        handle = receiver._handle_rtp_packet

        async def timed_handle(packet: Any, arrival_time_ms: int) -> None:
            now = time.perf_counter_ns()
            self._first.setdefault(packet.timestamp, now)
            self._last[packet.timestamp] = now
            _trim(self._first)
            _trim(self._last)
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = timed_handle  # type: ignore[method-assign]
        mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
        map_timestamp = mapper.map

        def recording_map(timestamp: int) -> int:
            mapped: int = map_timestamp(timestamp)
            self._raw_by_pts[mapped] = timestamp
            _trim(self._raw_by_pts)
            return mapped

        mapper.map = recording_map

    def lookup(self, pts: int) -> tuple[int | None, int | None]:
        """``(first_packet_ns, last_packet_ns)`` of the frame with this pts, if known."""
        raw = self._raw_by_pts.pop(pts, None)
        if raw is None:
            return None, None
        return self._first.pop(raw, None), self._last.pop(raw, None)


def _trim(table: dict[int, int]) -> None:
    while len(table) > _PACKET_MEMORY:
        del table[next(iter(table))]
