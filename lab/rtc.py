"""A WebRTC session with a Scope server (aiortc): send input, receive output, talk parameters.

The session offers what Scope's own frontend offers: a ``parameters`` data channel
(ordered), a first video m-line that is ``sendrecv`` (carrying our input track in
video-to-video mode, empty in text-to-video mode), a ``recvonly`` audio m-line, and VP8
only. ``initialParameters`` carries ``pipeline_ids`` and ``input_mode``, which Scope
needs to start producing frames.

Timing. Every received frame is recorded on ``time.perf_counter_ns`` (CLOCK_MONOTONIC on
Linux, so the simulator's ground truth in another process shares the clock):

- ``complete_ns``: the last RTP packet of the frame (marker bit) arrived: the frame could
  be decoded from then on. This is the arrival time used for latency;
- ``first_packet_ns``: its first RTP packet arrived;
- ``decoded_ns``: aiortc handed over the decoded frame. aiortc's jitter buffer releases a
  frame only when a packet of the *next* frame arrives, so ``decoded_ns - complete_ns`` is
  about one frame interval: a receive-path bias that is recorded per frame
  (``FrameLog.receive_bias_ms``) and never used as arrival time.

ICE. aiortc gathers all candidates before the offer is sent, so the offer carries them
and no trickle (``PATCH``) is needed; Scope's answer also carries all of its candidates.
On loopback targets no ICE servers are used and only 127.0.0.1 is offered
(:mod:`lab.loopback`); for remote pods the server's ICE servers are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from lab.client import ScopeClient
from lab.errors import ConnectionFailedError, ScopeError, StreamStoppedError
from lab.feed import FrameFeed, FrameLog, ReceivedFrame
from lab.loopback import restrict_to_loopback
from lab.tasks import cancel_and_wait

__all__ = ["RtcSession", "open_session", "ReceivedFrame", "FrameLog", "SessionTimeline", "InputMode"]

log = logging.getLogger(__name__)

InputMode = Literal["video", "text"]
DEFAULT_CONNECT_TIMEOUT_S = 20.0
_PACKET_MEMORY = 2048  # RTP timestamps remembered for matching decoded frames


@dataclass
class SessionTimeline:
    """When each connection phase happened (perf_counter_ns), and the durations between."""

    offer_sent_ns: int | None = None
    answer_received_ns: int | None = None
    connected_ns: int | None = None
    first_frame_ns: int | None = None

    @property
    def signalling_s(self) -> float | None:
        """Offer sent to answer received."""
        return _span(self.offer_sent_ns, self.answer_received_ns)

    @property
    def connect_s(self) -> float | None:
        """Answer received to ICE+DTLS connected."""
        return _span(self.answer_received_ns, self.connected_ns)

    @property
    def first_frame_s(self) -> float | None:
        """Connected to the first complete output frame."""
        return _span(self.connected_ns, self.first_frame_ns)

    @property
    def ttff_s(self) -> float | None:
        """Offer sent to the first complete output frame (time to first frame)."""
        return _span(self.offer_sent_ns, self.first_frame_ns)


def _span(start: int | None, end: int | None) -> float | None:
    return None if start is None or end is None else (end - start) / 1e9


class _PacketTimes:
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


class SessionState(enum.Enum):
    """Lifecycle of an :class:`RtcSession`."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


