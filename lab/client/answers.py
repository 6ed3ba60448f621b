"""Scope's JSON answers read into typed models; an answer of the wrong shape is not Scope's.

A 2xx answer that does not validate means the URL is not a Scope server, or its version
changed the response: :class:`~lab.errors.NotScopeError`, naming the first problems.
"""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from lab.errors import NotScopeError

__all__ = ["ModelT", "parse", "parse_list"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
    """Validate a JSON answer into ``model``; a mismatch means it is not Scope's answer."""
    try:
        return model.model_validate(response.json())
    except ValidationError as exc:
        raise _unexpected_json(response, model.__name__, exc) from exc


def parse_list(response: httpx.Response, key: str, model: type[ModelT]) -> list[ModelT]:
    """Validate the list under ``key`` of a JSON answer, each item into ``model``."""
    body = response.json()
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise NotScopeError(
            f"{response.request.url} answered JSON without the {key!r} list Scope sends: "
            f"{str(body)[:120]!r}. Check that the URL points at a Scope server.",
            url=str(response.request.url),
            status_code=response.status_code,
        )
    try:
        return [model.model_validate(item) for item in items]
    except ValidationError as exc:
        raise _unexpected_json(response, model.__name__, exc) from exc


def _unexpected_json(response: httpx.Response, what: str, exc: ValidationError) -> NotScopeError:
    problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    return NotScopeError(
        f"{response.request.url} answered JSON that is not Scope's {what} ({problems}). "
        "Either this is not a Scope server or its version changed this response.",
        url=str(response.request.url),
        status_code=response.status_code,
    )
