"""cancel_and_wait: a helper's cancellation is dropped, the caller's own is not."""

from __future__ import annotations

import asyncio

import pytest

from lab.tasks import cancel_and_wait


async def test_helper_tasks_end_and_their_cancellation_is_dropped() -> None:
    helpers = [asyncio.create_task(asyncio.sleep(60)) for _ in range(2)]
    await cancel_and_wait(*helpers, None)
    assert all(task.cancelled() for task in helpers)


async def test_the_callers_cancellation_during_the_wait_is_raised() -> None:
    """The old idiom (suppress CancelledError around ``await task``) swallowed this one."""
    release = asyncio.Event()
    helpers: list[asyncio.Task[None]] = []

    async def slow_to_stop() -> None:  # takes a moment to wind down, like closing a connection
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()
            raise

    async def caller() -> str:
        helpers.append(asyncio.create_task(slow_to_stop()))
        await asyncio.sleep(0)
        await cancel_and_wait(helpers[0])
        return "went on as if nothing happened"

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)  # the caller now waits for the helper to stop
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    with pytest.raises(asyncio.CancelledError):  # the helper was cancelled too, and ends
        await helpers[0]


async def test_clean_up_during_a_cancellation_runs_to_the_end() -> None:
    """Closing a session on the way out of a cancelled task must still reach its last step."""
    steps: list[str] = []

    async def worker() -> None:
        helper = asyncio.create_task(asyncio.sleep(60))
        try:
            await asyncio.sleep(60)
        finally:
            await cancel_and_wait(helper)
            steps.append("told the server")

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["told the server"]
