"""Failures that need no server: each httpx failure or odd answer becomes the right error.

These use httpx.MockTransport; the same cases against the real simulator over loopback
are in test_client_faults.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest

from lab.client import ScopeClient
from lab.errors import NotScopeError, PodNotReadyError, ResponseTimeout, ServerError, UnreachableError
from lab.http import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, budget_s=5, initial_backoff_s=0.001, max_backoff_s=0.002)


def client_for(handler: Callable[[httpx.Request], httpx.Response], url: str = "http://scope.test:8000") -> ScopeClient:
    return ScopeClient(url, transport=httpx.MockTransport(handler), retry=FAST_RETRY)


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


async def test_dns_failure_names_the_host() -> None:
    async with client_for(raising(httpx.ConnectError("[Errno -2] Name or service not known"))) as client:
        with pytest.raises(UnreachableError, match="Cannot resolve the host name 'scope.test'") as info:
            await client.health()
    assert info.value.reason == "dns"


async def test_dns_failure_on_runpod_host_mentions_the_pod() -> None:
    handler = raising(httpx.ConnectError("[Errno -3] Temporary failure in name resolution"))
    async with client_for(handler, "gbc63llq1zdxki") as client:
        with pytest.raises(UnreachableError, match="pod id in the RunPod console"):
            await client.health()


async def test_tls_failure_suggests_http() -> None:
    error = httpx.ConnectError("handshake failed")
    error.__cause__ = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    async with client_for(raising(error)) as client:
        with pytest.raises(UnreachableError, match="plain http://") as info:
            await client.health()
    assert info.value.reason == "tls"


async def test_read_timeout_is_not_retried_and_says_so() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    async with client_for(handler) as client:
        with pytest.raises(ResponseTimeout, match="got no answer within"):
            await client.health()
    assert len(calls) == 1


async def test_connect_error_is_retried_within_the_policy() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return httpx.Response(200, json={"status": "healthy", "version": "0.2.4"})

    async with client_for(handler) as client:
        health = await client.health()
    assert health.status == "healthy"
    assert len(calls) == 3


async def test_retries_are_bounded() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    async with client_for(handler) as client:
        with pytest.raises(UnreachableError, match="Nothing accepted a connection"):
            await client.health()
    assert len(calls) == FAST_RETRY.attempts


async def test_plain_text_ok_is_not_scope() -> None:
    handler = lambda r: httpx.Response(200, text="hello", headers={"content-type": "text/plain"})  # noqa: E731
    async with client_for(handler) as client:
        with pytest.raises(NotScopeError, match="instead of JSON"):
            await client.health()


async def test_json_of_another_shape_is_not_scope() -> None:
    async with client_for(lambda r: httpx.Response(200, json={"ok": True})) as client:
        with pytest.raises(NotScopeError, match="not Scope's Health"):
            await client.health()


async def test_missing_list_key_is_not_scope() -> None:
    async with client_for(lambda r: httpx.Response(200, json={"servers": []})) as client:
        with pytest.raises(NotScopeError, match="'iceServers'"):
            await client.ice_servers()


async def test_validation_error_lists_fields() -> None:
    detail = [{"loc": ["query", "pipeline_id"], "msg": "Field required", "type": "missing"}]
    async with client_for(lambda r: httpx.Response(422, json={"detail": detail})) as client:
        with pytest.raises(ServerError, match="query.pipeline_id: Field required") as info:
            await client.models_status("x")
    assert info.value.status_code == 422


async def test_unknown_route_on_scope_names_the_version() -> None:
    async with client_for(lambda r: httpx.Response(404, json={"detail": "Frontend not built"})) as client:
        with pytest.raises(ServerError, match="different Scope version"):
            await client.session_metrics()


async def test_bare_502_from_a_proxy_means_pod_not_ready() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, text="Bad Gateway")

    async with client_for(handler) as client:
        with pytest.raises(PodNotReadyError, match="still be starting"):
            await client.health()
    assert len(calls) == FAST_RETRY.attempts