class RtcSession:
    """An open WebRTC session; create it with :meth:`open` or :func:`open_session`.

    Attributes
    ----------
    session_id:
        The server's id for this session.
    timeline:
        Connection phase times.
    log:
        Every received frame's timing (:class:`FrameLog`).
    messages:
        ``(received_ns, message)`` for every data-channel message from the server.
    sent:
        ``(sent_ns, parameters)`` for every parameter update sent.
    """

    def __init__(self, client: ScopeClient, pc: RTCPeerConnection, channel: Any, mode: InputMode) -> None:
        self.client = client
        self.mode = mode
        self.session_id: str | None = None
        self.timeline = SessionTimeline()
        self.feed = FrameFeed(lambda: (client.url, self.session_id))
        self.log: FrameLog = self.feed.log
        self.messages: list[tuple[int, dict[str, Any]]] = []
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self.state = SessionState.CONNECTING
        self._pc = pc
        self._channel = channel
        self._receiver_task: asyncio.Task[None] | None = None
        self._channel_open = asyncio.Event()
        self._connection_settled = asyncio.Event()

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        client: ScopeClient,
        pipeline_ids: Sequence[str],
        *,
        source: MediaStreamTrack | None = None,
        mode: InputMode | None = None,
        parameters: Mapping[str, Any] | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> RtcSession:
        """Open a session for an already loaded pipeline chain.

        Parameters
        ----------
        client:
            The server's client (its target decides loopback vs remote ICE).
        pipeline_ids:
            The loaded chain, e.g. ``["longlive"]`` (preprocessors, main, postprocessors).
        source:
            The input video track for video-to-video; None for text-to-video.
        mode:
            ``"video"`` or ``"text"``; defaults to video when a source is given.
        parameters:
            Further ``initialParameters`` (prompts, denoising_step_list, vace_* ...).
        connect_timeout_s:
            How long ICE and DTLS may take to connect.

        Raises
        ------
        ConnectionFailedError
            ICE/DTLS did not connect in time (the message explains the usual causes).
        ServerError
            The server refused the offer (e.g. 400 when no pipeline is loaded).

        Examples
        --------
        >>> session = await RtcSession.open(client, ["passthrough"], source=StampedSource(512, 512, 15))  # doctest: +SKIP
        >>> async for frame in session.frames(): ...                                                        # doctest: +SKIP
        """
        mode = mode or ("video" if source is not None else "text")
        if mode == "video" and source is None:
            raise ValueError("video-to-video mode needs a source track (see lab.sources).")
        loopback = client.target.is_loopback
        await client.health()  # opens the client (and starts the simulator for "sim")
        ice_servers = [] if loopback else await client.ice_servers()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[
            RTCIceServer(urls=s.url_list, username=s.username, credential=s.credential) for s in ice_servers
        ]))
        channel = pc.createDataChannel("parameters", ordered=True)
        session = cls(client, pc, channel, mode)
        try:
            await session._negotiate(source, dict(parameters or {}), list(pipeline_ids), loopback)
            await session._wait_connected(connect_timeout_s, has_turn=any(s.is_turn for s in ice_servers),
                                          loopback=loopback)
        except BaseException:
            await session.close()
            raise
        session.state = SessionState.OPEN
        return session

    async def _negotiate(self, source: MediaStreamTrack | None, parameters: dict[str, Any],
                         pipeline_ids: list[str], loopback: bool) -> None:
        pc = self._pc
        if source is not None:
            video = pc.addTransceiver(source, direction="sendrecv")
        else:
            video = pc.addTransceiver("video", direction="sendrecv")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                   if c.mimeType.lower() in ("video/vp8", "video/rtx")])
        pc.addTransceiver("audio", direction="recvonly")
        self._wire_events(video.receiver)
        if loopback:
            restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
        initial = {**parameters, "pipeline_ids": pipeline_ids, "input_mode": self.mode}
        self.timeline.offer_sent_ns = time.perf_counter_ns()
        answer = await self.client.webrtc_offer(pc.localDescription.sdp, initial)
        self.timeline.answer_received_ns = time.perf_counter_ns()
        self.session_id = answer.session_id
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type=answer.type))

    def _wire_events(self, video_receiver: RTCRtpReceiver) -> None:
        packet_times = _PacketTimes(video_receiver)

        @self._pc.on("connectionstatechange")
        def on_state() -> None:
            state = self._pc.connectionState
            log.debug("session %s connection %s", self.session_id, state)
            if state == "connected" and self.timeline.connected_ns is None:
                self.timeline.connected_ns = time.perf_counter_ns()
            if state in ("connected", "failed", "closed"):
                self._connection_settled.set()

        @self._pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self._receiver_task is None:
                self._receiver_task = asyncio.create_task(self._receive(track, packet_times))

        @self._channel.on("open")
        def on_open() -> None:
            self._channel_open.set()

        @self._channel.on("message")
        def on_message(raw: str | bytes) -> None:
            self._on_message(raw)

    async def _wait_connected(self, timeout_s: float, *, has_turn: bool, loopback: bool) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._connection_settled.wait()
        if self._pc.connectionState != "connected":
            raise ConnectionFailedError(url=self.client.url, session_id=self.session_id,
                                        state=self._pc.connectionState, timeout_s=timeout_s,
                                        has_turn=has_turn, loopback=loopback)

    # -- receiving ---------------------------------------------------------------------

    async def _receive(self, track: MediaStreamTrack, packet_times: _PacketTimes) -> None:
        seq = 0
        try:
            while True:
                frame = await track.recv()
                decoded_ns = time.perf_counter_ns()
                first_ns, last_ns = packet_times.lookup(frame.pts)
                received = ReceivedFrame(seq, last_ns or decoded_ns, first_ns, decoded_ns,
                                         frame.pts, frame.width, frame.height, frame)
                if seq == 0:
                    self.timeline.first_frame_ns = received.complete_ns
                seq += 1
                self.feed.deliver(received)
        except MediaStreamError:
            log.debug("session %s: output track ended", self.session_id)
        finally:
            self.feed.end()

    @property
    def frames_dropped_by_consumer(self) -> int:
        """Frames a slow :meth:`frames` iterator lost (never the frame log)."""
        return self.feed.frames_dropped_by_consumer

    def on_frame(self, callback: Callable[[ReceivedFrame], None]) -> None:
        """Call ``callback`` with every received frame, in the receive loop (keep it fast)."""
        self.feed.on_frame(callback)

    def frames(self, *, stall_timeout_s: float | None = None) -> AsyncIterator[ReceivedFrame]:
        """Received frames from now on, as they arrive (:meth:`lab.feed.FrameFeed.frames`).

        Ends when the session closes or the output track ends. Raises
        :class:`StreamStoppedError` when the server stops the stream and
        :class:`StreamStalledError` when no frame arrives for ``stall_timeout_s``.
        """
        return self.feed.frames(stall_timeout_s=stall_timeout_s)

    async def wait_frames(self, count: int, *, stall_timeout_s: float = 10.0) -> None:
        """Wait until the frame log holds at least ``count`` frames."""
        await self.feed.wait_frames(count, stall_timeout_s=stall_timeout_s)

    # -- the data channel ----------------------------------------------------------------

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("session %s: non-JSON data channel message %r", self.session_id, raw[:80])
            return
        self.messages.append((time.perf_counter_ns(), message))
        if isinstance(message, dict) and message.get("type") == "stream_stopped":
            self.feed.stop(StreamStoppedError(url=self.client.url, session_id=self.session_id,
                                              server_message=message.get("error_message")))

    async def send(self, parameters: Mapping[str, Any], *, timeout_s: float = 5.0) -> int:
        """Send a parameter update over the data channel; return its send time (ns).

        Send one merged object rather than several: Scope applies one queued update per
        generated chunk.
        """
        if self.state is SessionState.CLOSED:
            raise RuntimeError("This session is closed; open a new one.")
        if self.feed.stopped is not None:
            raise self.feed.stopped
        async with asyncio.timeout(timeout_s):
            await self._channel_open.wait()
        body = dict(parameters)
        sent_ns = time.perf_counter_ns()
        self._channel.send(json.dumps(body))
        self.sent.append((sent_ns, body))
        return sent_ns

    # -- stats and closing ---------------------------------------------------------------

    async def inbound_stats(self) -> dict[str, Any]:
        """WebRTC inbound-RTP video stats (packets received/lost, jitter) plus our frame count."""
        report = await self._pc.getStats()
        stats: dict[str, Any] = {"frames_received": len(self.log)}
        for entry in report.values():
            if entry.type == "inbound-rtp" and getattr(entry, "kind", None) == "video":
                stats.update(packets_received=entry.packetsReceived, packets_lost=entry.packetsLost,
                             jitter=entry.jitter)
        return stats

    async def close(self) -> None:
        """Close the peer connection and tell the server; safe to call more than once."""
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        await cancel_and_wait(self._receiver_task)
        await self._pc.close()
        self.feed.end()
        if self.session_id is not None:
            try:
                async with asyncio.timeout(5.0):
                    await self.client.webrtc_close(self.session_id)
            except (ScopeError, TimeoutError) as exc:
                log.info("session %s: server did not confirm close: %s", self.session_id, exc)

    async def __aenter__(self) -> RtcSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def open_session(client: ScopeClient, pipeline_ids: Sequence[str], **options: Any) -> AsyncIterator[RtcSession]:
    """``async with open_session(client, ["passthrough"], source=...) as session:`` (closes on exit)."""
    session = await RtcSession.open(client, pipeline_ids, **options)
    try:
        yield session
    finally:
        await session.close()
