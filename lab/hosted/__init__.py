"""Daydream's hosted API as a target (``daydream:``): its REST side over the official SDK.

- :mod:`lab.hosted.client`: :class:`HostedClient` (create, read, status, change, delete a
  stream), the API key from ``DAYDREAM_API_KEY`` only, 429s waited out as ``Retry-After``
  says, and every failure a :mod:`lab.hosted_errors` error;
- :mod:`lab.hosted.failures`: the SDK's and the API's refusals turned into those errors;
- :mod:`lab.hosted.status`: :class:`StreamStatus`, the status route read leniently;
- :mod:`lab.hosted.stream`: :func:`hosted_stream`, a stream that is always deleted at the
  end, after a failure or a cancellation (Ctrl-C) too;
- :mod:`lab.hosted.session`: :class:`HostedSession`, a stream as a measurement session
  (created, our video in over WHIP, its output back over WHEP, params changed by PATCH).

The media side is :mod:`lab.whip`. The SDK is the optional extra ``scope-lab[hosted]``,
imported only when a client opens.
"""

from lab.hosted.client import API_KEY_ENV, HostedClient, api_key_from_env, is_simulator, offered_models
from lab.hosted.session import HostedSession
from lab.hosted.status import StreamStatus
from lab.hosted.stream import hosted_stream

__all__ = ["API_KEY_ENV", "HostedClient", "HostedSession", "StreamStatus", "api_key_from_env", "hosted_stream",
           "is_simulator", "offered_models"]
