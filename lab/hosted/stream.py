"""A hosted stream that is always deleted at the end: after success, a failure or a Ctrl-C.

Hosted streams are billed and count against the key's limits, so one left behind costs.
The delete runs in ``finally``, shielded: a second cancellation while it runs (another
Ctrl-C) does not abandon it; it is waited for, then the cancellation goes on. A delete that
fails raises its own :class:`~lab.hosted_errors.HostedError` (chained to the body's error, if
any), so a stream left behind is never silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lab.hosted.client import HostedClient

__all__ = ["hosted_stream"]

logger = logging.getLogger(__name__)


@asynccontextmanager
async def hosted_stream(client: HostedClient, params: dict[str, Any], *, name: str | None = None) -> AsyncIterator[Any]:
    """Create a stream, yield the SDK's ``CreateStreamResponse``, and delete the stream at the end."""
    stream = await client.create_stream(params, name=name)
    try:
        yield stream
    finally:
        deleting = asyncio.ensure_future(client.delete_stream(stream.id))
        try:
            await asyncio.shield(deleting)
        except asyncio.CancelledError:
            await asyncio.wait([deleting])  # a second Ctrl-C: finish the delete, then go on
            raise
        logger.info("Hosted stream %s deleted", stream.id)
