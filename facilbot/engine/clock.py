"""Clocks the engine runs on.

The engine never calls ``datetime.now`` or ``asyncio.sleep`` itself: it asks its clock. The real
clock runs on the event loop's own timers.

Why not APScheduler, the project's chosen scheduler: the database is the truth and a timer only
wakes a session's runner at its next due instant, so one sleeping task per session is all the
scheduling there is. DESIGN §5 measured the loop's timers at p99 ≈ 1 ms late against
APScheduler 3.11's ≈ 1.4 ms (≈ 5 ms when 200 fall due together), and its persistent job store
must never hold cue state. The few periodic jobs (the lease heartbeat, the webhook ingest
sweep, the Zoom and Teams syncs) are plain loops of a few lines each. APScheduler would add a
dependency and a second notion of time without removing any code.

The scaled clock runs show time faster than wall time for the demo. The virtual clock only moves
when a test moves it, so tests never wait and never assert wall-clock times.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` (at once if it has passed). Cancellable."""
        ...


class RealClock:
    """Wall time, slept on the loop's timers."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class ScaledClock:
    """Show time running ``speed`` times faster than wall time, from ``origin``.

    Used by ``facilbot demo`` so a 90-minute show plays in 90 seconds at 60×.
    """

    def __init__(self, speed: float, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = origin or datetime.now(UTC)
        self._start = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._start) * self.speed)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds() / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """Time that moves only when :meth:`advance` or :meth:`advance_to` is called.

    Sleepers wake in due order as time passes them; each gets the loop to run its follow-up
    work before the clock moves on, so a test sees the same order of events as production.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()
        self._settlers: list[Callable[[], Awaitable[None]]] = []

    def add_settler(self, settle: Callable[[], Awaitable[None]]) -> None:
        """Register a coroutine that returns once its owner has finished reacting to time.

        The engine registers its own "all runners idle" wait, so advancing the clock waits for
        each firing (and its database writes) before waking the next sleeper.
        """
        self._settlers.append(settle)

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._counter), future))
        await future

    def next_wake(self) -> datetime | None:
        self._drop_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + timedelta(seconds=seconds))

    async def advance_to(self, when: datetime) -> None:
        """Move time to ``when``, waking every sleeper due on the way, in order."""
        await self.settle()
        while True:
            self._drop_cancelled()
            if not self._sleepers or self._sleepers[0][0] > when:
                break
            due, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            future.set_result(None)
            await self.settle()
        self._now = max(self._now, when)
        await self.settle()

    async def settle(self) -> None:
        """Let woken tasks run until every registered owner says it is idle again."""
        for _ in range(3):
            await asyncio.sleep(0)
        for settle in self._settlers:
            await settle()

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)


async def wait_event(event: asyncio.Event, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait on the loop's real timer until ``event`` is set or ``timeout`` seconds pass;
    whether it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it loses a cancellation that arrives in the loop
    turn where the awaited thing completes (it returns the result instead of raising; 3.12
    rebuilt it on ``asyncio.timeout``). A background loop poked just as it was stopped then
    kept running and its ``stop()`` waited forever, which CI met under load.
    ``asyncio.timeout`` counts cancellations and never loses one.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


def stopping() -> bool:
    """Whether the running task has been asked to stop, even when the cancellation surfaced
    as another error (a clean-up that failed while unwinding replaces the CancelledError).

    A loop that logs and carries on after ``except Exception`` asks this first, or a stop
    that met a failing clean-up would leave the loop running and its owner waiting on it.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
