"""The server's own recording of a trial's session: a second view of what the server produced.

With ``record_server`` a trial asks Scope to record its session (``/api/v1/recordings``)
as soon as the session is open, and at the end stops the recording and downloads the MP4.
The client's frames say what arrived; the recording says what the server sent, so the two
counts side by side show frames produced but not received (or the reverse: repeats). A
server that cannot record (an older Scope, a refusal) does not fail the trial: the figure
then carries the reason.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av

from lab.client import ScopeClient
from lab.errors import ScopeError
from lab.stats import Figure

__all__ = ["ServerRecording", "finish_recording", "start_recording"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerRecording:
    """Where the downloaded recording is, what it holds, or why there is none."""

    path: Path | None = None
    frames: int | None = None
    duration_s: float | None = None
    error: str | None = None

    def figures(self) -> list[Figure]:
        """``server_recorded_frames`` and ``server_recorded_s`` (no value, with the reason, if none)."""
        warnings = () if self.error is None else (f"no server recording: {self.error}",)
        note = "frames in the server's own recording of the session (all of its segments)"
        return [
            Figure("server_recorded_frames", None if self.frames is None else float(self.frames), "count",
                   1, note=note, warnings=warnings),
            Figure("server_recorded_s", self.duration_s, "s", 1,
                   note="span of the recording's frame timestamps", warnings=warnings),
        ]


async def start_recording(client: ScopeClient, session_id: str) -> str | None:
    """Ask the server to record ``session_id``; the reason when it will not (else None)."""
    try:
        status = await client.start_recording(session_id)
    except ScopeError as exc:
        return str(exc)
    return None if status in ("started", "already_recording") else f"the server answered {status!r}"


async def finish_recording(client: ScopeClient, session_id: str, started_error: str | None) -> ServerRecording:
    """Stop the recording and download it to a temporary file (the store moves it into the run)."""
    if started_error is not None:
        return ServerRecording(error=started_error)
    with tempfile.NamedTemporaryFile(prefix="scope-recording-", suffix=".mp4", delete=False) as file:
        path = Path(file.name)
    try:
        await client.stop_recording(session_id)
        await client.download_recording(session_id, path)
    except (ScopeError, OSError) as exc:
        path.unlink(missing_ok=True)  # no half-written file left behind
        log.info("session %s: no server recording: %s", session_id, exc)
        return ServerRecording(error=str(exc))
    try:
        frames, duration_s = _count_frames(path)
    except (av.FFmpegError, OSError) as exc:
        return ServerRecording(path=path, error=f"the recording could not be read: {exc}")
    return ServerRecording(path=path, frames=frames, duration_s=duration_s)


def _count_frames(path: Path) -> tuple[int, float | None]:
    """Video packets in the file (one per frame) and the span of their timestamps, without decoding."""
    times: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None:
                times.append(float(packet.pts * stream.time_base))
    span = max(times) - min(times) if times else None
    return len(times), span
