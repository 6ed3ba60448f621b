"""Keep a WebRTC peer connection's ICE on loopback (127.0.0.1 only).

aioice gathers host candidates from the machine's interface addresses and deliberately
leaves 127.0.0.1 out. Between two peers on one machine that still works, but the media
then flows over a real interface address, and tests and benchmarks must keep all
traffic on loopback. :func:`restrict_to_loopback` makes each ICE connection of a peer
connection offer a single host candidate, 127.0.0.1, instead.

It is applied only when the other side is a loopback address (the simulator, local
tests); against a remote pod the normal gathering stays. It must be called after the
transceivers and data channel exist and before ``setLocalDescription`` gathers
candidates. It touches aiortc internals (``iceGatherer._connection``), so
:func:`sdp_candidate_addresses` lets tests check every SDP candidate it produces, and
importing it refuses untested aiortc and aioice versions (:mod:`lab.versions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiortc import RTCPeerConnection

from lab.versions import require_tested

require_tested()

__all__ = ["LOOPBACK_ADDRESS", "restrict_to_loopback", "sdp_candidate_addresses"]

LOOPBACK_ADDRESS = "127.0.0.1"
_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (?P<address>\S+) \d+ typ", re.MULTILINE)


def restrict_to_loopback(pc: RTCPeerConnection) -> int:
    """Make every ICE gatherer of ``pc`` offer only 127.0.0.1; return how many were changed."""
    changed = 0
    for connection in _ice_connections(pc):
        if getattr(connection, "_lab_loopback", False):
            continue
        original = connection.get_component_candidates

        async def loopback_only(component: int, addresses: list[str], timeout: int = 5,
                                _original: Any = original) -> Any:
            return await _original(component=component, addresses=[LOOPBACK_ADDRESS], timeout=timeout)

        connection.get_component_candidates = loopback_only
        connection._lab_loopback = True
        changed += 1
    return changed


def sdp_candidate_addresses(sdp: str) -> list[str]:
    """Every address that an SDP's ``a=candidate`` lines offer."""
    return [m["address"] for m in _CANDIDATE.finditer(sdp)]


def _ice_connections(pc: RTCPeerConnection) -> Iterator[Any]:
    """The aioice connections behind the peer connection's transceivers and SCTP transport."""
    transports = [t.sender.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    seen: set[int] = set()
    for dtls in transports:
        if dtls is None:
            continue
        connection = dtls.transport.iceGatherer._connection
        if id(connection) not in seen:
            seen.add(id(connection))
            yield connection
