"""A client's connection to one server: its target, the HTTP exchange, and the lifecycle.

The target ``sim`` has no URL until the simulator runs; :func:`lab.connect.connect` gives
the client the means to start it (``url_for``), so the client never imports the simulator.
The exchange is opened on first use, once, and closed with the client.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx

from lab.client.answers import ModelT, parse
from lab.errors import TargetError
from lab.http import DEFAULT_TIMEOUT, Exchange, RetryPolicy
from lab.models import PipelineSchemas
from lab.target import Target

__all__ = ["ClientState", "ScopeConnection", "DEFAULT_POLL_INTERVAL_S"]

DEFAULT_POLL_INTERVAL_S = 0.1


class ClientState(enum.Enum):
    """Lifecycle of a :class:`ScopeConnection`."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class ScopeConnection:
    """What every request of a :class:`~lab.client.ScopeClient` goes through (its docstring
    explains the parameters): the target's URL, the exchange opened on first use, and
    ``_get``/``_post`` for the endpoints (:class:`~lab.client.endpoints.ScopeEndpoints`).
    """

    def __init__(
        self,
        target: str | Target,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        url_for: Callable[[Target], Awaitable[str]] | None = None,
    ) -> None:
        self.target = target if isinstance(target, Target) else Target.parse(target)
        self._url_for = url_for
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retry = retry
        self._transport = transport
        self.poll_interval_s = poll_interval_s
        self._exchange: Exchange | None = None
        self._state = ClientState.UNOPENED
        self._schemas: PipelineSchemas | None = None  # read once (ScopeEndpoints.pipeline_schemas)
        self._open_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        if self._exchange is not None:
            await self._exchange.http.aclose()
        self._state = ClientState.CLOSED

    @property
    def url(self) -> str:
        """The server's base URL (for ``sim``, known once the client has opened)."""
        if self.target.url is None:
            raise RuntimeError("The simulator's URL is known once the client is open: use `async with`.")
        return self.target.url

    async def _open(self) -> Exchange:
        async with self._open_lock:
            if self._state is ClientState.CLOSED:
                raise RuntimeError("This ScopeClient is closed; create a new one.")
            if self._exchange is None:
                if self.target.url is None:
                    if self._url_for is None:
                        raise TargetError(f"The target {self.target.raw!r} has no URL until it is started: open it "
                                          f"with lab.connect.connect({self.target.raw!r}), which starts it.",
                                          target=self.target.raw)
                    self.target = Target(self.target.kind, self.target.raw, await self._url_for(self.target))
                http = httpx.AsyncClient(
                    base_url=self.url,
                    timeout=self._timeout,
                    transport=self._transport,
                    headers={"user-agent": "scope-lab"},
                    follow_redirects=True,
                )
                self._exchange = Exchange(http, self._retry)
                self._state = ClientState.OPEN
            return self._exchange

    async def exchange(self) -> Exchange:
        """The open HTTP exchange with the server, for calls this client has no method for
        (the headless session's, :mod:`lab.headless`)."""
        return await self._open()

    async def _get(self, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        response = await (await self._open()).send("GET", path, **kwargs)
        return parse(response, model)

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await (await self._open()).send("POST", path, **kwargs)
