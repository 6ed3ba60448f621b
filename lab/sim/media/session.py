"""One WebRTC session of the simulator: its tracks, processor, data channel, faults and truth.

The session's stream starts when aiortc first asks the output track for a frame (once ICE
and DTLS are up), like Scope's lazily started frame processor. Data-channel messages are
JSON objects: ``paused`` acts at once, ``reset_cache`` drops the queued output frames and
restarts warm-up at the next chunk, and every other key is queued as an update for the
next chunk. Notifications to the client wait until its data channel is open.

A session is removed from service when its connection fails or closes, on ``DELETE``, on
``/sim/reset`` and at shutdown; its ground truth stays readable until ``/sim/reset``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from lab.sim.faults import Fault
from lab.sim.media.chain import Chain
from lab.sim.media.pacing import make_pacer
from lab.sim.media.parameters import SessionParameters
from lab.sim.media.processor import FrameProcessor
from lab.sim.media.quality import QualityKnobs
from lab.sim.media.queues import INPUT_QUEUE_FRAMES, InputQueue, OutputBuffer
from lab.sim.media.tracks import OutputTrack, read_input
from lab.sim.media.truth import SessionTruth

__all__ = ["MediaSession", "SessionStatus"]

logger = logging.getLogger(__name__)

SessionStatus = Literal["connecting", "connected", "stopped", "failed", "closed"]
_ENDED: frozenset[str] = frozenset({"failed", "closed"})


class MediaSession:
    """A simulated Scope WebRTC session.

    Parameters
    ----------
    session_id
        The id returned to the client.
    chain
        What it runs; ``None`` (no or unknown ``pipeline_ids``) produces no frames.
    initial
        The validated ``initialParameters``.
    faults
        Media faults this session acts out, by kind.
    extra_delay_ns
        Returns the current extra delay added to every output frame.
    loopback
        Whether its ICE is restricted to 127.0.0.1.
    unpaced
        Send each output frame as soon as it is ready, without Scope's output pacer:
        a generative chunk's frames go out back to back (chunked, bursty delivery).
    seed
        Seed of its timing and pixel noise.
    quality
        Run-time overrides of the reference share, identity drift and flicker (read live).
    """

    def __init__(
        self,
        session_id: str,
        chain: Chain | None,
        initial: dict[str, Any],
        faults: dict[str, Fault],
        *,
        extra_delay_ns: Callable[[], int],
        loopback: bool,
        seed: int,
        quality: QualityKnobs,
        unpaced: bool = False,
    ) -> None:
        self.id = session_id
        self.chain = chain
        self.faults = faults
        self.loopback = loopback
        self.status: SessionStatus = "connecting"
        self.created_ns = time.perf_counter_ns()
        self.paused = False
        self.pc: RTCPeerConnection | None = None
        self.params = SessionParameters(initial)
        self.inputs = InputQueue(INPUT_QUEUE_FRAMES if chain is None else chain.main.emulation.input_queue_frames)
        self.truth = SessionTruth(self.inputs.ledger)
        self.outputs = OutputBuffer()
        self.pacer = make_pacer(timestamped=chain is None or not chain.generative)
        self.track = OutputTrack(
            self.outputs,
            self.pacer,
            self.truth,
            extra_delay_ns=extra_delay_ns,
            on_start=self._start_stream,
            stall=faults.get("stall"),
            unpaced=unpaced,
        )
        self._processor = (
            None
            if chain is None
            else FrameProcessor(
                chain, self.params, self.inputs, self.outputs, self.pacer, self.truth,
                quality=quality, seed=seed,
            )
        )
        self._input_attached = False
        self._channel: RTCDataChannel | None = None
        self._outbox: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._processing: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()

    @property
    def pipeline_ids(self) -> list[str]:
        """The chain the client asked for."""
        return list(self.params.current.get("pipeline_ids") or [])

    @property
    def active(self) -> bool:
        """Not closed or failed (a stopped stream still counts, as its connection is up)."""
        return self.status not in _ENDED

    # -- wiring (called by lab.sim.media.signalling) -----------------------------------

    def attach_input(self, track: MediaStreamTrack) -> None:
        """Read the client's first video track as input."""
        if self._input_attached:
            return
        self._input_attached = True
        self._spawn(read_input(track, self.inputs))

    def attach_channel(self, channel: RTCDataChannel) -> None:
        """Use the client's data channel (whatever its label) and flush waiting notifications."""
        self._channel = channel
        channel.on("message", self._on_message)
        for message in self._outbox:
            channel.send(json.dumps(message))
        self._outbox.clear()

    def connection_changed(self, state: str) -> None:
        """Follow the peer connection; a failed or closed connection ends the session."""
        logger.debug("Session %s connection %s", self.id, state)
        if state == "connected" and self.status == "connecting":
            self.status = "connected"
        elif state in _ENDED and not self._closing:
            self._spawn(self.close("failed" if state == "failed" else "closed"))

    # -- parameters and notifications --------------------------------------------------

    def receive_update(self, update: dict[str, Any], received_ns: int, source: str) -> None:
        """Apply a parameter update from the data channel or the REST API."""
        self.truth.messages.append(received_ns=received_ns, source=source, keys=sorted(update))
        rest = dict(update)
        paused = rest.pop("paused", None)
        if isinstance(paused, bool):
            self._set_paused(paused)
        if rest.pop("reset_cache", None) is True:
            dropped = self.outputs.clear()
            if self._processor is not None:
                self._processor.request_reset()
            logger.info("Session %s: cache reset, %d queued frames dropped", self.id, dropped)
        if rest:
            self.params.queue(rest, received_ns)

    def notify(self, message: dict[str, Any]) -> None:
        """Send a JSON message to the client, or keep it until its data channel is open."""
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(json.dumps(message))
        else:
            self._outbox.append(message)

    def _on_message(self, raw: str | bytes) -> None:
        received_ns = time.perf_counter_ns()
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            logger.warning("Session %s: ignored a non-JSON data channel message", self.id)
            return
        if isinstance(message, dict):
            self.receive_update(message, received_ns, "channel")

    def _set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        self.track.paused = paused
        if self._processor is not None and paused:
            self._processor.pause()
        elif self._processor is not None:
            self._processor.resume()
        if not paused and "dead_after_unpause" in self.faults:
            logger.warning("Session %s: dead_after_unpause fault: the video output stays dead after unpausing",
                           self.id)
            self.track.dead = True
        self.outputs.notify()

    # -- the stream ----------------------------------------------------------------------

    def _start_stream(self) -> None:
        if self._processor is not None:
            self._processing = self._spawn(self._processor.run())
        stop = self.faults.get("stream_stopped")
        if stop is not None:
            self._spawn(self._stop_stream_after(stop))

    async def _stop_stream_after(self, fault: Fault) -> None:
        await self.track.first_frame.wait()
        await asyncio.sleep(fault.after_s)
        message: dict[str, Any] = {"type": "stream_stopped"}
        if fault.message:
            message["error_message"] = fault.message
        # What a server logs when a session's frame processing dies (stream_stopped fault).
        logger.error("Session %s: frame processing stopped: %s", self.id,
                     fault.message or "RuntimeError: the pipeline worker raised (injected stream_stopped fault)")
        self.notify(message)
        self.status = "stopped"
        self.track.stop()
        if self._processing is not None:
            self._processing.cancel()  # the input goes on being read (and dropped)

    # -- state and closing ---------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What ``GET /sim/sessions`` lists about this session."""
        return {
            "session_id": self.id,
            "pipeline_ids": self.pipeline_ids,
            "input_mode": self.params.current.get("input_mode") or "text",
            "state": self.status,
            "paused": self.paused,
            "faults": sorted(self.faults),
            "frames_in": self.inputs.received,
            "frames_out": len(self.truth.frames),
            "chunks": len(self.truth.chunks),
            "dropped_updates": self.params.dropped_updates,
        }

    def metrics(self) -> dict[str, Any]:
        """This session's entry of ``GET /api/v1/session/metrics`` (Scope's fields)."""
        elapsed_s = (time.perf_counter_ns() - self.created_ns) / 1e9
        frames_in, frames_out = self.inputs.received, len(self.truth.frames)
        return {
            "frames_in": frames_in,
            "frames_out": frames_out,
            "elapsed_seconds": elapsed_s,
            "fps_in": frames_in / elapsed_s if elapsed_s > 0 else 0.0,
            "fps_out": frames_out / elapsed_s if elapsed_s > 0 else 0.0,
            "pipeline_fps": self.pacer.fps,
            "output_sinks": {},
            "input_source_enabled": False,
            "input_source_type": None,
            "relay_mode": False,
        }

    async def close(self, status: SessionStatus = "closed") -> None:
        """Stop the tasks, the output track and the peer connection.

        Safe to call again: a second call waits until the first one has finished.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            self.track.stop()
            await self._cancel_and_wait()
            if self.pc is not None:
                await self.pc.close()
        finally:
            self.status = status
            self._closed.set()
            logger.info("Session %s %s", self.id, status)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Session %s task failed", self.id, exc_info=task.exception())

    async def _cancel_and_wait(self) -> None:
        """Cancel every task but the calling one (a close spawned by a state change)."""
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
