"""The WebRTC session with a Scope server: offer and answer, input and output, parameters.

What it offers is :mod:`lab.rtc.offer`'s; what it records of each received frame, and
when, is :mod:`lab.rtc.receiving`'s.

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
from typing import Any, Literal

from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from lab.client import ScopeClient
from lab.errors import ConnectionFailedError, ScopeError, StreamStoppedError
from lab.feed import FrameFeed, FrameLog, ReceivedFrame
from lab.loopback import restrict_to_loopback
from lab.rtc import offer
from lab.rtc.receiver_hooks import PacketTimes
from lab.rtc.receiving import SessionTimeline, receive_frames
from lab.tasks import cancel_and_wait

__all__ = ["DEFAULT_CONNECT_TIMEOUT_S", "InputMode", "RtcSession", "SessionState", "open_session"]

log = logging.getLogger(__name__)

InputMode = Literal["video", "text"]
DEFAULT_CONNECT_TIMEOUT_S = 20.0


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
        pc = offer.new_peer_connection(ice_servers)
        channel = pc.createDataChannel(offer.PARAMETERS_CHANNEL, ordered=True)
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
        video = offer.add_media_lines(pc, source)
        self._wire_events(video.receiver)
        if loopback:
            restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
        initial = offer.initial_parameters(parameters, pipeline_ids, self.mode)
        self.timeline.offer_sent_ns = time.perf_counter_ns()
        answer = await self.client.webrtc_offer(pc.localDescription.sdp, initial)
        self.timeline.answer_received_ns = time.perf_counter_ns()
        self.session_id = answer.session_id
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type=answer.type))

    def _wire_events(self, video_receiver: RTCRtpReceiver) -> None:
        packet_times = PacketTimes(video_receiver)

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

    async def _receive(self, track: MediaStreamTrack, packet_times: PacketTimes) -> None:
        try:
            await receive_frames(track, packet_times, self.feed, self.timeline)
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
