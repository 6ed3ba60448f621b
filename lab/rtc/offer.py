"""The peer connection a session offers Scope: what Scope's own frontend offers.

A ``parameters`` data channel (ordered), a first video m-line that is ``sendrecv``
(carrying our input track in video-to-video mode, empty in text-to-video mode), a
``recvonly`` audio m-line, and VP8 only. The offer's ``initialParameters`` carry
``pipeline_ids`` and ``input_mode``, which Scope needs to start producing frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
)

from lab.models import IceServer

__all__ = ["PARAMETERS_CHANNEL", "add_media_lines", "initial_parameters", "new_peer_connection"]

PARAMETERS_CHANNEL = "parameters"
_VIDEO_CODECS = ("video/vp8", "video/rtx")


def new_peer_connection(ice_servers: Sequence[IceServer]) -> RTCPeerConnection:
    """A peer connection that uses these ICE servers (none on loopback)."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[
        RTCIceServer(urls=s.url_list, username=s.username, credential=s.credential) for s in ice_servers
    ]))


def add_media_lines(pc: RTCPeerConnection, source: MediaStreamTrack | None) -> RTCRtpTransceiver:
    """Add the video (``sendrecv``, VP8) and audio (``recvonly``) m-lines; return the video one."""
    if source is not None:
        video = pc.addTransceiver(source, direction="sendrecv")
    else:
        video = pc.addTransceiver("video", direction="sendrecv")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                               if c.mimeType.lower() in _VIDEO_CODECS])
    pc.addTransceiver("audio", direction="recvonly")
    return video


def initial_parameters(parameters: dict[str, Any], pipeline_ids: list[str], mode: str) -> dict[str, Any]:
    """The offer's ``initialParameters``: ``parameters`` with the chain and the input mode."""
    return {**parameters, "pipeline_ids": pipeline_ids, "input_mode": mode}
