"""Whether an answer is usable, and if not, which error it amounts to.

Scope reports errors as JSON with ``detail`` (:class:`~lab.errors.ServerError`, with advice
for 404s of unknown routes, 422 validation lists and 5xx). Anything else is classified by
what it looks like: an HTML page from a RunPod proxy or a gateway status without Scope's
JSON means the pod is not ready (:class:`~lab.errors.PodNotReadyError`); HTML or other
non-JSON from something else means the URL is not Scope's API (:class:`~lab.errors.NotScopeError`).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from lab.errors import NotScopeError, PodNotReadyError, ScopeError, ServerError
from lab.target import RUNPOD_PROXY_SUFFIX, SCOPE_PORT

__all__ = ["classify_response", "TRANSIENT_STATUSES"]

# What a proxy answers while the server behind it is restarting.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


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
