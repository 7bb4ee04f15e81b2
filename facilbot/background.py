"""Background work of a platform runtime (Teams, Zoom): what runs after a webhook's answer.

A runtime spawns work so the HTTP answer never waits on a platform call; a failure there is
logged by its type only (a message may quote a payload) and never raised into the service.
A busy count and an idle event let the virtual clock wait until the work has settled, so
tests move time without racing it. A periodic ``sync`` runs on real time, like the engine's
maintenance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import Any

from facilbot.engine.clock import Clock, VirtualClock, stopping, wait_event


class BackgroundWork(ABC):
    """Spawned work, a busy count the virtual clock settles on, and a periodic sync."""

    def __init__(
        self, clock: Clock, *, label: str, log: logging.Logger, sync_interval: float | None
    ) -> None:
        self.label = label  # "Teams", "Zoom": in log lines and task names
        self.log = log
        self.sync_interval = sync_interval
        self.counters: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        if isinstance(clock, VirtualClock):
            clock.add_settler(self.settle)

    @abstractmethod
    async def sync(self) -> None:
        """The periodic pass over the platform's sessions."""

    async def start(self) -> None:
        if self.sync_interval:
            self._loop_task = asyncio.create_task(
                self._sync_loop(), name=f"facilbot-{self.label.lower()}-sync"
            )

    async def stop(self) -> None:
        await self._cancel(())

    async def _cancel(self, others: Iterable[asyncio.Task[None]]) -> None:
        """Cancel the sync loop, spawned work and ``others``, and wait for them to end."""
        tasks = [*self._tasks, *others]
        if self._loop_task is not None:
            tasks.append(self._loop_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._loop_task = None

    async def settle(self) -> None:
        """Return once no work is running (the virtual clock waits on this in tests)."""
        for _ in range(1000):
            for _ in range(5):
                await asyncio.sleep(0)
            if self._busy == 0:
                return
            await wait_event(self._idle, 5)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``work`` after the HTTP answer; failures are logged by type, never raised."""
        self._enter()

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._failed(name, error)
            finally:
                self._leave()

        task = asyncio.create_task(run(), name=f"facilbot-{self.label.lower()}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, name: str, error: Exception) -> None:
        self.log.warning("%s %s failed (%s)", self.label, name, type(error).__name__)

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _enter(self) -> None:
        self._busy += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._idle.set()

    @contextlib.asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        self._enter()
        try:
            yield
        finally:
            self._leave()

    async def _sync_loop(self) -> None:
        # Real time, like the engine's maintenance: attaches and ends are noticed here; what
        # is due later is woken on the engine's clock by the runtime's own timers.
        assert self.sync_interval
        while True:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if stopping():
                    raise
                self.log.warning(
                    "%s sync failed (%s); will retry", self.label, type(error).__name__
                )
            await asyncio.sleep(self.sync_interval)
