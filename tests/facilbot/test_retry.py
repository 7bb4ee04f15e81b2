"""Re-running a transaction the database aborted (``facilbot.store.retry``).

The deadlock here is a real one: two connections lock two session rows in opposite orders,
interleaved by events, and PostgreSQL aborts one of them (``40P01``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import exc, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facilbot.store import retry, sessions
from facilbot.store.models import Session, table_of
from facilbot.store.retry import in_transaction, is_retryable, sqlstate
from tests.facilbot.test_store import new_session

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

_sessions = table_of(Session)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF", 0.0)


async def bump(connection: AsyncConnection, session_id: str) -> None:
    """Lock the session's row the way appending a control does (``UPDATE … version``)."""
    await connection.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id)
        .values(version=_sessions.c.version + 1)
    )


async def version(engine: AsyncEngine, session_id: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(_sessions.c.version).where(_sessions.c.id == session_id)
        )
    assert found is not None
    return int(found)


def crossing(
    runs: Counter[str], first: str, second: str, mine: asyncio.Event, theirs: asyncio.Event
) -> Callable[[AsyncConnection], Awaitable[str]]:
    """A transaction that locks ``first``, waits until the other one locked its first row, then
    locks ``second``: run against its mirror image, one of the two must deadlock."""

    async def work(connection: AsyncConnection) -> str:
        runs[first] += 1
        await bump(connection, first)
        mine.set()
        await asyncio.wait_for(theirs.wait(), timeout=30)
        await bump(connection, second)
        return first

    return work


async def two_rows(engine: AsyncEngine) -> tuple[str, str]:
    async with engine.begin() as connection:
        return await new_session(connection, "m-a"), await new_session(connection, "m-b")


@POSTGRES_ONLY
async def test_a_real_deadlock_is_retried_and_both_transactions_commit(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = await two_rows(engine)
    runs: Counter[str] = Counter()
    a_locked, b_locked = asyncio.Event(), asyncio.Event()
    caplog.set_level(logging.WARNING, logger="facilbot.store")
    done = await asyncio.wait_for(
        asyncio.gather(
            in_transaction(engine, crossing(runs, a, b, a_locked, b_locked)),
            in_transaction(engine, crossing(runs, b, a, b_locked, a_locked)),
        ),
        timeout=60,
    )
    assert done == [a, b]
    # PostgreSQL aborted exactly one of them once; that one ran again and committed.
    assert sorted(runs.values()) == [1, 2]
    retried = [r for r in caplog.records if "transaction aborted" in r.getMessage()]
    assert len(retried) == 1
    assert "DeadlockDetectedError" in retried[0].getMessage()
    assert "40P01" in retried[0].getMessage()
    # Each committed transaction bumped both rows once; the aborted run left nothing.
    assert await version(engine, a) == 2
    assert await version(engine, b) == 2


@POSTGRES_ONLY
async def test_without_retries_the_deadlock_reaches_the_caller_by_its_sqlstate(
    engine: AsyncEngine,
) -> None:
    """The same crossing with one attempt each: what the retry hides is a real 40P01."""
    a, b = await two_rows(engine)
    runs: Counter[str] = Counter()
    a_locked, b_locked = asyncio.Event(), asyncio.Event()
    results = await asyncio.wait_for(
        asyncio.gather(
            in_transaction(engine, crossing(runs, a, b, a_locked, b_locked), attempts=1),
            in_transaction(engine, crossing(runs, b, a, b_locked, a_locked), attempts=1),
            return_exceptions=True,
        ),
        timeout=60,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], exc.DBAPIError)
    assert sqlstate(errors[0]) == retry.DEADLOCK_DETECTED
    assert is_retryable(errors[0])
    assert runs == Counter({a: 1, b: 1})


@POSTGRES_ONLY
async def test_retries_are_bounded(engine: AsyncEngine) -> None:
    runs = 0

    async def always_conflicts(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(
            text(
                "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure';"
                " END $$"
            )
        )

    with pytest.raises(exc.DBAPIError) as raised:
        await in_transaction(engine, always_conflicts, attempts=3)
    assert sqlstate(raised.value) == retry.SERIALIZATION_FAILURE
    assert runs == 3


async def test_a_non_retryable_database_error_is_raised_at_once(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        taken = await new_session(connection)
    runs = 0

    async def duplicate(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await new_session(connection, "m-ok")  # rolled back with the rest
        record = await sessions.get_session(connection, taken)
        assert record is not None
        await sessions.create_session(
            connection,
            show_version_id=record.show_version_id,
            platform="sim",
            meeting_ref="m-2",
            created_at=record.created_at,
            session_id=taken,
        )

    with pytest.raises(exc.IntegrityError) as raised:
        await in_transaction(engine, duplicate)
    assert runs == 1
    assert not is_retryable(raised.value)
    async with engine.connect() as connection:
        assert await sessions.sessions_for_meeting(connection, "sim", "m-ok") == []


async def test_other_errors_are_raised_at_once_and_results_come_back(engine: AsyncEngine) -> None:
    runs = 0

    async def fails(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        raise ValueError("not the database's doing")

    with pytest.raises(ValueError, match="not the database"):
        await in_transaction(engine, fails)
    assert runs == 1

    async def answer(connection: AsyncConnection) -> int:
        return int(await connection.scalar(text("SELECT 41 + 1")) or 0)

    assert await in_transaction(engine, answer) == 42
    with pytest.raises(ValueError, match="attempts"):
        await in_transaction(engine, answer, attempts=0)


def test_the_classification_reads_the_sqlstate_never_the_message() -> None:
    class DriverError(Exception):
        def __init__(self, message: str, code: str | None) -> None:
            super().__init__(message)
            self.sqlstate = code

    # A deadlock wrapped the way SQLAlchemy wraps the driver's error, whatever its message.
    wrapped = exc.OperationalError("UPDATE sessions", {}, DriverError("no words here", "40P01"))
    assert sqlstate(wrapped) == "40P01" and is_retryable(wrapped)
    # The driver's error as the adapter's ``__cause__`` (asyncpg under SQLAlchemy).
    outer = exc.DBAPIError("UPDATE sessions", {}, Exception("adapter"))
    outer.orig.__cause__ = DriverError("x", "40001")
    assert is_retryable(outer)
    # The words alone do not count; nor does another SQLSTATE.
    assert not is_retryable(Exception("deadlock detected"))
    assert not is_retryable(DriverError("deadlock detected", "23505"))
    # SQLite's busy error has no SQLSTATE: its busy timeout deals with it, not a retry.
    busy = exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    assert sqlstate(busy) is None and not is_retryable(busy)
