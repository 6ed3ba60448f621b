"""One HTTP exchange with a Scope server: send, retry what is transient, classify failures.

This module turns httpx's exceptions and unexpected answers into the errors of
:mod:`lab.errors`, each with a message that says what to do. It knows nothing about
Scope's endpoints; :mod:`lab.client` does.

What counts as transient (retried with bounded exponential backoff): connection failures,
dropped connections, and HTTP 502/503/504 (what a proxy says while the server behind it is
restarting). Everything else fails at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from lab.errors import (
    NotScopeError,
    PodNotReadyError,
    ResponseTimeout,
    ScopeError,
    ServerError,
    UnreachableError,
)
from lab.target import RUNPOD_PROXY_SUFFIX, SCOPE_PORT

__all__ = ["RetryPolicy", "DEFAULT_TIMEOUT", "Exchange", "transport_error"]

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({502, 503, 504})
# DNS and TLS failures do not heal in seconds; these may (a restarting server or proxy).
RETRIED_REASONS = frozenset({"refused", "timeout", "dropped"})
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: at most ``attempts`` tries within ``budget_s``."""

    attempts: int = 4
    budget_s: float = 15.0
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 2.0

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that tries once."""
        return cls(attempts=1)


class _Transient(Exception):
    """Marks a classified error as worth retrying; unwrapped before it reaches callers."""

    def __init__(self, error: ScopeError) -> None:
        super().__init__(str(error))
        self.error = error


class Exchange:
    """Sends requests to one base URL through an ``httpx.AsyncClient`` and checks answers.

    Parameters
    ----------
    http:
        The client to send with; its ``base_url`` is the Scope server.
    retry:
        Retry policy for transient failures.
    """

    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry

    async def send(
        self,
        method: str,
        path: str,
        *,
        expect_json: bool = True,
        retry: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send ``method path`` and return a successful response, or raise a ScopeError.

        ``retry=False`` tries once (for requests that must not be repeated). With
        ``expect_json`` a 2xx answer that is not JSON raises :class:`NotScopeError`.
        """
        policy = self.retry if retry else RetryPolicy.none()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.budget_s),
            wait=wait_random_exponential(multiplier=policy.initial_backoff_s, max=policy.max_backoff_s),
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, path, expect_json, kwargs)
        except _Transient as exc:
            raise exc.error from exc.__cause__
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    @contextlib.asynccontextmanager
    async def stream(self, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """``GET path`` as a live stream (``output.ts``), tried once: the caller reads its
        body as it comes, inside the block. An error status, or a transport failure (also
        one while the body is read), raises the error :meth:`send` would."""
        url = str(self.http.base_url.join(path))
        try:
            async with self.http.stream("GET", path, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    error = classify_response(response, expect_json=False)
                    if error is not None:
                        raise error
                yield response
        except httpx.TransportError as exc:
            raise transport_error(exc, url) from exc

    async def _send_once(
        self, method: str, path: str, expect_json: bool, kwargs: dict[str, Any]
    ) -> httpx.Response:
        url = str(self.http.base_url.join(path))
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            error = transport_error(exc, url)
            if isinstance(error, UnreachableError) and error.reason in RETRIED_REASONS:
                raise _Transient(error) from exc
            raise error from exc
        error = classify_response(response, expect_json=expect_json)
        if error is None:
            return response
        if response.status_code in TRANSIENT_STATUSES:
            log.debug("transient %s from %s; may retry", response.status_code, url)
            raise _Transient(error)
        raise error


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


def classify_response(response: httpx.Response, *, expect_json: bool = True) -> ScopeError | None:
    """Return the error an answer amounts to, or None when it is a usable answer."""
    url = str(response.request.url)
    status = response.status_code
    if _looks_like_html(response) and (expect_json or status >= 400):
        return _html_error(response, url)
    body = _json_or_none(response)
    if status < 400:
        if expect_json and body is _NOT_JSON:
            return NotScopeError(
                f"{url} answered with {response.headers.get('content-type', 'no content type')} "
                f"instead of JSON ({_preview(response)!r}). This is not Scope's API: check "
                f"the URL and port (Scope uses {SCOPE_PORT}).",
                url=url,
                status_code=status,
            )
        return None
    if isinstance(body, dict) and "detail" in body:
        return _server_error(response, url, body["detail"])
    if status in TRANSIENT_STATUSES:
        return PodNotReadyError(
            f"{url} answered {status} {response.reason_phrase} without Scope's JSON: a proxy "
            "is in front of a server that is not answering. The pod may still be starting "
            "(first boot downloads models for minutes) or Scope may have crashed; wait and "
            "retry, and check the pod's logs.",
            url=url,
            status_code=status,
        )
    return NotScopeError(
        f"{url} answered {status} with {_preview(response)!r}, which is not how Scope "
        "reports errors (it sends JSON with 'detail'). Check that the URL points at Scope.",
        url=url,
        status_code=status,
    )


def _server_error(response: httpx.Response, url: str, detail: object) -> ServerError:
    status = response.status_code
    method = response.request.method
    if status == 404 and detail == "Frontend not built":
        advice = (
            " Scope answers this for paths it has no route for, so this server is "
            "probably a different Scope version than the workbench knows (0.2.4)."
        )
    elif status == 422:
        advice = " The request did not pass the server's validation: " + _validation_text(detail)
    elif status >= 500:
        advice = " This is an error inside the server; its log (GET /api/v1/logs/tail) has the traceback."
    else:
        advice = ""
    return ServerError(
        f"{method} {url} failed with {status} {response.reason_phrase}: {_detail_text(detail)}.{advice}",
        url=url,
        status_code=status,
        detail=detail,
    )


def _html_error(response: httpx.Response, url: str) -> ScopeError:
    status = response.status_code
    host = response.request.url.host
    text = response.text[:4000].lower()
    proxied = host.endswith(RUNPOD_PROXY_SUFFIX) or "runpod" in text
    if status >= 500 or (proxied and status >= 400):
        if status == 404:
            advice = (
                "the pod is stopped or does not exist, or this port is not exposed. Start "
                f"the pod, and check that port {SCOPE_PORT} is in its HTTP ports."
            )
        else:
            advice = (
                "the pod is still starting or Scope is not listening yet (the first boot "
                "downloads models and can take several minutes). Wait, then retry; if it "
                f"persists, check the pod's logs and that Scope listens on {SCOPE_PORT}."
            )
        return PodNotReadyError(
            f"{url} answered {status} with an HTML page from a proxy instead of Scope: {advice}",
            url=url,
            status_code=status,
        )
    return NotScopeError(
        f"{url} answered {status} with an HTML page, not JSON. Either this is not Scope's "
        "API (another web app on this port?), or this Scope version has no such route "
        f"(Scope serves its web UI for paths it does not know). Check the URL and port "
        f"(Scope uses {SCOPE_PORT}).",
        url=url,
        status_code=status,
    )


_NOT_JSON = object()


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _NOT_JSON


def _looks_like_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    if "text/html" in ctype:
        return True
    head = response.content[:64].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _preview(response: httpx.Response, limit: int = 80) -> str:
    text = response.content[:limit].decode("utf-8", "replace")
    return " ".join(text.split())


def _detail_text(detail: object) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return _validation_text(detail)
    return json.dumps(detail)


def _validation_text(detail: object) -> str:
    """FastAPI's 422 list as 'where: what; ...'."""
    if not isinstance(detail, list):
        return _detail_text(detail)
    parts = []
    for item in detail:
        if isinstance(item, dict):
            loc = ".".join(str(x) for x in item.get("loc", []))
            parts.append(f"{loc}: {item.get('msg', item)}")
        else:
            parts.append(str(item))
    return "; ".join(parts)


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
