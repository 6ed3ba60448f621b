"""Talking to RunPod's API through its official SDK (``runpod``, the ``scope-lab[runpod]``
extra), off the event loop, with every failure turned into a :mod:`lab.pods.errors` error.

The SDK's calls block (``requests``, 30 s timeout each), so each runs in a worker thread. The
SDK takes its key from a module global for stop, resume and create, and its address only from
the ``RUNPOD_API_BASE_URL`` environment variable, read per call; a :class:`PodApi` sets both
for the length of its call, under one process-wide lock, so that two of them (the real API
and the simulator's) never mix. The key is read from ``RUNPOD_API_KEY``, held out of
``repr``, and scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from lab.pods.errors import (NoCapacityError, PodApiUnreachableError, PodAuthError, PodError, PodNotFoundError,
                             RunpodExtraMissingError, TemplateNotFoundError)
from lab.redact import REDACTED, redact
from lab.target import is_loopback_host, runpod_url

__all__ = ["API_URL_ENV", "DEFAULT_API_URL", "KEY_ENV", "PodApi", "not_found"]

KEY_ENV = "RUNPOD_API_KEY"
API_URL_ENV = "RUNPOD_API_BASE_URL"  # the SDK's own variable (runpod/api/graphql.py)
DEFAULT_API_URL = "https://api.runpod.io"
_SDK_LOCK = threading.Lock()
_SDK_TOUCHED_LOGGERS = ("", "urllib3", "paramiko", "uvicorn")  # "" is the root logger
_CAPACITY = re.compile(r"no longer any instances available|not enough free gpus|no (gpu )?capacity", re.I)
_NO_POD = re.compile(r"pod not found|not found|permission|not authori[sz]ed|does not exist", re.I)


class PodApi:
    """One RunPod API (the real one, or the simulator's at ``<sim>/runpod``) and one key.

    Parameters
    ----------
    api_key
        Defaults to ``$RUNPOD_API_KEY``; missing or empty raises :class:`PodAuthError`.
    api_url
        Defaults to ``$RUNPOD_API_BASE_URL``, else ``https://api.runpod.io``. An address on
        loopback is the simulator's: its pods' Scope URLs are its ``/proxy/<pod>-8000`` paths
        and everything it reports is SIMULATED.
    """

    def __init__(self, api_key: str | None = None, api_url: str | None = None) -> None:
        key = api_key if api_key is not None else os.environ.get(KEY_ENV, "")
        self.api_url = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        if not key.strip():
            raise PodAuthError(f"No RunPod API key: set {KEY_ENV} (RunPod console, Settings, API Keys; a key with "
                               f"read and write access to pods), then run the command again.", action="authenticate")
        self._key = key.strip()

    def __repr__(self) -> str:
        return f"PodApi(api_url={self.api_url!r})"

    @property
    def simulated(self) -> bool:
        """Whether the API is the simulator's (an address on loopback)."""
        return is_loopback_host(urlsplit(self.api_url).hostname or "")

    def scope_url(self, pod_id: str, port: int = 8000) -> str:
        """Where a pod's port is served: RunPod's proxy, or the simulator's stand-in for it."""
        return f"{self.api_url}/proxy/{pod_id}-{port}" if self.simulated else runpod_url(pod_id, port)

    def scrub(self, text: str) -> str:
        """``text`` without the key (and anything else that looks like a secret)."""
        return redact(text.replace(self._key, REDACTED))

    async def call(self, action: str, function: str, *args: Any, pod_id: str | None = None, **kwargs: Any) -> Any:
        """Run ``runpod.<function>(*args, **kwargs)`` in a thread; raise a :class:`PodError` if it fails."""
        sdk = _sdk(action)
        call = functools.partial(getattr(sdk, function), *args, **kwargs)
        return await asyncio.to_thread(self._call_blocking, sdk, action, call, pod_id)

    def _call_blocking(self, sdk: Any, action: str, call: Callable[[], Any], pod_id: str | None) -> Any:
        import requests  # the SDK's own HTTP library, present with it

        with _SDK_LOCK, _environment(API_URL_ENV, self.api_url):
            before, sdk.api_key = sdk.api_key, self._key  # never the key of ~/.runpod/config.toml
            try:
                return call()
            except sdk.error.AuthenticationError:
                raise PodAuthError(f"RunPod's API at {self.api_url} refused the key in {KEY_ENV} while trying to "
                                   f"{action}: it is wrong, revoked or lacks pod access. Create a key with read "
                                   "and write access in the RunPod console and set it.", action=action,
                                   pod_id=pod_id) from None
            except sdk.error.QueryError as exc:  # never exc.query: a create's holds the env values
                raise self._refusal(action, str(exc.message or ""), pod_id) from None
            except (requests.RequestException, ValueError) as exc:
                raise PodApiUnreachableError(
                    f"No usable answer from RunPod's API at {self.api_url} while trying to {action} "
                    f"({type(exc).__name__}: {self.scrub(str(exc))[:200]}). Check the network, and "
                    f"{API_URL_ENV} if it is set; then try again.", action=action, pod_id=pod_id) from None
            finally:
                sdk.api_key = before

    def _refusal(self, action: str, message: str, pod_id: str | None) -> PodError:
        said = self.scrub(message)
        if _CAPACITY.search(said):
            return NoCapacityError(f"RunPod has no GPU free to {action} right now (it said: {said}). Try again "
                                   "in a few minutes, another GPU type, or create a new pod elsewhere.",
                                   action=action, pod_id=pod_id)
        if "template" in said.lower():
            return TemplateNotFoundError(f"RunPod refused to {action}: {said} Check the template id (the part "
                                         "after ?template= in a deploy link, e.g. daydream-scope).",
                                         action=action, pod_id=pod_id)
        if pod_id is not None and _NO_POD.search(said):
            return not_found(pod_id, action, said)
        return PodError(f"RunPod's API refused to {action}: {said}", action=action, pod_id=pod_id)


def not_found(pod_id: str, action: str, said: str = "") -> PodNotFoundError:
    """The error for a pod id the key cannot see."""
    detail = f" (the API said: {said})" if said else ""
    return PodNotFoundError(
        f"Cannot {action}: pod {pod_id!r} is not among the pods of this API key's account{detail}. It does "
        "not exist, was terminated, or belongs to another account. `lab pod list` shows yours.",
        action=action, pod_id=pod_id)


def _sdk(action: str) -> Any:
    """The ``runpod`` module, its import's logging side effects undone.

    Importing it (1.12) calls ``logging.basicConfig(level=INFO)`` on the root logger (in
    ``runpod.serverless.utils.rp_upload``) and sets a few library loggers' levels, which would
    print every HTTP request of the workbench; the root logger and those levels are put back.
    """
    root = logging.getLogger()
    handlers, levels = list(root.handlers), {name: logging.getLogger(name).level for name in _SDK_TOUCHED_LOGGERS}
    try:
        import runpod
    except ImportError as exc:
        raise RunpodExtraMissingError(
            f"Cannot {action}: RunPod's Python SDK is not installed ({exc}). Install the extra: "
            "pip install 'scope-lab[runpod]'.", action=action) from None
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return runpod


@contextmanager
def _environment(name: str, value: str) -> Any:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
