"""The root of every deliberate error, and those of Scope targets (the hosted API's are in
:mod:`lab.hosted_errors`, RunPod's in :mod:`lab.pods.errors`, the store's in :mod:`lab.store`).

Each message says what was tried, what happened, and what to do about it. Errors carry
their context (URL, status, pipeline id) as attributes so that callers such as
``lab doctor`` can turn them into table rows without parsing text.

Hierarchy::

    LabError
    ├── TargetError                 the target string is not a URL, pod id or "sim"
    └── ScopeError                  talking to a Scope server failed
        ├── TransportError          no usable answer came back
        │   ├── UnreachableError    DNS, refused, TLS, connect timeout, dropped connection
        │   └── ResponseTimeout     connected, but the answer took too long
        ├── PodNotReadyError        a proxy (RunPod) answered for a pod that is not serving
        ├── NotScopeError           something answered, but not Scope's API (HTML, odd JSON)
        ├── ServerError             Scope answered with an error status and its own detail
        ├── UnknownPipelineError    the pipeline id is not one the server lists
        ├── InvalidParametersError  load parameters the pipeline's schema does not accept
        ├── ModelsNotDownloadedError the pipeline's models are not on the server yet
        ├── DownloadError           a model download failed or stalled
        ├── PipelineLoadError       a load ended in ``error`` (or never finished)
        └── StreamError             a WebRTC or headless session failed
            ├── ConnectionFailedError   ICE/DTLS did not connect within the timeout
            ├── StreamStoppedError      the server sent ``stream_stopped``
            ├── StreamStalledError      no output frame arrived for too long
            └── NoServerInputError      a headless session needs video the server cannot play
    └── QualityModelError           an embedding model for the quality figures is unavailable
        ├── QualityExtraMissingError    torch/transformers are not installed
        └── ModelWeightsMissingError    the model's weights are not in the Hugging Face cache
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "server_log_text",
    "LabError",
    "TargetError",
    "ScopeError",
    "TransportError",
    "UnreachableError",
    "ResponseTimeout",
    "PodNotReadyError",
    "NotScopeError",
    "ServerError",
    "UnknownPipelineError",
    "InvalidParametersError",
    "ModelsNotDownloadedError",
    "DownloadError",
    "PipelineLoadError",
    "StreamError",
    "ConnectionFailedError",
    "StreamStoppedError",
    "StreamStalledError",
    "NoServerInputError",
    "QualityModelError",
    "QualityExtraMissingError",
    "ModelWeightsMissingError",
]


class LabError(Exception):
    """Base of every error the workbench raises deliberately."""


class TargetError(LabError, ValueError):
    """The target could not be understood as a URL, a RunPod pod id or ``sim``."""

    def __init__(self, message: str, *, target: str) -> None:
        super().__init__(message)
        self.target = target


def server_log_text(lines: Sequence[str]) -> str:
    """The server's own log lines as the tail of an error message ("" when there are none)."""
    if not lines:
        return ""
    return "\nThe server's log (GET /api/v1/logs/tail) says:" + "".join(f"\n    {line}" for line in lines)


class ScopeError(LabError):
    """A request to a Scope server did not give a usable answer.

    Parameters
    ----------
    message:
        The full sentence shown to the user.
    url:
        The URL that was requested (or the server's base URL).

    ``server_log`` holds the lines of the server's own log that explain the failure, when
    the workbench could read them (see :meth:`ScopeClient.log_excerpt`); they are also at
    the end of the message.
    """

    server_log: tuple[str, ...] = ()

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url

    def add_server_log(self, lines: Sequence[str]) -> None:
        """Attach the server's log lines that explain this failure (message and ``server_log``)."""
        new = tuple(line for line in lines if line not in self.server_log)
        if new:
            self.server_log += new
            self.args = (f"{self.args[0]}{server_log_text(new)}", *self.args[1:])


class TransportError(ScopeError):
    """No HTTP answer came back at all."""


class UnreachableError(TransportError):
    """The server could not be reached (``reason``: dns, refused, tls, timeout, dropped)."""

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message, url=url)
        self.reason = reason


