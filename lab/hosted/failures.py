"""The hosted API's refusals, as the SDK raises them, turned into :mod:`lab.hosted_errors` errors.

The SDK raises a ``DaydreamError`` per error status, its ``data`` the API's error body
(``error``, ``code``, ``status``, ``details``); a params problem found before sending is
pydantic's ``ValidationError``. Validation details are read field by field when they are a
list of ``{"path", "message"}`` (or ``{"loc", "msg"}``), else shown as the API wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from lab.hosted_errors import (HostedError, HostedKeyError, HostedParamsError, HostedRateLimitError,
                               HostedServerError)

__all__ = ["API_KEY_HELP", "from_api_error", "from_validation_error", "retry_after_s"]

API_KEY_HELP = ("Check DAYDREAM_API_KEY: create a key on daydream.live (API keys) and export it; "
                "it is read from the environment only and never written anywhere.")


def retry_after_s(headers: Any) -> float | None:
    """The ``Retry-After`` of an answer in seconds (None when absent or a date)."""
    try:
        return max(float(headers.get("retry-after")), 0.0)
    except (TypeError, ValueError):
        return None


def _problems(details: Any) -> list[str]:
    if not isinstance(details, list):
        return []
    found = []
    for item in details:
        if isinstance(item, dict) and ("path" in item or "loc" in item):
            path = item.get("path", item.get("loc"))
            path = ".".join(map(str, path)) if isinstance(path, list | tuple) else str(path)
            found.append(f"{path}: {item.get('message', item.get('msg', ''))}")
    return found


def from_api_error(exc: Any, *, url: str) -> HostedError:
    """The error for an SDK ``DaydreamError`` (any status)."""
    status = int(exc.status_code)
    data = getattr(exc, "data", None)
    said = getattr(data, "error", None) or (exc.body or "")[:300]
    if status in (401, 403):
        return HostedKeyError(f"The hosted API at {url} refused the API key (HTTP {status}: {said}). "
                              + API_KEY_HELP, url=url, reason="rejected")
    if status == 400:
        problems = _problems(getattr(data, "details", None)) or [said or "the API gave no reason"]
        return HostedParamsError(problems, url=url)
    if status == 429:
        wait = retry_after_s(exc.headers)
        return HostedRateLimitError(f"The hosted API at {url} is rate limiting this key (HTTP 429, "
                                    f"Retry-After {wait if wait is not None else 'not given'} s), still "
                                    "after retrying. Wait a minute, or run fewer streams at once.",
                                    url=url, retry_after_s=wait)
    return HostedServerError(f"The hosted API at {url} answered HTTP {status}: {said}. "
                             + ("It failed on its side: try again later." if status >= 500 else ""),
                             url=url, status_code=status, detail=data.model_dump() if data else exc.body)


def from_validation_error(exc: ValidationError, *, url: str, offered: Sequence[str]) -> HostedParamsError:
    """The error for params the SDK's models refused before sending (field by field)."""
    problems = [f"{'.'.join(str(p) for p in e['loc'] if p not in offered)}: {e['msg']}" for e in exc.errors()]
    return HostedParamsError(problems, url=url, by=f"the SDK (daydream-sdk; offered models: {', '.join(offered)})")
