"""Ending helper tasks without losing a cancellation of our own.

The usual idiom, ``task.cancel()`` then ``await task`` under
``suppress(CancelledError)``, also swallows the *caller's* cancellation when it arrives
during that await: a Ctrl-C in the middle of a sweep then went unheard and the sweep
measured on. :func:`cancel_and_wait` re-raises when the current task is itself being
cancelled. For the same reason timeouts use :func:`asyncio.timeout`, not
:func:`asyncio.wait_for`, which on Python 3.11 returns the awaited result and drops a
cancellation that lands as that result arrives (frequent while frames stream in).
"""

from __future__ import annotations

import asyncio

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(*tasks: asyncio.Task[object] | asyncio.Future[object] | None) -> None:
    """Cancel ``tasks`` (None entries are skipped) and wait until each has ended.

    A task's own ``CancelledError`` is expected and dropped. A cancellation of the caller
    that arrives meanwhile is raised again once every task has ended; one that was already
    under way when this was called (clean-up on the way out) is left to its own path.
    """
    current = asyncio.current_task()
    # Cancellations already requested (we may be cleaning up after one, which is then
    # already on its way out); only a new one, arriving while we wait, is raised here.
    requested = current.cancelling() if current is not None else 0
    for task in tasks:
        if task is None:
            continue
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    if current is not None and current.cancelling() > requested:
        raise asyncio.CancelledError
