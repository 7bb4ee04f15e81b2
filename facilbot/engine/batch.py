"""Coalesce the runners' database writes: many claims (or outcomes) in one transaction.

When every session started on the hour, a thousand cues fall due at the same instant. Claimed
one by one, they queue behind each other on the database (SQLite serialises writers; each
PostgreSQL round trip costs a few milliseconds), and the last cue goes out seconds late. The
runners still decide what to claim; this module only gathers what they ask for while the
previous batch is in flight and writes it together. A batch is the same atomic, lease-checked
claim as a single one (``store.firings.claim_firings``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store import firings as store_firings
from facilbot.store.firings import FiringClaim, FiringOutcome

Request = TypeVar("Request")
Result = TypeVar("Result")

#: The largest batch written in one transaction (keeps each transaction short).
MAX_BATCH = 500


class _Coalescer(ABC, Generic[Request, Result]):
    """Queue requests; one worker writes whatever is queued, then the next lot."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: list[tuple[Request, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name=f"facilbot-{self.name}")
        return await future

    async def _drain(self) -> None:
        # Yield once so that every runner woken at this instant can queue its request.
        await asyncio.sleep(0)
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                results = await self.write([request for request, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    @abstractmethod
    async def write(self, requests: list[Request]) -> list[Result]:
        """Write ``requests`` in one transaction; one result per request, in order."""


#: Opens a write transaction (the engine's, which queues SQLite writers in-process).
Begin = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class ClaimBatcher(_Coalescer[FiringClaim, "int | None"]):
    def __init__(self, begin: Begin, instance_id: str, now: Callable[[], datetime]) -> None:
        super().__init__("claims")
        self.begin = begin
        self.instance_id = instance_id
        self.now = now

    async def write(self, requests: list[FiringClaim]) -> list[int | None]:
        async with self.begin() as connection:
            claimed = await store_firings.claim_firings(
                connection, requests, self.instance_id, claimed_at=self.now()
            )
        return [claimed.get((r.session_id, r.key)) for r in requests]


class OutcomeBatcher(_Coalescer[FiringOutcome, None]):
    def __init__(self, begin: Begin) -> None:
        super().__init__("outcomes")
        self.begin = begin

    async def write(self, requests: list[FiringOutcome]) -> list[None]:
        async with self.begin() as connection:
            await store_firings.finish_firings(connection, requests)
        return [None] * len(requests)
