"""Waits that keep a background loop stoppable (``clock.wait_event``, ``clock.stopping``).

CI once hung in a fixture's teardown: the outbound worker, poked in the loop turn where it
was cancelled, kept running, and its ``stop()`` waited on it forever.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from facilbot.engine.clock import stopping, wait_event


async def test_wait_event_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.001) is False
    event.set()
    assert await wait_event(event, 60) is True


async def test_a_cancel_in_the_turn_the_event_is_set_is_not_lost() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, 60))
    await asyncio.sleep(0)  # now waiting on the event
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 rebuilt wait_for on timeout()")
async def test_why_not_wait_for_it_loses_that_cancel_on_python_3_11() -> None:
    # The same race with asyncio.wait_for: the cancel is swallowed and the task goes on.
    event = asyncio.Event()
    waiting = asyncio.create_task(asyncio.wait_for(event.wait(), 60))
    await asyncio.sleep(0)
    event.set()
    waiting.cancel()
    assert await waiting is True
    assert waiting.cancelling() == 1  # asked to stop, yet it returned


async def test_a_loop_that_carries_on_after_errors_still_ends_on_a_stop() -> None:
    # A clean-up that fails while a cancel unwinds replaces the CancelledError with its own
    # error: the loop's "log and carry on" must not take that for an ordinary failure.
    passes = 0

    async def one_pass() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            raise RuntimeError("clean-up failed")

    async def loop() -> None:
        nonlocal passes
        while True:
            passes += 1
            try:
                await one_pass()
            except Exception:
                if stopping():
                    raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(RuntimeError, match="clean-up failed"):
        await task
    assert passes == 1


async def test_stopping_is_false_in_a_task_nobody_stopped() -> None:
    assert stopping() is False
