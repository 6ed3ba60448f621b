"""A client of Daydream's hosted API: streams created, read, changed and deleted through its SDK.

The REST side goes through the official SDK (``daydream-sdk``, the extra
``scope-lab[hosted]``), pointed at the target's base URL (``server_url``) over an httpx
client of ours; the status route, which that SDK lacks, is one GET on the same client. The
API key comes from ``DAYDREAM_API_KEY`` (or the caller) and is only ever sent as the Bearer
header: never logged, stored or put in a message. A 429 is waited out as its
``Retry-After`` says (at most ``retries`` times, each wait at most ``max_wait_s``), and a
5xx on a read or a delete is retried likewise; creates and changes are not repeated on a
5xx, since they may have been applied.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, get_args

import httpx
from pydantic import ValidationError

from lab.hosted.failures import API_KEY_HELP, from_api_error, from_validation_error, retry_after_s
from lab.hosted.status import StreamStatus
from lab.hosted_errors import HostedError, HostedKeyError, HostedModelError, HostedUnreachableError, StreamNotReadyError
from lab.target import Target

__all__ = ["API_KEY_ENV", "HostedClient", "api_key_from_env", "is_simulator", "offered_models"]

API_KEY_ENV = "DAYDREAM_API_KEY"
T = TypeVar("T")
UrlFor = Callable[[Target], Awaitable[str]]


# The SDK imports these on first use, building its pydantic models (about a second of CPU).
_SDK_MODEL_MODULES = ("createstreamop", "updatestreamop", "getstreambyidop", "getallstreamsop", "deletestreamop")


def _sdk() -> Any:
    try:
        import daydream
    except ImportError as exc:
        raise HostedError("The hosted API needs the optional extra scope-lab[hosted] (the daydream-sdk "
                          "package): pip install 'scope-lab[hosted]'.", url="") from exc
    return daydream


def _load_sdk_models() -> None:
    """Build the SDK's models now, when a client opens, and collect the garbage that leaves.

    Built on first use mid-stream they block the event loop for about a second; and the
    hundreds of thousands of objects they make start a full garbage collection soon after
    (0.3-0.8 s seen here), which, mid-stream, delays every frame arriving meanwhile. Both
    happen here instead, before any stream is timed.
    """
    for name in _SDK_MODEL_MODULES:
        importlib.import_module(f"daydream.models.{name}")
    gc.collect()


def offered_models() -> list[str]:
    """The model ids the API offers, as the SDK's params union lists them (the API has no list route)."""
    union = get_args(_sdk().models.CreateStreamParamsRequest)[0]
    return [meta.tag for arm in get_args(union) for meta in get_args(arm)[1:] if hasattr(meta, "tag")]


