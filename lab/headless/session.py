"""Scope's headless session from the client side: start it, steer it over REST, read its output.

A headless session has no WebRTC: ``POST /api/v1/session/start`` runs the loaded pipeline
on the server, parameter updates go by ``POST /api/v1/session/parameters``, and the output
is read one of two ways (the ``via`` of a measurement):

- ``headless-ts``: the live MPEG-TS stream ``GET /api/v1/session/output.ts``
  (:mod:`lab.headless.ts`);
- ``headless-frame``: polling ``GET /api/v1/session/frame`` (:mod:`lab.headless.poll`).

In video mode the input is a server-side source: the client uploads a video file to the
server's assets and names it as a ``video_file`` input source; the server plays it.

:class:`HeadlessSession` offers what measurements use of a WebRTC session
(:class:`lab.rtc.RtcSession`): ``timeline``, ``log``, ``frames()``, ``on_frame()``,
``send()`` and ``close()``. Its timeline reads, for this path: ``offer_sent_ns`` the start
request sent, ``answer_received_ns`` its answer, ``connected_ns`` the reader open (the
``output.ts`` response headers, or the first ``/session/frame`` answer), ``first_frame_ns``
the first frame's arrival at the reader.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from lab import resources
from lab.client import ScopeClient
from lab.errors import NoServerInputError, ScopeError, StreamError
from lab.feed import FrameFeed, FrameLog, ReceivedFrame
from lab.headless.poll import DEFAULT_POLL_HZ, FRAME_PATH, PollCounts, poll_frames
from lab.headless.ts import OUTPUT_TS, read_output_ts
from lab.rtc import InputMode, SessionTimeline
from lab.tasks import cancel_and_wait

__all__ = ["HEADLESS_VIAS", "HeadlessSession", "Via", "setup_steps", "server_input"]

log = logging.getLogger(__name__)

Via = Literal["webrtc", "headless-ts", "headless-frame"]
HEADLESS_VIAS: tuple[Via, ...] = ("headless-ts", "headless-frame")
START = "/api/v1/session/start"
STOP = "/api/v1/session/stop"
PARAMETERS = "/api/v1/session/parameters"


def setup_steps(via: Via, mode: InputMode) -> list[str]:
    """The HTTP calls (and connections) a client makes to get output and steer it, per path."""
    load = "POST /api/v1/pipeline/load"
    if via == "webrtc":
        return [load, "POST /api/v1/webrtc/offer (SDP offer with initialParameters)",
                "ICE + DTLS peer connection (client sends its video track)" if mode == "video"
                else "ICE + DTLS peer connection", "data channel 'parameters' for updates"]
    upload = ["POST /api/v1/assets (the input clip)"] if mode == "video" else []
    reader = f"GET {OUTPUT_TS} (one long MPEG-TS response)" if via == "headless-ts" else \
        f"GET {FRAME_PATH} (one request per poll)"
    return [*upload, load, f"POST {START}" + (" (input_source video_file)" if mode == "video" else ""),
            reader, f"POST {PARAMETERS} for updates"]


async def server_input(client: ScopeClient, clip: str | Path | None = None) -> dict[str, Any]:
    """Upload ``clip`` (default: the shipped test clip) and name it as a video-file input source.

    Raises
    ------
    NoServerInputError
        If the server lists no available ``video_file`` input source.
    """
    available = [source.source_id for source in await client.input_sources() if source.available]
    if "video_file" not in available:
        raise NoServerInputError(url=client.url, available=available)
    asset = await client.upload_asset(clip or resources.CLIP)
    return {"enabled": True, "source_type": "video_file", "source_name": asset.path}


class HeadlessSession:
    """A running headless session and one reader of its output; open with :meth:`open`.

    Attributes
    ----------
    via:
        ``headless-ts`` or ``headless-frame``.
    poll_hz:
        The poll rate (``headless-frame``).
    polls:
        What the poller did (requests, empty answers, new frames).
    sent:
        ``(sent_ns, parameters)`` of every update sent.
    """

    session_id = "headless"

    def __init__(self, client: ScopeClient, via: Via, poll_hz: float) -> None:
        if via not in HEADLESS_VIAS:
            raise ValueError(f"via must be one of {', '.join(HEADLESS_VIAS)}, not {via!r}")
        self.client = client
        self.via = via
        self.poll_hz = poll_hz
        self.timeline = SessionTimeline()
        self.feed = FrameFeed(lambda: (client.url, self.session_id))
        self.log: FrameLog = self.feed.log
        self.polls = PollCounts()
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, client: ScopeClient, pipeline_id: str, *, mode: InputMode, via: Via,
                   parameters: Mapping[str, Any] | None = None, input_source: Mapping[str, Any] | None = None,
                   poll_hz: float = DEFAULT_POLL_HZ) -> HeadlessSession:
        """Start the headless session on the loaded ``pipeline_id`` and start reading its output.

        Raises
        ------
        ServerError
            The server refused to start (500 when the pipeline is not loaded).
        """
        session = cls(client, via, poll_hz)
        values = dict(parameters or {})
        body: dict[str, Any] = {"pipeline_id": pipeline_id, "input_mode": mode,
                                "prompts": values.pop("prompts", None), "parameters": values or None,
                                "input_source": dict(input_source) if input_source else None}
        exchange = await client.exchange()
        session.timeline.offer_sent_ns = time.perf_counter_ns()
        await exchange.send("POST", START, json=body, retry=False)
        session.timeline.answer_received_ns = time.perf_counter_ns()
        session._reader = asyncio.create_task(session._read())
        return session

    async def _read(self) -> None:
        try:
            if self.via == "headless-ts":
                await read_output_ts(self.client, self._deliver, self._opened)
            else:
                await poll_frames(self.client, self._deliver, self._opened, self.polls, poll_hz=self.poll_hz)
            if not self._closed:  # the server ended the stream: the session stopped under us
                self.feed.stop(StreamError("The headless session's output.ts ended: the server stopped the "
                                           "session (another session/start or session/stop, or a restart).",
                                           url=self.client.url, session_id=self.session_id))
        except ScopeError as exc:
            self.feed.stop(exc if isinstance(exc, StreamError) else StreamError(
                f"Reading the headless session's output ({self.via}) failed: {exc}",
                url=self.client.url, session_id=self.session_id))
        finally:
            self.feed.end()

    def _opened(self) -> None:
        self.timeline.connected_ns = time.perf_counter_ns()

    def _deliver(self, frame: ReceivedFrame) -> None:
        if self.timeline.first_frame_ns is None:
            self.timeline.first_frame_ns = frame.complete_ns
        self.feed.deliver(frame)

    def on_frame(self, callback: Callable[[ReceivedFrame], None]) -> None:
        """Call ``callback`` with every frame the reader gets (keep it fast)."""
        self.feed.on_frame(callback)

    def frames(self, *, stall_timeout_s: float | None = None) -> AsyncIterator[ReceivedFrame]:
        """Frames from now on, as they arrive (:meth:`lab.feed.FrameFeed.frames`)."""
        return self.feed.frames(stall_timeout_s=stall_timeout_s)

    async def send(self, parameters: Mapping[str, Any]) -> int:
        """``POST /api/v1/session/parameters``; returns when it was sent (ns).

        Scope applies it to every session, WebRTC ones too, and acknowledges nothing beyond
        the answer: the change shows in the output a chunk or more later.
        """
        if self.feed.stopped is not None:
            raise self.feed.stopped
        body = dict(parameters)
        sent_ns = time.perf_counter_ns()
        await (await self.client.exchange()).send("POST", PARAMETERS, json=body, retry=False)
        self.sent.append((sent_ns, body))
        return sent_ns

    async def close(self) -> None:
        """Stop reading and stop the server's session; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await cancel_and_wait(self._reader)
        self.feed.end()
        try:
            async with asyncio.timeout(5.0):
                await (await self.client.exchange()).send("POST", STOP, retry=False)
        except (ScopeError, TimeoutError) as exc:
            log.info("headless session: the server did not confirm the stop: %s", exc)
