"""Why a request got no answer: turn httpx's transport failures into errors that say what to check.

Connection refused, DNS and TLS failures become :class:`~lab.errors.UnreachableError` with a
``reason``; a server that accepted the connection but did not answer in time becomes
:class:`~lab.errors.ResponseTimeout`. The exchange (:mod:`lab.http.exchange`) retries the
reasons that can heal in seconds.
"""

from __future__ import annotations

import ssl

import httpx

from lab.errors import ResponseTimeout, ScopeError, UnreachableError
from lab.target import RUNPOD_PROXY_SUFFIX, SCOPE_PORT

__all__ = ["transport_error"]


def transport_error(exc: httpx.TransportError, url: str) -> ScopeError:
    """Turn an httpx transport failure into an error that says what to check."""
    request_url = httpx.URL(url)
    host, port = request_url.host, request_url.port or (443 if request_url.scheme == "https" else 80)
    where = f"{host}:{port}"
    text = f"{exc!r} {_cause_chain(exc)}".lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return UnreachableError(
            f"Could not connect to {where} within the connect timeout. The host may be "
            "down or firewalled, or a new pod is still being created; check the address "
            "and try again in a minute.",
            url=url,
            reason="timeout",
        )
    if isinstance(exc, httpx.TimeoutException):
        timeout_s = _timeout_of(exc)
        return ResponseTimeout(
            f"{exc.request.method} {url} got no answer within {timeout_s} s. The server "
            "accepted the connection but is busy or stuck; try again, or pass a larger "
            "timeout to ScopeClient.",
            url=url,
            timeout_s=timeout_s,
        )
    if any(s in text for s in ("name or service not known", "nodename nor servname",
                               "getaddrinfo failed", "temporary failure in name resolution",
                               "no address associated")):
        hint = (" A RunPod proxy name exists only while the pod does: check the pod id in "
                "the RunPod console.") if host.endswith(RUNPOD_PROXY_SUFFIX) else ""
        return UnreachableError(
            f"Cannot resolve the host name {host!r}. Check its spelling.{hint}",
            url=url,
            reason="dns",
        )
    if isinstance(_find_cause(exc, ssl.SSLError), ssl.SSLError) or "ssl" in text or "certificate" in text:
        return UnreachableError(
            f"The TLS handshake with {where} failed ({_short(exc)}). A local Scope speaks "
            "plain http:// (not https://); RunPod proxy URLs use https://.",
            url=url,
            reason="tls",
        )
    if isinstance(exc, httpx.ConnectError):
        return UnreachableError(
            f"Nothing accepted a connection at {where} ({_short(exc)}). Is Scope running "
            f"there? It listens on port {SCOPE_PORT} by default (on a pod, started with "
            "--host 0.0.0.0). For the built-in simulator use the target 'sim' or run "
            "`lab sim`.",
            url=url,
            reason="refused",
        )
    return UnreachableError(
        f"The connection to {where} was closed before a complete answer arrived "
        f"({_short(exc)}). The server may be restarting or have crashed, or a proxy cut "
        "the connection; try again, and check the server's log if it keeps happening.",
        url=url,
        reason="dropped",
    )


def _timeout_of(exc: httpx.TimeoutException) -> float | None:
    try:
        timeouts = exc.request.extensions.get("timeout", {})
    except RuntimeError:
        return None
    kind = {"ReadTimeout": "read", "WriteTimeout": "write", "PoolTimeout": "pool"}.get(type(exc).__name__, "read")
    value = timeouts.get(kind)
    return float(value) if value is not None else None


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _cause_chain(exc: BaseException) -> str:
    parts = []
    seen = exc.__cause__ or exc.__context__
    while seen is not None and len(parts) < 5:
        parts.append(repr(seen))
        seen = seen.__cause__ or seen.__context__
    return " ".join(parts)


def _short(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