class ResponseTimeout(TransportError):
    """The server accepted the request but did not answer within the timeout."""

    def __init__(self, message: str, *, url: str, timeout_s: float | None) -> None:
        super().__init__(message, url=url)
        self.timeout_s = timeout_s


class PodNotReadyError(ScopeError):
    """A proxy answered instead of Scope: the pod is starting, stopped, or the port is wrong."""

    def __init__(self, message: str, *, url: str, status_code: int) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class NotScopeError(ScopeError):
    """Something answered, but not the way Scope's API does."""

    def __init__(self, message: str, *, url: str, status_code: int) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class ServerError(ScopeError):
    """Scope answered with an error status; ``detail`` is the server's own explanation."""

    def __init__(self, message: str, *, url: str, status_code: int, detail: object) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code
        self.detail = detail


class UnknownPipelineError(ScopeError):
    """The requested pipeline id is not in the server's ``/api/v1/pipelines/schemas``."""

    def __init__(self, pipeline_id: str, *, url: str, known: Sequence[str]) -> None:
        listed = ", ".join(known) if known else "(none)"
        super().__init__(
            f"Pipeline {pipeline_id!r} is not offered by the server at {url}. "
            f"It lists: {listed}. Pick one of those ids; generative pipelines appear only "
            "on a server with a CUDA GPU, and plugin pipelines only once installed.",
            url=url,
        )
        self.pipeline_id = pipeline_id
        self.known = list(known)


class InvalidParametersError(ScopeError):
    """Load parameters that the pipeline's schema rejects; ``problems`` lists each one."""

    def __init__(self, pipeline_id: str, problems: Sequence[str], *, url: str) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"Load parameters for {pipeline_id!r} were not sent because the server's "
            f"schema for it does not accept them:\n{lines}\n"
            "Fix these values (the schema is in /api/v1/pipelines/schemas) and load again.",
            url=url,
        )
        self.pipeline_id = pipeline_id
        self.problems = list(problems)


class ModelsNotDownloadedError(ScopeError):
    """The pipeline needs model files that the server has not downloaded yet."""

    def __init__(self, pipeline_id: str, *, url: str) -> None:
        super().__init__(
            f"The models for {pipeline_id!r} are not downloaded on the server at {url}. "
            "Download them first: `await client.download_models(pipeline_id)` in Python, "
            f"`download_models --pipeline {pipeline_id}` on the pod, or pass "
            "download_missing=True to load_pipeline. Large pipelines take minutes.",
            url=url,
        )
        self.pipeline_id = pipeline_id


class DownloadError(ScopeError):
    """A model download reported an error or did not finish in time."""

    def __init__(self, message: str, *, url: str, pipeline_id: str) -> None:
        super().__init__(message, url=url)
        self.pipeline_id = pipeline_id


class PipelineLoadError(ScopeError):
    """A pipeline load failed; ``stage`` is the last loading stage seen, if any.

    Scope reports a failed load only once and without text (the reason goes to its log),
    so ``server_error`` is usually ``None``; ``server_log`` holds the log lines written
    since the load began that explain it, and ``likely_causes`` what the client could
    infer from VRAM and model status.
    """

    def __init__(
        self,
        pipeline_id: str,
        *,
        url: str,
        stage: str | None,
        server_error: str | None,
        likely_causes: Sequence[str] = (),
        elapsed_s: float | None = None,
        timed_out: bool = False,
        server_log: Sequence[str] = (),
    ) -> None:
        where = f"at stage {stage!r}" if stage else "before any loading stage was reported"
        if timed_out:
            head = f"Loading {pipeline_id!r} on {url} did not finish within {elapsed_s:.0f} s ({where})."
        else:
            head = f"Loading {pipeline_id!r} on {url} failed {where}."
        if server_error:
            said = f" The server said: {server_error}."
        elif server_log:
            said = " The load status gave no reason; the server's log below does."
        else:
            said = (" The server gave no reason (Scope writes load errors only to its log, and "
                    "GET /api/v1/logs/tail gave nothing about it).")
        causes = "".join(f"\n  - {c}" for c in likely_causes)
        tail = f"\nLikely causes:{causes}" if likely_causes else ""
        super().__init__(head + said + tail, url=url)
        self.add_server_log(server_log)
        self.pipeline_id = pipeline_id
        self.stage = stage
        self.server_error = server_error
        self.likely_causes = list(likely_causes)
        self.elapsed_s = elapsed_s
        self.timed_out = timed_out


