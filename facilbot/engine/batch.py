"""Coalesce the runners' database writes: many claims (or outcomes) in one transaction.

When every session started on the hour, a thousand cues fall due at the same instant. Claimed
one by one, they queue behind each other on the database (SQLite serialises writers; each
PostgreSQL round trip costs a few milliseconds), and the last cue goes out seconds late. The
runners still decide what to claim; this module only gathers what they ask for while the
previous batch is in flight and writes it together. A batch is the same atomic, lease-checked
claim as a single one (``store.firings.claim_firings``). Should PostgreSQL abort a batch's
transaction for a deadlock or a serialization failure, the whole batch is written again
(``store.retry.in_transaction``, bounded) before any runner hears of a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.outbound import outbox
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.firings import FiringClaim, FiringOutcome
from facilbot.store.retry import Begin, in_transaction

Request = TypeVar("Request")
Result = TypeVar("Result")

#: The largest batch written in one transaction (keeps each transaction short). A burst of a
#: thousand cues is one claim transaction: each transaction is a turn on SQLite's one writer,
#: and two turns let the heartbeat or an outbound write in between.
MAX_BATCH = 1000
#: How many waiting runners are resumed before the loop gets a turn: each resumed runner runs
#: its send (a fraction of a millisecond) before the next, so resuming a thousand at once held
#: the loop for hundreds of milliseconds, the stall every other session's cue waited behind.
RESUME_SLICE = 50
#: How many loop turns a batch waits at most for more requests while they keep coming. The
#: pacer lets a burst's runners on a slice per turn (``Pacer``), so a burst's requests arrive
#: over some forty turns: a batch gathers them all instead of writing (and building rows on the
#: loop) between the sends.
GATHER_TURNS = 64
#: Rows per statement inside a batch's transaction: each statement's parameters are prepared on
#: the loop, so a slice at a time keeps the loop free between them.
WRITE_SLICE = 250
#: While outcomes stream in, the next batch waits out the rest of this window (seconds) after
#: the last write. A thousand sessions with their cues spread evenly wake a few milliseconds
#: apart, so batches held one or two outcomes: five statements and two transactions per cue,
#: most of an instance's CPU (``bench/engine_scaleout.py``). The send happened before: only the
#: record waits, and a session's next item is at least a second later (two items at one moment
#: go in one wake). Streaming means at least two requests a window over the last second
#: (``_Rate``): a few sessions, and tests, write each outcome at once.
OUTCOME_LINGER = 0.05
#: A reservation waits out a linger only when its moment is at least this many lingers away
#: (reservations are written up to ``RESERVE_AHEAD``, a second, before the moment).
LINGER_HEADROOM = 4


#: How many runners woken together go on in one loop turn (``Pacer``).
PACE_SLICE = 25


class Pacer:
    """Lets runners woken at the same instant go on a slice per loop turn.

    A thousand timers due at one instant all become ready in the same loop turn, and each
    runner then ran its whole wake (timeline, send, outcome submitted) before the loop got
    control back: one stretch of every send, which stalled the loop (and every other session's
    timer) for 0.2–0.4 s on the loaded 2-core machine. Through the pacer, each turn runs at
    most ``per_turn`` of them, so the loop's timers and I/O run between slices; the sends keep
    their order (first come, first through). Costs a comparison when nothing is queued.
    """

    def __init__(self, per_turn: int = PACE_SLICE) -> None:
        self.per_turn = per_turn
        self._passed = 0  # runners through in the current turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._ticking = False

    async def turn(self) -> None:
        if not self._ticking:
            # The turn's count resets at the next loop turn (and at every one while busy).
            self._ticking = True
            asyncio.get_running_loop().call_soon(self._next_turn)
        if self._passed < self.per_turn and not self._waiting:
            self._passed += 1
            return
        waiting = asyncio.get_running_loop().create_future()
        self._waiting.append(waiting)
        try:
            await waiting
        except asyncio.CancelledError:
            if not waiting.done() or waiting.cancelled():
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiting)
            raise

    def _next_turn(self) -> None:
        self._passed = 0
        while self._waiting and self._passed < self.per_turn:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_result(None)  # resumes in the next turn, with this slice
                self._passed += 1
        if self._waiting or self._passed:
            asyncio.get_running_loop().call_soon(self._next_turn)
        else:
            self._ticking = False


class _Coalescer(ABC, Generic[Request, Result]):
    """Queue requests; one worker writes whatever is queued, then the next lot.

    ``linger``: while requests stream in (at least two a window over the last second, see
    ``_Rate``), a batch waits out the rest of the window begun by the last write, so that a
    steady stream is written a window at a time; 0 writes as soon as the requests of the
    current instant are in.
    """

    def __init__(self, name: str, linger: float = 0.0) -> None:
        self.name = name
        self.linger = linger
        self._queue: list[tuple[Request, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._last_write = -float("inf")  # loop time of the last write
        self._rate = _Rate()

    async def submit(self, request: Request) -> Result:
        return await self.enqueue(request)

    def enqueue(self, request: Request) -> asyncio.Future[Result]:
        """Queue ``request`` and return the future of its result, without waiting for it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((request, future))
        if self.linger:
            self._rate.count(loop.time())
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name=f"facilbot-{self.name}")
        return future

    async def _drain(self) -> None:
        # Yield while requests keep arriving, so that every runner woken at this instant can
        # queue its request: runners woken by one timer reach here a few loop turns apart
        # (timer, wait, task), and a single yield split a burst of 1,000 into 26 transactions.
        for _ in range(GATHER_TURNS):
            queued = len(self._queue)
            await asyncio.sleep(0)
            if len(self._queue) == queued:
                break
        loop = asyncio.get_running_loop()
        if self.linger and self._rate.per_second >= 2 / self.linger and self._may_wait():
            wait = self._last_write + self.linger - loop.time()
            if 0 < wait <= self.linger:
                await asyncio.sleep(wait)
        while self._queue:
            self._last_write = loop.time()
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                results = await self.write([request for request, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for start in range(0, len(batch), RESUME_SLICE):
                if start:
                    await asyncio.sleep(0)  # let the loop run between slices
                for (_, future), result in zip(
                    batch[start : start + RESUME_SLICE],
                    results[start : start + RESUME_SLICE],
                    strict=True,
                ):
                    if not future.done():
                        future.set_result(result)

    def _may_wait(self) -> bool:
        """Whether the queued requests may wait out a linger (all of them, by default)."""
        return True

    @abstractmethod
    async def write(self, requests: list[Request]) -> list[Result]:
        """Write ``requests`` in one transaction; one result per request, in order."""


class _Rate:
    """Requests per second over the last whole second (loop time): cheap enough to count every
    request, and a second is long enough to tell a stream from a few requests together."""

    def __init__(self) -> None:
        self.per_second = 0.0
        self._since = -float("inf")
        self._seen = 0

    def count(self, now: float) -> None:
        if now - self._since >= 1.0:
            # Two seconds or more since the count began means a gap: no stream.
            self.per_second = self._seen / (now - self._since) if now - self._since < 2 else 0
            self._since, self._seen = now, 0
        self._seen += 1


class Turns:
    """This process's turns on SQLite's one writer, claims first.

    SQLite has one writer at a time, and writers that collide wait in its busy handler, which
    sleeps in steps of up to 100 ms: this process's writers queue here instead. A plain FIFO
    lock put a burst's claims behind every outcome, heartbeat and outbox write queued before
    them, and a cue is only sent once claimed; so an urgent writer (a claim) takes the next
    turn, and the others take theirs in arrival order.
    """

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._busy:
            waiting = asyncio.get_running_loop().create_future()
            queue = self._urgent if urgent else self._others
            queue.append(waiting)
            try:
                await waiting
            except asyncio.CancelledError:
                if waiting.done() and not waiting.cancelled():
                    self._next()  # handed the turn just as it was cancelled: pass it on
                else:
                    queue.remove(waiting)
                raise
        self._busy = True
        try:
            yield
        finally:
            self._next()

    def _next(self) -> None:
        for queue in (self._urgent, self._others):
            while queue:
                waiting = queue.popleft()
                if not waiting.done():
                    waiting.set_result(None)  # the turn passes on: still busy
                    return
        self._busy = False


class ClaimBatcher(_Coalescer[FiringClaim, "int | None"]):
    """Claims, and reservations (claims written ahead of their moment).

    ``begin`` opens a write transaction: the engine's, which queues SQLite writers in-process.
    With a ``linger``, a stream of reservations is written a window at a time like outcomes,
    but only while every queued one's moment is at least ``LINGER_HEADROOM`` lingers away: a
    claim wanted now (nothing reserved) or soon never waits.
    """

    def __init__(
        self, begin: Begin, instance_id: str, now: Callable[[], datetime], linger: float = 0.0
    ) -> None:
        super().__init__("reservations" if linger else "claims", linger)
        self.begin = begin
        self.instance_id = instance_id
        self.now = now

    def _may_wait(self) -> bool:
        soonest = min(request.planned_at for request, _ in self._queue)
        headroom = timedelta(seconds=self.linger * LINGER_HEADROOM)
        return soonest - self.now() > headroom

    async def write(self, requests: list[FiringClaim]) -> list[int | None]:
        async def claim(connection: AsyncConnection) -> dict[tuple[str, str], int]:
            return await store_firings.claim_firings(
                connection, requests, self.instance_id, claimed_at=self.now()
            )

        claimed = await in_transaction(self.begin, claim)
        return [claimed.get((r.session_id, r.key)) for r in requests]


class OutcomeBatcher(_Coalescer[FiringOutcome, None]):
    def __init__(self, begin: Begin, linger: float = OUTCOME_LINGER) -> None:
        super().__init__("outcomes", linger)
        self.begin = begin

    async def write(self, requests: list[FiringOutcome]) -> list[None]:
        # A transaction per slice: on SQLite each is one turn on the writer, so a claim never
        # waits behind more than one slice of outcomes (their events make them the slow write).
        for start in range(0, len(requests), WRITE_SLICE):
            chunk = requests[start : start + WRITE_SLICE]

            async def finish(
                connection: AsyncConnection, chunk: list[FiringOutcome] = chunk
            ) -> None:
                await store_firings.finish_firings(connection, chunk)
                await outbox.firings_finished(connection, [r.firing_id for r in chunk])

            await in_transaction(self.begin, finish)
        return [None] * len(requests)


class Loader(_Coalescer[str, Result]):
    """Reads for many sessions in one round trip: runners that wake together (a thousand
    sessions adopted at start, a burst of controls) each ask for their own rows, and the
    queued asks are answered by one read of all of them instead of one connection each."""

    def __init__(
        self, name: str, read: Callable[[list[str]], Awaitable[Mapping[str, Result]]]
    ) -> None:
        super().__init__(name)
        self._read = read

    async def write(self, requests: list[str]) -> list[Result]:
        found = await self._read(sorted(set(requests)))
        return [found[session_id] for session_id in requests]


class Writer(_Coalescer[Request, Result]):
    """Writes that many runners make at the same moment (their first write at start, the
    status change to running), in one transaction. ``work`` gets the batch and its connection
    and returns one result per request; the transaction re-runs whole on a deadlock or a
    serialization failure (``store.retry.in_transaction``)."""

    def __init__(
        self,
        name: str,
        begin: Begin,
        work: Callable[[AsyncConnection, list[Request]], Awaitable[list[Result]]],
        linger: float = 0.0,
    ) -> None:
        super().__init__(name, linger)
        self.begin = begin
        self._work = work

    async def write(self, requests: list[Request]) -> list[Result]:
        async def batch(connection: AsyncConnection) -> list[Result]:
            return await self._work(connection, requests)

        batch.__qualname__ = f"{self.name} batch"
        return await in_transaction(self.begin, batch)


#: How far another instance's clock may run ahead of ours (NTP keeps them within milliseconds):
#: a reservation it left is given back only when its moment is at least this far off, since it
#: sends on its own clock (see ``store.firings.release_unsent_many``).
CLOCK_SKEW = timedelta(seconds=0.25)


@dataclass(frozen=True, slots=True)
class FirstWrite:
    """A runner's first write: give back the reservations whose moment has not come, close out
    the claims that may have been sent (interrupted), mark the session waiting."""

    session_id: str
    interrupted: bool  # it read claims never sent (a stop came between claim and send)
    attached: bool  # still "attached": it becomes "waiting" now that a runner holds it
    at: datetime
    owner: str = ""  # the instance starting the runner (releases need its lease)


@dataclass(frozen=True, slots=True)
class FirstWritten:
    interrupted: list[int]  # firing ids closed out as interrupted
    released: list[str]  # keys whose reservation was given back (to be claimed again)


async def first_writes(
    connection: AsyncConnection, requests: list[FirstWrite]
) -> list[FirstWritten]:
    """The batch of :class:`FirstWrite`, per request."""
    unsent = [r for r in requests if r.interrupted]
    released: dict[str, list[str]] = {}
    for owner in sorted({r.owner for r in unsent}):
        mine = [r for r in unsent if r.owner == owner]
        at = min(r.at for r in mine)
        released.update(
            await store_firings.release_unsent_many(
                connection,
                [r.session_id for r in mine],
                owner,
                after=at,
                others_after=at + CLOCK_SKEW,
            )
        )
    closed = await store_firings.mark_interrupted_many(connection, [r.session_id for r in unsent])
    waiting = {r.session_id: r.at for r in requests if r.attached}
    if waiting:
        await store_sessions.set_sessions_status(connection, waiting, "waiting")
    return [
        FirstWritten(closed.get(r.session_id, []), released.get(r.session_id, [])) for r in requests
    ]


async def announce(
    connection: AsyncConnection, requests: list[tuple[outbox.Once, ...]]
) -> list[None]:
    """The batch of runners' time-driven events (``segment.started``): a thousand shows
    started on the hour cross their segment boundaries together, and a transaction each
    queued them on SQLite's writer ahead of the next cues (p99 1.4 s instead of 0.12 s in
    ``bench/engine_punctuality.py``)."""
    await outbox.add_once_many(connection, [event for request in requests for event in request])
    return [None] * len(requests)
