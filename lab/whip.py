"""A WHIP and WHEP client for any endpoint: publish a video track, play one back (aiortc).

WHIP (RFC 9725) and WHEP are one small HTTP exchange each: ``POST`` the SDP offer as
``application/sdp``; the answer comes back in a ``201`` with a ``Location`` header naming
the session's resource, which a ``DELETE`` ends. aiortc gathers every ICE candidate before
``setLocalDescription`` returns, so the offer is complete (no trickle, no PATCH). When the
endpoint is on loopback, ICE offers 127.0.0.1 only (:func:`lab.loopback.restrict_to_loopback`),
so tests never leave the machine.

A WHEP endpoint may answer 404 while nothing is published yet (a stream still starting):
:func:`play` posts the offer again every ``retry_every_s`` until ``wait_s`` runs out.

Some services name the output's playback URL in a header of the WHIP answer (Daydream's
``Livepeer-Playback-Url``): :meth:`WhipSession.header` returns it, or a clear error.

Examples
--------
>>> async with httpx.AsyncClient() as http:                      # doctest: +SKIP
...     ingest = await publish(whip_url, track, http=http)
...     output = await play(ingest.header(PLAYBACK_HEADER), http=http, wait_s=120)
...     frame = await (await output.track()).recv()
...     await output.close(http); await ingest.close(http)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from lab.hosted_errors import MissingPlaybackUrlError, WhepNotReadyError, WhipAnswerError, WhipError
from lab.loopback import restrict_to_loopback
from lab.target import is_loopback_host

__all__ = ["PLAYBACK_HEADER", "SDP", "WhipSession", "play", "publish"]

SDP = "application/sdp"
PLAYBACK_HEADER = "livepeer-playback-url"
_NOT_PUBLISHED = 404


@dataclass
class WhipSession:
    """One WHIP or WHEP session: its peer connection, the answer's headers, its resource URL."""

    url: str
    pc: RTCPeerConnection
    headers: httpx.Headers
    resource_url: str | None
    offer_sent_ns: int = 0  # perf_counter_ns when the (last) offer went out, and when its answer came
    answered_ns: int = 0
    _track: asyncio.Future[MediaStreamTrack] = field(default_factory=asyncio.Future)

    def header(self, name: str) -> str:
        """A header of the answer that must be there (e.g. :data:`PLAYBACK_HEADER`)."""
        value = self.headers.get(name)
        if not value:
            raise MissingPlaybackUrlError(
                f"The WHIP answer from {self.url} has no {name!r} header, so the output's playback "
                "(WHEP) URL is unknown. The endpoint may not be the service's WHIP URL, or the "
                "service changed: read the stream's status for its WHEP URL instead.",
                url=self.url, status_code=201)
        return urljoin(self.url, value)

    async def track(self, timeout_s: float = 10.0) -> MediaStreamTrack:
        """The remote video track (WHEP), once the answer has announced it."""
        return await asyncio.wait_for(asyncio.shield(self._track), timeout_s)

    async def wait_connected(self, timeout_s: float = 15.0) -> None:
        """Wait until ICE and DTLS are up; :class:`WhipError` if they fail or time out."""
        deadline = time.monotonic() + timeout_s
        while self.pc.connectionState != "connected":
            if self.pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
                raise WhipError(f"The WebRTC connection of {self.url} did not connect within "
                                f"{timeout_s:g} s (state {self.pc.connectionState}).", url=self.url)
            await asyncio.sleep(0.05)

    async def close(self, http: httpx.AsyncClient, timeout_s: float = 5.0) -> None:
        """End the session: ``DELETE`` its resource (best effort) and close the connection."""
        try:
            if self.resource_url:
                await http.delete(self.resource_url, timeout=timeout_s)
        except httpx.HTTPError:
            pass  # the connection closes below either way; the server times the resource out
        finally:
            await self.pc.close()


async def publish(url: str, track: MediaStreamTrack, *, http: httpx.AsyncClient,
                  headers: Mapping[str, str] | None = None, timeout_s: float = 15.0) -> WhipSession:
    """Send ``track`` to a WHIP endpoint; return the session once the answer is applied."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(track, direction="sendonly")
    try:
        return await _negotiate(url, pc, http, headers, timeout_s)
    except BaseException:
        await pc.close()
        raise


async def play(url: str, *, http: httpx.AsyncClient, headers: Mapping[str, str] | None = None,
               timeout_s: float = 15.0, wait_s: float = 0.0, retry_every_s: float = 1.0) -> WhipSession:
    """Receive video from a WHEP endpoint, retrying its 404 ("nothing published yet") for ``wait_s``."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda t: t.kind == "video" and not track.done() and track.set_result(t))
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                session = await _negotiate(url, pc, http, headers, timeout_s)
                session._track = track
                return session
            except WhipError as exc:
                if exc.status_code != _NOT_PUBLISHED:
                    raise
                if time.monotonic() + retry_every_s > deadline:
                    raise WhepNotReadyError(url=url, waited_s=wait_s) from None
                await asyncio.sleep(retry_every_s)
    except BaseException:
        await pc.close()
        raise


async def _negotiate(url: str, pc: RTCPeerConnection, http: httpx.AsyncClient,
                     headers: Mapping[str, str] | None, timeout_s: float) -> WhipSession:
    if pc.localDescription is None:
        if is_loopback_host(urlsplit(url).hostname or ""):
            restrict_to_loopback(pc)
        await pc.setLocalDescription(await pc.createOffer())
    try:
        sent_ns = time.perf_counter_ns()
        answer = await http.post(url, content=pc.localDescription.sdp, timeout=timeout_s,
                                 headers={**(headers or {}), "Content-Type": SDP})
        answered_ns = time.perf_counter_ns()
    except httpx.HTTPError as exc:
        raise WhipError(f"Could not reach {url}: {type(exc).__name__}: {exc}. Check the URL and "
                        "that the service is up.", url=url) from exc
    if answer.status_code not in (200, 201):
        raise WhipError(f"{url} refused the offer with HTTP {answer.status_code}: {answer.text[:300]!r}",
                        url=url, status_code=answer.status_code)
    content_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if content_type != SDP or not answer.text.startswith("v=0"):
        raise WhipAnswerError(
            f"{url} answered HTTP {answer.status_code} with {content_type or 'no content type'}, not an "
            f"SDP answer ({SDP}): {answer.text[:120]!r}. Is this the WHIP/WHEP URL itself (not a web "
            "page or an API route)?", url=url, status_code=answer.status_code)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
    except ValueError as exc:
        raise WhipAnswerError(f"{url} answered an SDP that cannot be used: {exc}", url=url,
                              status_code=answer.status_code) from exc
    location = answer.headers.get("location")
    return WhipSession(url, pc, answer.headers, urljoin(url, location) if location else None, sent_ns, answered_ns)