class StreamError(ScopeError):
    """A WebRTC or headless session failed; ``session_id`` is the server's id if known."""

    def __init__(self, message: str, *, url: str, session_id: str | None) -> None:
        super().__init__(message, url=url)
        self.session_id = session_id


class ConnectionFailedError(StreamError):
    """ICE or DTLS did not reach ``connected``; ``state`` is the last connection state."""

    def __init__(self, *, url: str, session_id: str | None, state: str, timeout_s: float,
                 has_turn: bool, loopback: bool) -> None:
        if loopback:
            cause = ("Both peers are on this machine, so this should not happen: check that "
                     "nothing blocks UDP on 127.0.0.1 and that the server is not overloaded.")
        elif not has_turn:
            cause = ("The server offers no TURN relay (its /api/v1/webrtc/ice-servers has none), "
                     "and a pod behind RunPod's proxy usually cannot be reached without one. Set "
                     "HF_TOKEN (a HuggingFace token with read permission) in the pod's environment "
                     "and restart it, so Scope fetches Cloudflare TURN credentials.")
        else:
            cause = ("The server offers a TURN relay, yet no path worked. Its TURN credentials are "
                     "fetched once at server start and expire after 10 minutes in Scope 0.2.4: "
                     "restart Scope, check that HF_TOKEN has read permission, and that outbound "
                     "UDP/TCP to the TURN server is allowed here.")
        super().__init__(
            f"The WebRTC connection to {url} did not connect within {timeout_s:g} s "
            f"(last state: {state}). {cause}",
            url=url,
            session_id=session_id,
        )
        self.state = state
        self.timeout_s = timeout_s


class StreamStoppedError(StreamError):
    """The server said the stream stopped (``stream_stopped``), with its text if any."""

    def __init__(self, *, url: str, session_id: str | None, server_message: str | None) -> None:
        said = f"The server said: {server_message}." if server_message else (
            "It gave no reason (Scope 0.2.4 never fills error_message; its log has the cause).")
        super().__init__(
            f"The server stopped session {session_id} on {url}. {said} Frames received so "
            "far are kept; open a new session to continue.",
            url=url,
            session_id=session_id,
        )
        self.server_message = server_message


class StreamStalledError(StreamError):
    """No output frame arrived for ``stalled_s`` seconds while the connection stayed up."""

    def __init__(self, *, url: str, session_id: str | None, stalled_s: float, frames: int) -> None:
        super().__init__(
            f"No output frame arrived from {url} for {stalled_s:.1f} s (session {session_id}, "
            f"{frames} frames before that) although the connection is up. The output track is "
            "dead or the pipeline is stuck: on Scope 0.2.4, pausing and unpausing leaves the "
            "video output dead for the rest of the session. Open a new session.",
            url=url,
            session_id=session_id,
        )
        self.stalled_s = stalled_s
        self.frames = frames


class QualityModelError(LabError):
    """An embedding model for the quality figures cannot be used; ``model_id`` names it."""

    def __init__(self, message: str, *, model_id: str) -> None:
        super().__init__(message)
        self.model_id = model_id


class QualityExtraMissingError(QualityModelError, ImportError):
    """torch or transformers is missing: the optional extra ``scope-lab[quality]``."""


class ModelWeightsMissingError(QualityModelError):
    """The model's weights are not in the Hugging Face cache and may not be downloaded."""


class NoServerInputError(StreamError):
    """A headless video-to-video session needs a server-side ``video_file`` input source."""

    def __init__(self, *, url: str, available: Sequence[str]) -> None:
        have = ", ".join(available) or "none"
        super().__init__(
            f"A headless session in video mode reads its input on the server, from an input "
            f"source; {url} offers no video_file source (available: {have}). Measure this "
            "pipeline over WebRTC (--via webrtc), in text mode, or on a server whose "
            "/api/v1/input-sources lists video_file as available.",
            url=url, session_id=None)
        self.available = list(available)
