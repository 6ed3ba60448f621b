"""A hosted stream as one measurement session: our video in over WHIP, its output back over WHEP.

:class:`HostedSession` offers what :mod:`lab.measure` uses of a Scope WebRTC session
(:class:`lab.rtc.RtcSession`): ``session_id`` (the stream id), ``timeline``, ``log``,
``frames()``, ``on_frame()``, ``send()`` and ``close()``. Starting it takes these steps,
each timed on ``time.perf_counter_ns`` (:class:`StartTimes`, the session's ``timeline``):

1. ``POST /v1/streams`` sent, and its answer (the stream is created);
2. the WHIP offer sent and its answer (``timeline.offer_sent_ns``, ``answer_received_ns``),
   then ICE+DTLS connected (``connected_ns``): our video is the stream's input;
3. the status route polled every ``poll_s`` until the output plays (``ready_ns``; the
   hosted API starts a stream's pipeline when its input arrives);
4. WHEP: the playback URL from the WHIP answer's ``Livepeer-Playback-Url``, its 404s
   ("nothing published yet") retried; the first output frame is ``first_frame_ns``.

Frame arrival is each output frame's last RTP packet, read as for Scope
(:class:`lab.rtc.receiver_hooks.PacketTimes`). ``send`` is a ``PATCH /v1/streams/{id}``
of the params given, with the stream's ``model_id`` (the API's body selects its params
by it). ``close`` ends WHEP and WHIP and deletes the stream, after a failure or a
cancellation too (:func:`lab.hosted.hosted_stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lab.feed import FrameFeed, FrameLog, ReceivedFrame
from lab.hosted.client import HostedClient
from lab.hosted.status import StreamStatus
from lab.hosted.stream import hosted_stream
from lab.hosted_errors import WhipError
from lab.rtc.receiver_hooks import PacketTimes
from lab.rtc.receiving import SessionTimeline, receive_frames, span_s
from lab.tasks import cancel_and_wait
from lab.whip import PLAYBACK_HEADER, WhipSession, play, publish

__all__ = ["HostedSession", "Phase", "StartTimes"]

log = logging.getLogger(__name__)

Phase = Literal["create", "connect", "ready", "playback", "stream"]


@dataclass
class StartTimes:
    """When the stream was asked for, created and ready (perf_counter_ns), and the status polls it took."""

    create_sent_ns: int | None = None
    created_ns: int | None = None
    ready_ns: int | None = None
    poll_s: float = 0.0

    @property
    def create_s(self) -> float | None:
        """``POST /v1/streams`` sent to its answer."""
        return span_s(self.create_sent_ns, self.created_ns)

    @property
    def ready_s(self) -> float | None:
        """``POST /v1/streams`` sent to the first status poll that showed the output playing."""
        return span_s(self.create_sent_ns, self.ready_ns)


class HostedSession:
    """One hosted stream, measured: :meth:`create` it, :meth:`connect` a source (both: :meth:`start`,
    or :meth:`open`), end it with :meth:`close`.

    ``phase`` says how far the start got (for the error record of a failed trial);
    ``stream`` is the SDK's ``CreateStreamResponse`` once created.
    """

    def __init__(self, client: HostedClient, params: Mapping[str, Any], *, name: str | None = None) -> None:
        self.client = client
        self.params = dict(params)
        self.name = name
        self.session_id: str | None = None
        self.stream: Any = None
        self.phase: Phase = "create"
        self.times = StartTimes()
        self.timeline = SessionTimeline()
        self.feed = FrameFeed(lambda: (client.url, self.session_id))
        self.log: FrameLog = self.feed.log
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self._stack = contextlib.AsyncExitStack()
        self._ingest: WhipSession | None = None
        self._output: WhipSession | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, client: HostedClient, params: Mapping[str, Any], source: MediaStreamTrack,
                   **options: Any) -> HostedSession:
        """Create and start a session (closed again, stream deleted, if starting fails)."""
        session = cls(client, params, name=options.pop("name", None))
        try:
            await session.start(source, **options)
        except BaseException:
            await session.close()
            raise
        return session

    async def start(self, source: MediaStreamTrack, **options: Any) -> None:
        """:meth:`create`, then :meth:`connect` ``source``."""
        await self.create()
        await self.connect(source, **options)

    async def create(self) -> None:
        """``POST /v1/streams``: refused params or key raise their :mod:`lab.hosted_errors` error."""
        self.times.create_sent_ns = time.perf_counter_ns()
        self.stream = await self._stack.enter_async_context(hosted_stream(self.client, self.params, name=self.name))
        self.times.created_ns = time.perf_counter_ns()
        self.session_id = self.stream.id
        self.phase = "connect"

    async def connect(self, source: MediaStreamTrack, *, ready_timeout_s: float = 300.0, poll_s: float = 0.5,
                      connect_timeout_s: float = 20.0) -> None:
        """Publish ``source`` over WHIP, wait until the stream plays, and start receiving its output.

        Raises a :mod:`lab.hosted_errors` error: a stream that is not ready within
        ``ready_timeout_s``, a WHIP or WHEP exchange that fails. The caller closes the
        session either way (:meth:`close` deletes the stream).
        """
        assert self.stream is not None, "create the stream first"
        http = self.client.http
        self._ingest = await publish(self.stream.whip_url, source, http=http)
        self.timeline.offer_sent_ns, self.timeline.answer_received_ns = (self._ingest.offer_sent_ns,
                                                                          self._ingest.answered_ns)
        await self._wait_connected(self._ingest, connect_timeout_s)
        self.phase = "ready"
        self.times.poll_s = poll_s
        await self.client.wait_ready(self.stream.id, timeout_s=ready_timeout_s, poll_s=poll_s)
        self.times.ready_ns = time.perf_counter_ns()
        self.phase = "playback"
        self._output = await play(self._ingest.header(PLAYBACK_HEADER), http=http, wait_s=ready_timeout_s,
                                  retry_every_s=poll_s)
        receiver = next(t.receiver for t in self._output.pc.getTransceivers() if t.kind == "video")
        packet_times = PacketTimes(receiver)  # before any await: no packet can have arrived yet
        track = await self._output.track()
        self._receiver = asyncio.create_task(self._receive(track, packet_times))
        self.phase = "stream"

    async def _wait_connected(self, ingest: WhipSession, timeout_s: float) -> None:
        """Note when ICE+DTLS connect (by the connection's own event, as :class:`lab.rtc.RtcSession` does)."""
        settled = asyncio.Event()

        def on_state() -> None:
            if ingest.pc.connectionState == "connected" and self.timeline.connected_ns is None:
                self.timeline.connected_ns = time.perf_counter_ns()
            if ingest.pc.connectionState in ("connected", "failed", "closed"):
                settled.set()

        ingest.pc.on("connectionstatechange", on_state)
        on_state()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await settled.wait()
        if ingest.pc.connectionState != "connected":
            raise WhipError(f"The WHIP connection of stream {self.session_id} did not connect within "
                            f"{timeout_s:g} s (state {ingest.pc.connectionState}).", url=ingest.url)

    async def _receive(self, track: MediaStreamTrack, packet_times: PacketTimes) -> None:
        try:
            await receive_frames(track, packet_times, self.feed, self.timeline)
        except MediaStreamError:
            log.debug("stream %s: output track ended", self.session_id)
        finally:
            self.feed.end()

    def on_frame(self, callback: Callable[[ReceivedFrame], None]) -> None:
        """Call ``callback`` with every output frame, in the receive loop (keep it fast)."""
        self.feed.on_frame(callback)

    def frames(self, *, stall_timeout_s: float | None = None) -> AsyncIterator[ReceivedFrame]:
        """Output frames from now on, as they arrive (:meth:`lab.feed.FrameFeed.frames`)."""
        return self.feed.frames(stall_timeout_s=stall_timeout_s)

    async def send(self, parameters: Mapping[str, Any]) -> int:
        """``PATCH /v1/streams/{id}`` with these params; returns when it was sent (ns)."""
        if self.feed.stopped is not None:
            raise self.feed.stopped
        assert self.session_id is not None, "start the session first"
        body = {"model_id": self.params.get("model_id"), **parameters}
        sent_ns = time.perf_counter_ns()
        await self.client.update_stream(self.session_id, body)
        self.sent.append((sent_ns, dict(parameters)))
        return sent_ns

    async def status(self) -> StreamStatus:
        """What the service says about the stream now (its status route)."""
        assert self.session_id is not None, "start the session first"
        return await self.client.status(self.session_id)

    async def close(self) -> None:
        """End playback and ingest, and delete the stream; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            await cancel_and_wait(self._receiver)
            for part in (self._output, self._ingest):
                if part is not None:
                    await part.close(self.client.http)
            self.feed.end()
        finally:
            await self._stack.aclose()  # deletes the stream, shielded from a second Ctrl-C
