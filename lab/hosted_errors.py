"""The errors of Daydream's hosted API (:mod:`lab.hosted`) and of WHIP/WHEP (:mod:`lab.whip`).

They are :class:`~lab.errors.LabError`\\ s like every deliberate error of the workbench, kept
beside :mod:`lab.errors` (which is at its length limit). Each message says what was tried,
what happened and what to do. None of them ever holds the API key: messages are built from
the API's answers, which never echo it, and pass through :func:`lab.redact.redact`.

Hierarchy::

    LabError
    ├── HostedError                 the hosted API did not do what was asked
    │   ├── HostedKeyError          DAYDREAM_API_KEY missing, or refused (401/403)
    │   ├── HostedParamsError       params the API (or its SDK) rejects, field by field
    │   │   └── HostedModelError    a model id the API does not offer
    │   ├── HostedRateLimitError    429 still, after the retries Retry-After allowed
    │   ├── HostedServerError       another error status (5xx, 404, ...), with the API's text
    │   ├── HostedUnreachableError  no answer at all (DNS, refused, timeout)
    │   └── StreamNotReadyError     the stream's output did not become ready in time
    └── WhipError                   a WHIP or WHEP exchange failed (any endpoint)
        ├── WhipAnswerError         the answer is not an SDP answer
        ├── MissingPlaybackUrlError the WHIP answer has no playback URL header
        └── WhepNotReadyError       the WHEP endpoint kept answering 404
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.errors import LabError
from lab.redact import redact

__all__ = [
    "HostedError", "HostedKeyError", "HostedParamsError", "HostedModelError",
    "HostedRateLimitError", "HostedServerError", "HostedUnreachableError", "StreamNotReadyError",
    "WhipError", "WhipAnswerError", "MissingPlaybackUrlError", "WhepNotReadyError",
]


class HostedError(LabError):
    """A request to the hosted API failed; ``url`` is what was requested."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(redact(message))
        self.url = url


class HostedKeyError(HostedError):
    """The API key is missing (``reason="missing"``) or the API refused it (``"rejected"``)."""

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message, url=url)
        self.reason = reason


class HostedParamsError(HostedError):
    """Stream params that were refused; ``problems`` has one ``"field: message"`` per problem."""

    def __init__(self, problems: Sequence[str], *, url: str, by: str = "the API") -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The stream params were refused by {by}:\n{lines}\n"
                         "Fix these fields and try again.", url=url)
        self.problems = list(problems)


class HostedModelError(HostedParamsError):
    """The params name a model the API does not offer."""

    def __init__(self, model_id: str, offered: Sequence[str], *, url: str) -> None:
        HostedError.__init__(self, f"Model {model_id!r} is not offered by the hosted API at {url}. "
                             f"It offers: {', '.join(offered)}. Set params.model_id to one of them.", url=url)
        self.problems = [f"params.model_id: {model_id!r} is not offered"]
        self.model_id = model_id
        self.offered = list(offered)


class HostedRateLimitError(HostedError):
    """The API kept answering 429; ``retry_after_s`` is what it last asked to wait."""

    def __init__(self, message: str, *, url: str, retry_after_s: float | None) -> None:
        super().__init__(message, url=url)
        self.retry_after_s = retry_after_s


class HostedServerError(HostedError):
    """The API answered an error status; ``detail`` is its own text."""

    def __init__(self, message: str, *, url: str, status_code: int, detail: object) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code
        self.detail = redact(detail)


class HostedUnreachableError(HostedError):
    """No answer came back from the API."""


class StreamNotReadyError(HostedError):
    """A stream's output did not become ready within ``waited_s``; ``state`` is its last state."""

    def __init__(self, stream_id: str, *, url: str, waited_s: float, state: str | None) -> None:
        super().__init__(f"Stream {stream_id} on {url} was not ready after {waited_s:.0f} s "
                         f"(last state: {state or 'unknown'}). Hosted streams can take minutes to "
                         "start: wait longer (timeout), or delete it and create a new one.", url=url)
        self.stream_id = stream_id
        self.waited_s = waited_s
        self.state = state


class WhipError(LabError):
    """A WHIP or WHEP exchange with ``url`` failed; ``status_code`` when an answer came."""

    def __init__(self, message: str, *, url: str, status_code: int | None = None) -> None:
        super().__init__(redact(message))
        self.url = url
        self.status_code = status_code


class WhipAnswerError(WhipError):
    """The endpoint answered, but not with an SDP answer."""


class MissingPlaybackUrlError(WhipError):
    """The WHIP answer lacks the header that names the output's playback (WHEP) URL."""


class WhepNotReadyError(WhipError):
    """The WHEP endpoint answered 404 (nothing published yet) until ``waited_s`` ran out."""

    def __init__(self, *, url: str, waited_s: float) -> None:
        super().__init__(f"The WHEP endpoint {url} still had no output to play after {waited_s:.0f} s "
                         "(it answered 404: nothing is published there yet). The stream may still be "
                         "starting: wait longer, or check the stream's status.", url=url, status_code=404)
        self.waited_s = waited_s
