"""Opening the database: the async engine, SQLite's settings, and the single-instance guard.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
``BEGIN IMMEDIATE`` so that a writer takes the write lock up front instead of failing later with
"database is locked" when a read transaction tries to upgrade. Read-only work can ask for a
deferred ``BEGIN`` with :func:`reading`. PostgreSQL goes through asyncpg.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event, literal_column
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

from facilbot.settings import Settings, async_database_url, redact_url
from facilbot.store.types import UTCDateTime

#: Execution option asking SQLite for a deferred (read) transaction instead of BEGIN IMMEDIATE.
READ_ONLY = "facilbot_read_only"
SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseInUse(Exception):
    """Another facilbot process already uses this SQLite database."""


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL; None for PostgreSQL and for in-memory databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser().resolve()


def create_engine(settings: Settings | str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for the configured database (a URL string is accepted too)."""
    url = settings.database_url if isinstance(settings, Settings) else async_database_url(settings)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if importlib.util.find_spec("asyncpg") is None:
        raise ModuleNotFoundError(
            "PostgreSQL needs the asyncpg driver: pip install 'facilbot[postgres]'"
        )
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    path = sqlite_path(url)
    options: dict[str, Any] = {"echo": echo}
    if path is None:
        # One shared connection, or every connection would see its own empty database.
        options["poolclass"] = StaticPool
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            # Safe against a crashed process in WAL mode; only power loss can lose the last
            # commits.
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction (deferred on SQLite, so it does not queue behind writers)."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(**{READ_ONLY: True})
        async with connection.begin():
            yield connection


def db_now(dialect_name: str, plus_seconds: float | None = None) -> ColumnElement[Any]:
    """The database's clock as an SQL expression, comparable with stored timestamps.

    Leases are decided on this clock only, so instances with skewed clocks agree.
    """
    if dialect_name == "sqlite":
        # Same fixed-width text as UTCDateTime stores: '%f' gives milliseconds, pad to micro.
        modifier = "" if plus_seconds is None else f", '{float(plus_seconds):+.3f} seconds'"
        sql = f"(strftime('%Y-%m-%d %H:%M:%f', 'now'{modifier}) || '000')"
    elif plus_seconds is None:
        # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
        sql = "clock_timestamp()"
    else:
        sql = f"(clock_timestamp() + make_interval(secs => {float(plus_seconds)!r}))"
    return literal_column(sql, type_=UTCDateTime())


# ---------------------------------------------------------------------------------------------
# One process per SQLite database


@dataclass
class InstanceLock:
    """An exclusive lock on ``<database>.lock``, held for the life of the process."""

    path: Path
    _file: IO[str] | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def acquire_instance_lock(database_url: str) -> InstanceLock | None:
    """Make sure no other process uses this SQLite database; None when no lock is needed.

    Raises :class:`DatabaseInUse` with a message naming the other process.
    """
    path = sqlite_path(async_database_url(database_url))
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DatabaseInUse(
            f"another facilbot process (pid {holder}) is using the SQLite database {path}. "
            "SQLite supports a single facilbot instance: stop the other one, or point every "
            "instance at PostgreSQL with FACILBOT_DATABASE_URL."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return InstanceLock(lock_path, handle)


# ---------------------------------------------------------------------------------------------
# The whole thing, as the service opens it


@dataclass
class Database:
    """An engine on a migrated database, an ORM session factory, and the instance lock."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    lock: InstanceLock | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()
        if self.lock is not None:
            self.lock.release()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def open_database(
    settings: Settings, *, migrate: bool = True, single_instance: bool = True
) -> Database:
    """Lock (SQLite), migrate to the latest schema, and return the open database."""
    lock = acquire_instance_lock(settings.database_url) if single_instance else None
    engine = create_engine(settings)
    try:
        if migrate:
            from facilbot.store.migrate import upgrade

            await upgrade(engine)
    except BaseException:
        await engine.dispose()
        if lock is not None:
            lock.release()
        raise
    return Database(engine, session_factory(engine), lock)


def describe(database_url: str) -> str:
    """A human description of the database, without its password."""
    path = sqlite_path(database_url)
    if path is not None:
        return f"SQLite {path}"
    return redact_url(database_url)
