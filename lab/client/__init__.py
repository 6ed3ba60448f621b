"""Async client for Scope's HTTP API.

One :class:`ScopeClient` talks to one server. It reads capabilities (pipelines, VACE
support, VRAM estimates, resolutions) from the server rather than assuming them, checks
load parameters against the server's schema before sending, and measures load and
download times on one monotonic clock. It knows URLs only: :func:`lab.connect.connect`
starts the simulator for the target ``sim``.

The parts: the connection and its lifecycle (:mod:`lab.client.connection`), one method per
Scope operation (:mod:`lab.client.endpoints`), model downloads and pipeline loads polled to
the end (:mod:`lab.client.loading`), and answers read into models (:mod:`lab.client.answers`).

Examples
--------
>>> async with ScopeClient("http://127.0.0.1:8000") as scope:   # doctest: +SKIP
...     schemas = await scope.pipeline_schemas()
...     result = await scope.load_pipeline("longlive", download_missing=True)
...     print(f"{result.pipeline_id} loaded in {result.load_s:.1f} s")
"""

from lab.client.connection import DEFAULT_POLL_INTERVAL_S
from lab.client.loading import (
    DownloadProgressEvent,
    DownloadResult,
    LoadProgress,
    LoadResult,
    ScopeClient,
    StageTiming,
)

__all__ = ["ScopeClient", "LoadResult", "LoadProgress", "StageTiming", "DownloadResult", "DownloadProgressEvent",
           "DEFAULT_POLL_INTERVAL_S"]
