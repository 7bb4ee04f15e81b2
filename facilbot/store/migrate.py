"""Alembic, configured in code (no ``alembic.ini``): the one path that upgrades the schema.

The scripts live in ``facilbot/store/migrations/`` and ship in the wheel.

``facilbot migrate``, ``facilbot serve`` and the test fixtures all call :func:`upgrade`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Any constant: serialises concurrent migrations from instances starting together on PostgreSQL.
_PG_MIGRATION_LOCK = 0x66616369


class MigrationsMissing(Exception):
    """The Alembic scripts are not where facilbot expects them."""


def migrations_dir() -> Path:
    """The Alembic environment and the core's scripts, shipped inside the package (so an
    installed wheel migrates)."""
    path = Path(__file__).resolve().parent / "migrations"
    if not (path / "env.py").is_file():
        raise MigrationsMissing(f"the database migrations were not found at {path}")
    return path


def version_locations() -> list[Path]:
    """Where the scripts are: the core's, then each platform's own ``migrations/`` folder.

    Found by path, not by import, so the store stays closed to the platforms; the scripts
    form one linear history across the folders (each names the revision before it).
    """
    platforms = Path(__file__).resolve().parents[1] / "platforms"
    return [migrations_dir() / "versions", *sorted(platforms.glob("*/migrations"))]


def alembic_config(
    connection: Connection | None = None, metadata: MetaData | None = None
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(str(path) for path in version_locations())
    )
    # env.py runs on this connection; it never opens its own.
    config.attributes["connection"] = connection
    # Only autogenerate needs the models; the caller hands over the metadata with every
    # platform's tables on it (``facilbot.platforms.registry.metadata``), so the store never
    # imports a platform.
    config.attributes["metadata"] = metadata
    return config


@dataclass(frozen=True, slots=True)
class Step:
    revision: str
    description: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    before: str | None
    after: str | None
    applied: tuple[Step, ...]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _steps(before: str | None, after: str | None, *, down: bool) -> tuple[Step, ...]:
    if before == after:
        return ()
    script = ScriptDirectory.from_config(alembic_config())
    if down:
        revisions = list(script.iterate_revisions(before or "base", after or "base"))
    else:
        revisions = list(
            reversed(list(script.iterate_revisions(after or "base", before or "base")))
        )
    return tuple(
        Step(r.revision, r.doc or "") for r in revisions if r.revision != after or not down
    )


async def _run(engine: AsyncEngine, fn: Any, revision: str, *, down: bool) -> MigrationReport:
    def work(connection: Connection) -> MigrationReport:
        _lock(connection)
        before = _current(connection)
        fn(alembic_config(connection), revision)
        after = _current(connection)
        return MigrationReport(before, after, _steps(before, after, down=down))

    async with engine.begin() as connection:
        return await connection.run_sync(work)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> MigrationReport:
    """Bring the schema up to ``revision`` in one transaction."""
    return await _run(engine, command.upgrade, revision, down=False)


async def downgrade(engine: AsyncEngine, revision: str) -> MigrationReport:
    return await _run(engine, command.downgrade, revision, down=True)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def schema_differences(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """What autogenerate would change to make the database match ``metadata`` (empty = in
    sync); pass ``facilbot.platforms.registry.metadata()`` for every table facilbot has."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


async def new_revision(
    engine: AsyncEngine, metadata: MetaData, message: str, rev_id: str | None = None
) -> None:
    """Write a new migration script from the difference between ``metadata`` and the
    database (see :func:`schema_differences` for which metadata)."""

    def work(connection: Connection) -> None:
        command.revision(
            alembic_config(connection, metadata),
            message=message,
            autogenerate=True,
            rev_id=rev_id,
        )

    async with engine.connect() as connection:
        await connection.run_sync(work)


class SchemaNotCurrent(Exception):
    """The database is not at the latest migration."""


async def require_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaNotCurrent` unless the schema is at head (for tools that only read
    and write rows and must not migrate behind a running service's back)."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the database schema is at {current or 'nothing (empty database)'}, "
            f"facilbot needs {head}: run `facilbot migrate` first"
        )
