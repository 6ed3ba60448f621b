"""Fault injection: what can go wrong on purpose, and the book of faults currently active.

A :class:`Fault` is one kind of failure, the paths it applies to and how many times it fires.
HTTP faults (``http_error``, ``html``, ``slow``, ``drop``) act on requests (see
:mod:`lab.sim.middleware`); load faults (``load_error``, ``oom``, ``offline``) make pipeline
loads fail and write the reason to the simulator's log, as a real server does (see
:mod:`lab.sim.loader`); media faults (``stream_stopped``, ``stall``,
``dead_after_unpause``, ``ice_fail``) act on the WebRTC sessions opened while they are
active (see :mod:`lab.sim.media`). The CLI takes faults as ``kind:key=value,key=value`` specs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Fault",
    "FaultBook",
    "FaultKind",
    "HTTP_FAULT_KINDS",
    "LOAD_FAULT_KINDS",
    "MEDIA_FAULT_KINDS",
    "DIFFUSION_STAGE",
    "SIM_PATH_PREFIX",
    "parse_fault_spec",
]

FaultKind = Literal[
    "http_error", "html", "slow", "drop", "load_error", "oom", "offline",
    "stream_stopped", "stall", "dead_after_unpause", "ice_fail",
]
HTTP_FAULT_KINDS: frozenset[str] = frozenset({"http_error", "html", "slow", "drop"})
LOAD_FAULT_KINDS: frozenset[str] = frozenset({"load_error", "oom", "offline"})
MEDIA_FAULT_KINDS: frozenset[str] = frozenset(
    {"stream_stopped", "stall", "dead_after_unpause", "ice_fail"}
)
DIFFUSION_STAGE = "Loading diffusion model..."
SIM_PATH_PREFIX = "/sim/"
_DEFAULT_STATUS = {"http_error": 500, "html": 502}


class Fault(BaseModel):
    """One injected failure.

    Parameters
    ----------
    kind
        ``http_error``: answer ``{"detail": message}`` with ``status`` (default 500).
        ``html``: answer a reverse proxy's HTML error page with ``status`` (default 502).
        ``slow``: wait ``delay_s`` seconds (real seconds, not scaled by speed), then answer.
        ``drop``: start a 200 response and close the connection before the body is complete.
        ``load_error``: the next loads fail at loading stage ``stage``.
        ``oom``: the next loads fail at ``"Loading diffusion model..."`` (out of memory).
        ``offline``: the next loads fail at ``stage`` as on a server without internet
        access whose pipeline fetches weights while loading (a name-resolution error).
        A load fault hits every load request, even one for what is already loaded.
        Media faults act on the next WebRTC sessions (each new session uses up one count of
        every active media fault; times are real seconds, not scaled by speed):
        ``stream_stopped``: ``after_s`` seconds after the session's first output frame, the
        server sends ``{"type": "stream_stopped", "error_message": message}`` on the data
        channel (without ``error_message`` when there is no message, like Scope) and ends
        the output track.
        ``stall``: ``after_s`` seconds after the first output frame, no frame at all is sent
        for ``duration_s`` seconds; frames that became ready meanwhile are dropped, then
        output goes on (one stall per session, for exact stall counting).
        ``dead_after_unpause``: Scope 0.2.4's bug: after ``{"paused": true}`` then
        ``{"paused": false}``, the video output stays dead for the rest of the session
        while the connection stays up.
        ``ice_fail``: the answer's ICE candidates (and the offer's, as the server reads
        them) point at a loopback port where nothing answers, so the client's ICE never
        connects. Everything stays on 127.0.0.1.
    paths
        Path prefixes the HTTP fault applies to; ``None`` means every Scope path. ``/sim/``
        paths are never affected.
    count
        How many matching requests (or loads, or sessions) it affects before it expires;
        ``None`` means until the faults are cleared.
    status
        HTTP status of ``http_error`` (default 500) and ``html`` (default 502).
    delay_s
        How long ``slow`` waits.
    message
        ``http_error``: the detail text. Load faults: text for the status ``error`` field,
        which otherwise stays null as in real Scope; ``load_error`` also logs it as the
        exception's text.
    stage
        The loading stage at which ``load_error`` fails. A pipeline without loading stages
        (the CPU ones) fails right away whatever the stage.
    after_s
        Seconds of streaming before ``stream_stopped`` or ``stall`` strikes.
    duration_s
        How long a ``stall`` lasts.
    """

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    paths: list[str] | None = None
    count: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=100, le=599)
    delay_s: float = Field(default=2.0, ge=0)
    message: str | None = None
    stage: str = DIFFUSION_STAGE
    after_s: float = Field(default=1.0, ge=0)
    duration_s: float = Field(default=2.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("status") is None:
            status = _DEFAULT_STATUS.get(str(data.get("kind")))
            if status is not None:
                data = {**data, "status": status}
        return data

    @model_validator(mode="after")
    def _check_oom_stage(self) -> Fault:
        if self.kind == "oom" and self.stage != DIFFUSION_STAGE:
            raise ValueError(f"an oom fault always fails at {DIFFUSION_STAGE!r}; use load_error")
        return self

    def applies_to(self, path: str) -> bool:
        """Whether this HTTP fault covers a request path (never a ``/sim/`` path)."""
        if path.startswith(SIM_PATH_PREFIX) or path == SIM_PATH_PREFIX.rstrip("/"):
            return False
        return self.paths is None or any(path.startswith(prefix) for prefix in self.paths)


class FaultBook:
    """The active faults, in the order they were added; each use counts one down."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._faults: list[Fault] = list(faults or [])

    def add(self, fault: Fault) -> None:
        """Activate a fault after those already active."""
        self._faults.append(fault)

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        """The active faults as JSON; ``count`` is how many uses are left."""
        return [fault.model_dump(mode="json") for fault in self._faults]

    def take_http(self, path: str) -> Fault | None:
        """Use up the first HTTP fault that covers ``path``, if any."""
        return self._take(lambda f: f.kind in HTTP_FAULT_KINDS and f.applies_to(path))

    def take_load(self) -> Fault | None:
        """Use up the first load fault, if any."""
        return self._take(lambda f: f.kind in LOAD_FAULT_KINDS)

    def take_media(self) -> dict[str, Fault]:
        """Use up the first active fault of each media kind, for a new session, by kind."""
        taken: dict[str, Fault] = {}
        for kind in sorted(MEDIA_FAULT_KINDS):
            # _take calls the predicate before the loop moves on, so binding kind is safe.
            fault = self._take(lambda f: f.kind == kind)  # noqa: B023
            if fault is not None:
                taken[kind] = fault
        return taken

    def _take(self, matches: Callable[[Fault], bool]) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if matches(fault):
                if fault.count is None:
                    return fault
                if fault.count == 1:
                    del self._faults[index]
                else:
                    self._faults[index] = fault.model_copy(update={"count": fault.count - 1})
                return fault
        return None


