"""Small helpers shared by the repository modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def upsert_insert(connection: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update`` on both databases."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(
        f"unsupported database {connection.dialect.name!r}: facilbot runs on SQLite or PostgreSQL"
    )
