"""Answer a client's SDP offer for a session, and take its trickled ICE candidates.

The answering peer connection uses no ICE servers (no STUN: nothing touches the internet).
When the offer came in on a loopback address it offers only 127.0.0.1
(:func:`lab.loopback.restrict_to_loopback`), so media stays on loopback.

Like Scope, it binds the output track to the first video m-line (answered ``sendrecv``),
leaves an audio m-line without a track (built-in pipelines make no audio), and accepts the
client's data channel whatever its label. When the first video m-line carries no client
video (offered ``recvonly``), the output ends at once, as Scope's does.

For the ``ice_fail`` fault every candidate, the offer's as the server reads them and the
answer's, points at a loopback port where nothing answers: neither side's checks reach the
other, so the client's ICE cannot connect.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from lab.loopback import LOOPBACK_ADDRESS, restrict_to_loopback
from lab.sim.media.session import MediaSession

__all__ = ["InvalidCandidateError", "add_candidates", "answer_offer", "is_loopback_address"]

_CANDIDATE_ADDRESS = re.compile(
    r"^(?P<head>a=candidate:\S+ \d+ \S+ \d+ )\S+ \d+(?P<tail> typ .*)$", re.MULTILINE
)
_CANDIDATE_FIELDS = 8  # foundation component transport priority address port "typ" type


class InvalidCandidateError(ValueError):
    """A trickled ICE candidate could not be used."""


async def answer_offer(
    session: MediaSession, offer_sdp: str, *, loopback: bool, dead_port: int | None = None
) -> str:
    """Create ``session``'s peer connection from an offer and return the answer SDP.

    Parameters
    ----------
    session
        The session to wire up; its ``pc`` is set here.
    offer_sdp
        The client's offer.
    loopback
        Offer only 127.0.0.1 candidates.
    dead_port
        For the ``ice_fail`` fault: the loopback UDP port the answer's candidates point at.

    Raises
    ------
    Exception
        Whatever aiortc raises for an offer it cannot use (a malformed SDP, no common codec).
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    session.pc = pc

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "video":
            session.attach_input(track)

    @pc.on("datachannel")
    def on_datachannel(channel: Any) -> None:
        session.attach_channel(channel)

    @pc.on("connectionstatechange")
    def on_connection_state() -> None:
        session.connection_changed(pc.connectionState)

    if dead_port is not None:
        offer_sdp = _point_candidates_at(offer_sdp, dead_port)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    video = next((t for t in pc.getTransceivers() if t.kind == "video"), None)
    if video is not None:
        pc.addTrack(session.track)
    if video is None or video.receiver.track is None:
        session.track.stop()
    if loopback:
        restrict_to_loopback(pc)
    await pc.setLocalDescription(await pc.createAnswer())
    answer = pc.localDescription.sdp
    return answer if dead_port is None else _point_candidates_at(answer, dead_port)


def _point_candidates_at(sdp: str, port: int) -> str:
    """``sdp`` with every candidate's address replaced by 127.0.0.1:``port``."""
    return _CANDIDATE_ADDRESS.sub(rf"\g<head>{LOOPBACK_ADDRESS} {port}\g<tail>", sdp)


async def add_candidates(session: MediaSession, candidates: list[dict[str, Any]]) -> None:
    """Add trickled client candidates (``PATCH /api/v1/webrtc/offer/{id}``).

    A loopback session ignores candidates that are not on loopback, so that its media
    never leaves 127.0.0.1.

    Raises
    ------
    InvalidCandidateError
        If a candidate cannot be parsed (an empty end-of-candidates string included) or
        names no m-line.
    """
    for entry in candidates:
        text = str(entry.get("candidate") or "").removeprefix("candidate:")
        if len(text.split()) < _CANDIDATE_FIELDS:
            raise InvalidCandidateError(f"Cannot parse ICE candidate {text!r}")
        try:
            candidate = candidate_from_sdp(text)
        except ValueError as exc:
            raise InvalidCandidateError(f"Cannot parse ICE candidate {text!r}: {exc}") from exc
        candidate.sdpMid = entry.get("sdpMid")
        candidate.sdpMLineIndex = entry.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            raise InvalidCandidateError("An ICE candidate needs sdpMid or sdpMLineIndex")
        if session.loopback and not is_loopback_address(candidate.ip):
            continue
        if session.pc is not None:
            await session.pc.addIceCandidate(candidate)


def is_loopback_address(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another host name (an mDNS one, say)
        return False