async def is_simulator(target: Target, url: str) -> bool:
    """Whether the API at ``url`` is the simulator's emulation: it says so in ``/health``, asked
    (without the key) only of a loopback server, never of the real API; ``daydream:sim`` always is."""
    if target.url is None:
        return True
    if not target.is_loopback:
        return False
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:
            return bool((await http.get(f"{url}/health")).json().get("simulator"))
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def api_key_from_env() -> str:
    """``DAYDREAM_API_KEY``, or :class:`HostedKeyError` saying how to set it."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise HostedKeyError(f"{API_KEY_ENV} is not set, so the hosted API cannot be used. " + API_KEY_HELP,
                             url="", reason="missing")
    return key


class HostedClient:
    """One connection to the hosted API; use ``async with``.

    Parameters
    ----------
    target
        ``daydream:``, ``daydream:sim`` or ``daydream:<url>`` (a :class:`~lab.target.Target`).
    api_key
        Defaults to ``DAYDREAM_API_KEY``.
    url_for
        Resolves a target without a URL (``daydream:sim``): :func:`lab.connect.target_url`.
    """

    def __init__(self, target: str | Target, *, api_key: str | None = None, url_for: UrlFor | None = None,
                 timeout_s: float = 30.0, retries: int = 3, max_wait_s: float = 30.0) -> None:
        self.target = Target.parse(target) if isinstance(target, str) else target
        self._key = api_key if api_key is not None else api_key_from_env()
        self._url_for = url_for
        self._timeout_s, self._retries, self._max_wait_s = timeout_s, retries, max_wait_s
        self.url = self.target.url or ""
        self._http: httpx.AsyncClient | None = None
        self._sync_http: httpx.Client | None = None
        self._api: Any = None

    async def __aenter__(self) -> HostedClient:
        sdk = _sdk()
        _load_sdk_models()
        if not self.url:
            if self._url_for is None:
                raise HostedError(f"{self.target.raw!r} needs a running simulator; open it with url_for.", url="")
            self.url = (await self._url_for(self.target)).rstrip("/")
        self._http = httpx.AsyncClient(timeout=self._timeout_s, headers={"Authorization": f"Bearer {self._key}"})
        self._sync_http = httpx.Client(timeout=self._timeout_s)  # the SDK wants one; never used
        self._api = sdk.Daydream(bearer=self._key, server_url=self.url, async_client=self._http,
                                 client=self._sync_http, timeout_ms=round(self._timeout_s * 1e3))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        if self._http is not None:
            await self._http.aclose()
            self._sync_http.close() if self._sync_http else None
            self._http = self._sync_http = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The client's httpx client (WHIP/WHEP exchanges may share it)."""
        assert self._http is not None, "open the client with `async with` first"
        return self._http

    async def create_stream(self, params: dict[str, Any], *, name: str | None = None) -> Any:
        """Create a ``streamdiffusion`` stream; the SDK's ``CreateStreamResponse``."""
        offered = offered_models()
        model_id = params.get("model_id")
        if model_id not in offered:
            raise HostedModelError(str(model_id), offered, url=self.url)
        body = {"pipeline": "streamdiffusion", "params": params, **({"name": name} if name else {})}
        try:
            request = _sdk().models.CreateStreamRequest.model_validate(body)
        except ValidationError as exc:
            raise from_validation_error(exc, url=self.url, offered=offered) from None
        return await self._call(lambda: self._api.streams.create_stream_async(request=request), idempotent=False)

    async def get_stream(self, stream_id: str) -> Any:
        """One stream (the SDK's ``GetStreamByIDResponse``)."""
        return await self._call(lambda: self._api.streams.get_stream_by_id_async(id=stream_id))

    async def list_streams(self) -> list[Any]:
        """The key's streams (a cheap call that proves the key)."""
        answer = await self._call(lambda: self._api.streams.get_all_streams_async())
        return list(answer.data)

    async def update_stream(self, stream_id: str, params: dict[str, Any]) -> Any:
        """Change the params sent (the SDK's body: the pipeline and params with their ``model_id``)."""
        body = {"pipeline": "streamdiffusion", "params": params}
        try:
            request = _sdk().models.UpdateStreamRequestBody.model_validate(body)
        except ValidationError as exc:
            raise from_validation_error(exc, url=self.url, offered=offered_models()) from None
        return await self._call(lambda: self._api.streams.update_stream_async(id=stream_id, body=request),
                                idempotent=False)

    async def delete_stream(self, stream_id: str) -> None:
        """Tear a stream down."""
        await self._call(lambda: self._api.streams.delete_stream_async(id=stream_id))

    async def status(self, stream_id: str) -> StreamStatus:
        """The stream's status route (not in the SDK: one GET, errors handled alike)."""
        async def get() -> Any:
            answer = await self.http.get(f"{self.url}/v1/streams/{stream_id}/status")
            if answer.status_code >= 400:
                raise _StatusError(answer)
            return answer.json()
        return StreamStatus.from_json(await self._call(get))

    async def wait_ready(self, stream_id: str, *, timeout_s: float, poll_s: float = 1.0) -> StreamStatus:
        """Poll the status until the output plays; :class:`StreamNotReadyError` after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline, status = loop.time() + timeout_s, None
        while loop.time() < deadline:
            status = await self.status(stream_id)
            if status.ready:
                return status
            await asyncio.sleep(poll_s)
        raise StreamNotReadyError(stream_id, url=self.url, waited_s=timeout_s, state=status.state if status else None)

    async def _call(self, request: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        daydream_error = _sdk().errors.DaydreamError
        for attempt in range(self._retries + 1):
            try:
                return await request()
            except (daydream_error, _StatusError) as exc:
                status = int(exc.status_code)
                retry = status == 429 or (idempotent and status >= 500)
                if not retry or attempt == self._retries:
                    raise from_api_error(exc, url=self.url) from None
                await asyncio.sleep(min(retry_after_s(exc.headers) or 2.0 ** attempt, self._max_wait_s))
            except httpx.TransportError as exc:
                raise HostedUnreachableError(f"The hosted API at {self.url} did not answer: "
                                             f"{type(exc).__name__}: {exc}.", url=self.url) from None
        raise AssertionError("unreachable")


class _StatusError(Exception):
    """An error answer of the status route, shaped like the SDK's errors."""

    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(answer.text[:300])
        self.status_code, self.headers, self.body = answer.status_code, answer.headers, answer.text
        self.data = None
