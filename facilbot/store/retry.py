"""Re-run a whole transaction when PostgreSQL aborted it for a deadlock or a serialization failure.

Row locks on ``sessions`` are taken in one order everywhere (see :mod:`facilbot.store.sessions`,
"Lock order"), so facilbot's own transactions should not deadlock each other. But the database
may still abort a transaction to break a lock cycle (``40P01`` deadlock_detected) or a
serialization conflict (``40001`` serialization_failure), for example against a statement run
by hand or by a future path. Both mean "nothing of this transaction happened, run it again":
:func:`in_transaction` does so, a bounded number of times.

The error is recognised by its SQLSTATE, read from the driver's typed exception (asyncpg's
``sqlstate``, psycopg's ``sqlstate``/``pgcode``, through SQLAlchemy's ``orig``), never from
its message. SQLite reports no SQLSTATE: its "database is locked" is handled by the busy
timeout and ``BEGIN IMMEDIATE`` (:mod:`facilbot.store.db`), not here.

A retry re-runs ``work`` in a new transaction, so ``work`` must only touch the database (and
local state it rebuilds); anything visible outside (publishing, sending) belongs after the call.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("facilbot.store")

T = TypeVar("T")

#: Opens a write transaction and yields its connection (``Engine.writing``, ``engine.begin``).
Begin = Callable[[], AbstractAsyncContextManager[AsyncConnection]]

DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
RETRYABLE = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})

#: How many times a transaction runs at most (the first run included).
ATTEMPTS = 5
#: The pause before the n-th retry is up to BACKOFF * 2**(n-1) seconds (randomised, so that two
#: transactions that met do not meet again at once).
BACKOFF = 0.02


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps: SQLAlchemy's ``DBAPIError.orig`` (the driver's exception, on
    which SQLAlchemy's asyncpg adapter copies ``sqlstate``), then the ``__cause__`` chain (the
    asyncpg exception itself)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
    return chain


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the database reported for ``error``, if any (None on SQLite)."""
    for link in _chain(error):
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(link, attribute, None)
            if isinstance(code, str) and code:
                return code
    return None


def is_retryable(error: BaseException) -> bool:
    """True for a deadlock or serialization failure: the transaction was rolled back whole."""
    return sqlstate(error) in RETRYABLE


async def in_transaction(
    begin: AsyncEngine | Begin,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
) -> T:
    """Run ``work(connection)`` in a transaction opened by ``begin``; its result.

    ``begin`` is an ``AsyncEngine`` (``engine.begin()`` is used) or a function returning a
    transaction context (``Engine.writing``). When PostgreSQL aborts the transaction for a
    deadlock or a serialization failure, the whole transaction — ``work`` included — runs
    again, at most ``attempts`` times in all; then the last error is raised. Any other error is
    raised at once. Only the error's type and SQLSTATE are logged, never its message (which may
    quote data).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    opener: Begin = begin.begin if isinstance(begin, AsyncEngine) else begin
    attempt = 1
    while True:
        try:
            async with opener() as connection:
                return await work(connection)
        except Exception as error:
            code = sqlstate(error)
            if code not in RETRYABLE or attempt >= attempts:
                raise
            # The innermost type is the driver's own (e.g. asyncpg's DeadlockDetectedError).
            log.warning(
                "%s: transaction aborted (%s, SQLSTATE %s); running it again (%d of %d)",
                getattr(work, "__qualname__", "transaction"),
                type(_chain(error)[-1]).__name__,
                code,
                attempt + 1,
                attempts,
            )
        await asyncio.sleep(random.uniform(0, BACKOFF * 2 ** (attempt - 1)))
        attempt += 1