def parse_fault_spec(spec: str) -> Fault:
    """Parse a fault given on the command line.

    Parameters
    ----------
    spec
        ``kind`` or ``kind:key=value,key=value``. Keys are :class:`Fault` fields; ``paths``
        takes several prefixes separated by ``|``. A JSON object (``{"kind": ...}``) is also
        accepted, for values that contain commas.

    Returns
    -------
    Fault

    Raises
    ------
    ValueError
        If the spec is malformed or names an unknown kind or key; the message shows the syntax.

    Examples
    --------
    >>> fault = parse_fault_spec("http_error:status=503,count=2,paths=/health|/api/v1/pipeline")
    >>> fault.kind, fault.status, fault.count, fault.paths
    ('http_error', 503, 2, ['/health', '/api/v1/pipeline'])
    """
    text = spec.strip()
    try:
        if text.startswith("{"):
            return Fault.model_validate(json.loads(text))
        kind, _, rest = text.partition(":")
        fields: dict[str, Any] = {"kind": kind.strip()}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"{item!r} is not key=value")
            fields[key.strip()] = value.split("|") if key.strip() == "paths" else value
        return Fault.model_validate(fields)
    except ValueError as exc:  # includes pydantic's ValidationError and bad JSON
        raise ValueError(
            f"Invalid fault spec {spec!r}: {exc}. Use kind[:key=value,...] with kind one of "
            "http_error, html, slow, drop, load_error, oom, offline, stream_stopped, stall, "
            "dead_after_unpause, ice_fail and keys paths (a|b), count, status, delay_s, "
            "message, stage, after_s, duration_s; e.g. 'html:status=502,count=3' or "
            "'stall:after_s=1,duration_s=2'."
        ) from exc
