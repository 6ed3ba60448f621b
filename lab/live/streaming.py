"""One open stream: the WebRTC session for the loaded pipeline, its input, and what was sent on it.

A stream is opened with an input (:mod:`lab.live.inputs`) in video mode, none in text
mode; its initial parameters are the panel's prompts and controls (``prompts`` left out
for pipelines without prompts). Steering sends only what changed, as one object
(:class:`lab.live.controls.UpdateTracker`); a prompt change becomes a ``transition`` when
transitions are on. With the stamped test pattern through a pipeline that keeps the
picture, a frame's stamp gives its exact latency. A server-side end (``stream_stopped``,
the track ending) is noticed by awaiting :meth:`LiveStream.ended`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lab.client import ScopeClient
from lab.errors import StreamStoppedError
from lab.live.controls import Transition, UpdateTracker, prompt_update
from lab.live.inputs import InputChoice, make_input
from lab.live.loading import LoadedPipeline
from lab.protocol import webrtc_session_path
from lab.rtc import ReceivedFrame, RtcSession
from lab.sources import StampedSource, VideoSource
from lab.stamp import decode_stamp
from lab.tasks import cancel_and_wait

__all__ = ["LiveStream", "StreamState", "open_input"]


class StreamState(enum.Enum):
    """Where the WebRTC session is."""

    STOPPED = "stopped"
    STARTING = "starting"
    STREAMING = "streaming"


def open_input(loaded: LoadedPipeline, choice: InputChoice | None, fps: float, *,
               upload: str | Path | None) -> VideoSource | None:
    """The input of a stream of ``loaded``: ``choice`` (None: the stamped pattern) in video mode, none in text mode."""
    if loaded.mode != "video":
        return None
    return make_input(choice or "pattern", *loaded.size, fps, upload=upload)


@dataclass
class LiveStream:
    """One open session with its input and what was sent on it."""

    session: RtcSession
    source: VideoSource | None
    choice: InputChoice | None
    tracker: UpdateTracker
    read_stamps: bool
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)  # the task awaiting :meth:`ended`

    @classmethod
    async def open(cls, client: ScopeClient, loaded: LoadedPipeline, source: VideoSource | None,
                   choice: InputChoice | None, parameters: Mapping[str, Any]) -> LiveStream:
        """Open a session for ``loaded`` fed by ``source``; ``source`` is stopped when it does not open."""
        initial = {k: v for k, v in parameters.items() if k != "prompts" or loaded.schema.supports_prompts}
        try:
            session = await RtcSession.open(client, [loaded.schema.id], source=source, mode=loaded.mode,
                                            parameters=initial)
        except BaseException:
            if source is not None:
                source.stop()
            raise
        read_stamps = isinstance(source, StampedSource) and not loaded.schema.is_generative
        return cls(session, source, choice if source else None, UpdateTracker(initial), read_stamps)

    async def ended(self) -> str:
        """Wait until the server ends the stream; returns why (``stream_stopped`` or the track ending)."""
        try:
            async for _ in self.session.frames():
                pass
        except StreamStoppedError as exc:
            return str(exc)
        return "the server ended the output track"

    def latency_ms(self, frame: ReceivedFrame) -> float | None:
        """Input to output of ``frame`` from its stamp (None unless the stamped pattern goes through unchanged)."""
        if not self.read_stamps or self.source is None:
            return None
        frame_id = decode_stamp(frame.frame).frame_id
        index = None if frame_id is None else frame_id - self.source.start_id
        if index is None or not 0 <= index < len(self.source.records):
            return None
        return (frame.complete_ns - self.source.records[index].sent_ns) / 1e6

    async def send_changes(self, wanted: Mapping[str, Any], transition: Transition) -> dict[str, Any]:
        """Send what differs between ``wanted`` and what the session was told; return what was sent."""
        changes = self.tracker.changes(wanted)
        if "prompts" in changes:
            changes.update(prompt_update(changes.pop("prompts"), transition))
        if changes:
            await self.session.send(changes)
            self.tracker.mark_sent(changes)
        return changes

    async def close(self) -> None:
        """Stop watching for its end, close the session, then stop the input (even when closing fails)."""
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            await cancel_and_wait(self.watcher)
        try:
            await self.session.close()
        finally:
            if self.source is not None:
                self.source.stop()

    def drop_at_exit(self, server_url: str) -> None:
        """Best effort without an event loop: stop the input and tell the server to drop the session."""
        if self.source is not None:
            self.source.stop()
        if self.session.session_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(server_url + webrtc_session_path(self.session.session_id), timeout=3.0)
