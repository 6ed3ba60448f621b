"""The headless session: a session without WebRTC, whose output goes to ``output.ts`` and
``/session/frame``.

It is a :class:`lab.sim.media.session.MediaSession` with the same chain, parameters, frame
processor, queues, output pacer, faults and ground truth; only the ends differ:

- **input**: in video mode, a server-side input source (a video file,
  :mod:`lab.sim.input_sources`) read into the input queue as it plays, instead of a
  client's track;
- **output**: a sink task asks the output track for each frame as aiortc would, so pacing,
  pause repeats and faults are the WebRTC session's own, then encodes it into the session's
  MPEG-TS stream (:mod:`lab.sim.media.tsout`). The track's last frame is what
  ``/session/frame`` serves;
- **parameters** arrive only by ``POST /api/v1/session/parameters`` (source ``"rest"`` in the
  truth); there is no data channel to tell.

Its ground truth (``/sim/sessions/headless/truth``) has the WebRTC columns, read for this
sink: ``sent_ns`` is when a frame became the latest output frame, from when
``/session/frame`` could serve it; ``wire_ns`` is when the sink had encoded and muxed it and
queued its bytes to every ``output.ts`` client. The stream starts at ``start()``: the sink
asks for the first frame at once, like Scope's frame processor starting with the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lab.sim.faults import Fault
from lab.sim.media.chain import Chain
from lab.sim.media.quality import QualityKnobs
from lab.sim.media.session import MediaSession, SessionStatus
from lab.sim.media.tracks import read_input
from lab.sim.media.tsout import TsOutput

__all__ = ["HEADLESS_ID", "HeadlessSession"]

logger = logging.getLogger(__name__)

HEADLESS_ID = "headless"


class HeadlessSession(MediaSession):
    """Scope's one headless session.

    Parameters
    ----------
    chain, initial, faults, extra_delay_ns, seed, quality, unpaced
        As for :class:`MediaSession`.
    input_track
        The server-side input source's frames (video mode), if any.
    """

    def __init__(
        self,
        chain: Chain | None,
        initial: dict[str, Any],
        faults: dict[str, Fault],
        *,
        extra_delay_ns: Callable[[], int],
        seed: int,
        quality: QualityKnobs,
        input_track: MediaStreamTrack | None = None,
        unpaced: bool = False,
    ) -> None:
        super().__init__(HEADLESS_ID, chain, initial, faults, extra_delay_ns=extra_delay_ns,
                         loopback=True, seed=seed, quality=quality, unpaced=unpaced)
        self.output = TsOutput()
        self._input_track = input_track

    def start(self) -> None:
        """Start reading the input source and sending frames to the sink."""
        self.status = "connected"
        if self._input_track is not None:
            self._spawn(read_input(self._input_track, self.inputs))
        self._spawn(self._sink())

    async def _sink(self) -> None:
        """Open the encoder at the expected size, then each paced frame into the TS stream."""
        size = _expected_size(self.chain, self._input_track)
        if size is not None:
            await asyncio.to_thread(self.output.prepare, *size)
        await self._send_frames()

    def notify(self, message: dict[str, Any]) -> None:
        """No data channel: nothing to tell."""

    async def _send_frames(self) -> None:
        """Each paced frame into the TS stream, in order, until the track ends."""
        try:
            while True:
                frame = await self.track.recv()
                data, key = await asyncio.to_thread(self.output.encode, frame)
                self.output.publish(data, key)
        except MediaStreamError:
            logger.info("Headless output ended")
        finally:
            self.output.close()

    def summary(self) -> dict[str, Any]:
        """The WebRTC session's summary, with the input source and ``output.ts`` clients."""
        return {**super().summary(), "headless": True, "input_source": self._input_source(),
                "output_ts_clients": self.output.clients}

    def metrics(self) -> dict[str, Any]:
        """Scope's metrics entry, marked ``headless``, with the input source in use."""
        source = self._input_source()
        return {**super().metrics(), "input_source_enabled": self._input_track is not None,
                "input_source_type": source.get("source_type") if source else None, "headless": True}

    async def close(self, status: SessionStatus = "closed") -> None:
        """Stop the input source, the stream and every ``output.ts`` client."""
        try:
            await super().close(status)
        finally:
            if self._input_track is not None:
                self._input_track.stop()
            self.output.close()

    def _input_source(self) -> dict[str, Any] | None:
        source = self.params.current.get("input_source")
        return source if isinstance(source, dict) else None


def _expected_size(chain: Chain | None, track: MediaStreamTrack | None) -> tuple[int, int] | None:
    """(width, height) of the output: a generative chain's, else its input source's, if known."""
    if chain is not None and chain.generative:
        return chain.width, chain.height
    width, height = getattr(track, "width", None), getattr(track, "height", None)
    return (width, height) if isinstance(width, int) and isinstance(height, int) else None
