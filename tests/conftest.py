"""Database fixtures: the database suite runs on SQLite and on PostgreSQL.

``database_url`` is parametrised over both. PostgreSQL is the server at
``FACILBOT_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``); a
throwaway database is created in it for the test session and dropped afterwards. When the
server cannot be reached the PostgreSQL cases are skipped with the reason, unless
``FACILBOT_TEST_REQUIRE_POSTGRES=1`` (CI), where they fail.

Schemas are built with the same code path as ``facilbot migrate`` (Alembic).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from facilbot.settings import redact_url
from facilbot.store.db import Database, create_engine, session_factory
from facilbot.store.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")

DB_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def run_in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in another thread.

    Session-scoped setup uses this so it never touches the event loop of the test running.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _plain(url: str) -> str:
    """asyncpg wants postgresql://, without SQLAlchemy's +driver."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_plain(url), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin URL, after checking that it answers."""
    url = os.environ.get("FACILBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        run_in_thread(lambda: _admin(url, "SELECT 1"))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {redact_url(url)}: {type(exc).__name__}: {exc}"
        if os.environ.get("FACILBOT_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (FACILBOT_TEST_REQUIRE_POSTGRES=1: PostgreSQL is required)")
        pytest.skip(reason)
    return url


class PostgresDatabases:
    """Creates throwaway databases in the test server and drops them at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"facilbot_test_{os.getpid()}_{secrets.token_hex(4)}"
        run_in_thread(lambda: _admin(self.server_url, f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return _with_database(self.server_url, name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        assert name in self.created
        run_in_thread(
            lambda: _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(_with_database(self.server_url, name))


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def _postgres_migrated(postgres_databases: PostgresDatabases) -> str:
    """One migrated PostgreSQL database for the whole test session (emptied between tests)."""
    url = postgres_databases.create()
    run_in_thread(lambda: _migrate(url))
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_in_thread(lambda: _migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=DB_KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(
    db_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A new, empty (unmigrated) database of each kind, dropped after the test."""
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


async def _empty_all_tables(url: str) -> None:
    """Delete every row the previous test left, in every table the migrations created.

    DELETE in foreign-key order rather than TRUNCATE: on tables this small it is several
    times faster.
    """
    import asyncpg

    connection = await asyncpg.connect(_plain(url), timeout=5)
    try:
        tables = [
            row["relname"]
            for row in await connection.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'"
            )
        ]
        references = [
            (row["child"], row["parent"])
            for row in await connection.fetch(
                "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent "
                "FROM pg_constraint WHERE contype = 'f'"
            )
        ]
        async with connection.transaction():
            for table in _children_first(tables, references):
                await connection.execute(f'DELETE FROM "{table}"')
    finally:
        await connection.close()


def _children_first(tables: list[str], references: list[tuple[str, str]]) -> list[str]:
    ordered: list[str] = []
    remaining = set(tables)
    while remaining:
        leaves = sorted(
            table
            for table in remaining
            if not any(parent == table and child in remaining for child, parent in references)
            or all(child == table for child, parent in references if parent == table)
        )
        if not leaves:  # a reference cycle: let the database complain
            leaves = sorted(remaining)
        ordered += leaves
        remaining -= set(leaves)
    return ordered


@pytest.fixture
async def database_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of each kind (SQLite file per test; PostgreSQL emptied)."""
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "facilbot.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_migrated")
    await _empty_all_tables(url)
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database of each kind."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> Database:
    """The migrated database as the service opens it: engine + ORM session factory."""
    return Database(engine, session_factory(engine))
