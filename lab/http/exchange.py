"""One HTTP exchange with a Scope server: send, retry what is transient, raise what failed.

What counts as transient (retried with bounded exponential backoff): connection failures,
dropped connections, and HTTP 502/503/504 (what a proxy says while the server behind it is
restarting). Everything else fails at once. Which error a failure is comes from
:mod:`lab.http.transport_failures` (no answer) and :mod:`lab.http.response_failures` (an
answer that is not a usable one). It knows nothing about Scope's endpoints; :mod:`lab.client`
does.
"""

from __future__ import annotations

import contextlib
import logging
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

from lab.errors import ScopeError, UnreachableError
from lab.http.response_failures import TRANSIENT_STATUSES, classify_response
from lab.http.transport_failures import transport_error

__all__ = ["RetryPolicy", "DEFAULT_TIMEOUT", "Exchange"]

log = logging.getLogger(__name__)

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
