"""Hosted streams of the simulator: each one's record, readiness, media session and peers.

A stream is created by ``POST /v1/streams`` and has no media until its first WHIP offer.
That offer opens a :class:`~lab.sim.media.session.MediaSession` running the stream's model
(:mod:`lab.sim.hosted.profile`) and starts the start-up clock: the stream is ready
``startup_s / speed`` seconds later, and its WHEP endpoint serves the output from then on
(``late_whep`` later still; never with ``never_ready``). The output track starts at the
first WHEP viewer, and every output frame is delayed by ``playback_delay_s``.

A deleted stream answers 404 on the API, but its ground truth stays readable
(``/sim/hosted/streams/{id}/truth``) until ``/sim/reset``, like a Scope session's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

from lab.sim.faults import Fault
from lab.sim.hosted.config import HostedConfig, HostedFault
from lab.sim.hosted.profile import PIPELINE, chain_for
from lab.sim.media.quality import QualityKnobs
from lab.sim.media.session import MediaSession

__all__ = ["HostedBook", "HostedStream", "scope_prompts"]

_REST_FAULTS = frozenset({"unauthorized", "rate_limited", "server_error"})


def _token(n: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def scope_prompts(prompt: Any) -> list[dict[str, Any]]:
    """The hosted ``prompt`` (a string or ``[[text, weight], ...]``) as the media path's prompts."""
    if isinstance(prompt, str):
        return [{"text": prompt, "weight": 1.0}]
    return [{"text": str(text), "weight": float(weight)} for text, weight in prompt or []]


@dataclass
class HostedStream:
    """One hosted stream: what the API reports, and its emulated media."""

    id: str
    body: dict[str, Any]
    startup_s: float
    never_ready: bool = False
    late_whep_s: float = 0.0
    stall: Fault | None = None  # the stall fault its output acts out, if any
    stream_key: str = field(default_factory=lambda: _token(20))
    playback_id: str = field(default_factory=lambda: _token(16))
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"))
    deleted: bool = False
    session: MediaSession | None = None
    whep_pc: RTCPeerConnection | None = None
    ingest_ns: int | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The stream's current params."""
        params: dict[str, Any] = self.body["params"]
        return params

    def ready_at_ns(self) -> int | None:
        """When the output is (or will be) ready; None before ingest or when it never will be."""
        if self.ingest_ns is None or self.never_ready:
            return None
        return self.ingest_ns + round(self.startup_s * 1e9)

    @property
    def state(self) -> str:
        """OFFLINE (no ingest), LOADING (starting up) or ONLINE, as the status route says."""
        ready = self.ready_at_ns()
        if self.ingest_ns is None:
            return "OFFLINE"
        return "ONLINE" if ready is not None and time.perf_counter_ns() >= ready else "LOADING"

    @property
    def whep_open(self) -> bool:
        """Whether the WHEP endpoint serves the output now."""
        ready = self.ready_at_ns()
        return ready is not None and time.perf_counter_ns() >= ready + round(self.late_whep_s * 1e9)

    def new_session(self, *, loopback: bool, seed: int, playback_delay_s: float) -> MediaSession:
        """The media session of the stream's first WHIP offer; the start-up clock starts."""
        initial = {"pipeline_ids": [PIPELINE], "input_mode": "video",
                   "prompts": scope_prompts(self.params.get("prompt", ""))}
        delay_ns = round(playback_delay_s * 1e9)
        faults = {"stall": self.stall} if self.stall is not None else {}
        self.session = MediaSession(f"{self.id}-media", chain_for(self.params), initial, faults,
                                    extra_delay_ns=lambda: delay_ns, loopback=loopback, seed=seed,
                                    quality=QualityKnobs())
        self.ingest_ns = time.perf_counter_ns()
        return self.session

    def update(self, params: dict[str, Any]) -> None:
        """Change only the params sent; a new prompt reaches the running session at its next step."""
        self.params.update(params)
        if "prompt" in params and self.session is not None:
            self.session.receive_update({"prompts": scope_prompts(params["prompt"])},
                                        time.perf_counter_ns(), "rest")

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The stream as the SDK's ``CreateStreamResponse`` / ``GetStreamByIDResponse`` has it."""
        return {
            "id": self.id, "pipeline": self.body["pipeline"], "params": self.params,
            "stream_key": self.stream_key, "created_at": self.created_at,
            "output_playback_id": self.playback_id, "name": self.body.get("name") or "",
            "author": "sim-user", "from_playground": False, "gateway_host": "simulator",
            "is_smoke_test": False, "whip_url": f"{base_url}/live/video-to-video/{self.stream_key}/whip",
        }

    async def close(self) -> None:
        """Close the output viewer and the media session (its truth stays)."""
        if self.whep_pc is not None:
            await self.whep_pc.close()
        if self.session is not None:
            await self.session.close()


class HostedBook:
    """Every hosted stream of one simulator, the accepted keys and the active faults."""

    def __init__(self, config: HostedConfig, speed: float) -> None:
        self.config = config
        self._speed = speed
        self._seeds = itertools.count(1000)
        self.streams: dict[str, HostedStream] = {}
        self._faults: list[list[Any]] = []
        self._start_fresh()

    def _start_fresh(self) -> None:
        self.streams = {}
        self._faults = [[fault, fault.count] for fault in self.config.faults]

    def accepts(self, key: str | None) -> bool:
        """Whether ``key`` is one of the configured API keys."""
        return key is not None and any(secrets.compare_digest(key, k) for k in self.config.api_keys)

    def add_fault(self, fault: HostedFault) -> None:
        """Activate a fault now."""
        self._faults.append([fault, fault.count])

    def active_faults(self) -> list[dict[str, Any]]:
        """What ``GET /sim/hosted`` lists."""
        return [{**fault.model_dump(), "remaining": left} for fault, left in self._faults]

    def take_rest_fault(self) -> HostedFault | None:
        """The REST fault this request meets, if any (one count of it is used)."""
        return self._take(lambda kind: kind in _REST_FAULTS)

    def create(self, body: dict[str, Any]) -> HostedStream:
        """A new stream from an accepted body, with its share of the stream faults."""
        never = self._take(lambda kind: kind == "never_ready")
        late = self._take(lambda kind: kind == "late_whep")
        stall = self._take(lambda kind: kind == "stall")
        stream = HostedStream(id=f"str_{_token(16)}", body=body, startup_s=self.config.startup_s / self._speed,
                              never_ready=never is not None, late_whep_s=late.delay_s if late else 0.0,
                              stall=Fault(kind="stall", after_s=stall.after_s, duration_s=stall.duration_s)
                              if stall else None)
        self.streams[stream.id] = stream
        return stream

    def get(self, stream_id: str) -> HostedStream | None:
        """The live (not deleted) stream with this id."""
        stream = self.streams.get(stream_id)
        return None if stream is None or stream.deleted else stream

    def by_key(self, stream_key: str) -> HostedStream | None:
        """The live stream whose WHIP/WHEP URLs carry this key."""
        return next((s for s in self.streams.values() if s.stream_key == stream_key and not s.deleted), None)

    def next_seed(self) -> int:
        """A seed for a new media session."""
        return next(self._seeds)

    async def delete(self, stream: HostedStream) -> None:
        """Tear a stream down; its truth stays readable."""
        stream.deleted = True
        await stream.close()

    async def reset(self) -> None:
        """Close and forget every stream; faults back to the startup config."""
        await self.aclose()
        self._start_fresh()

    async def aclose(self) -> None:
        """Close every stream's media."""
        await asyncio.gather(*(stream.close() for stream in self.streams.values()))

    def _take(self, wanted: Any) -> HostedFault | None:
        for entry in self._faults:
            fault, left = entry
            if wanted(fault.kind) and left > 0:
                entry[1] = left - 1
                self._faults = [e for e in self._faults if e[1] > 0]
                return fault  # type: ignore[no-any-return]
        return None
