"""Uploaded run-of-show texts: every distinct text of a show is kept as a numbered version."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.models import ShowVersion, table_of

_shows = table_of(ShowVersion)


@dataclass(frozen=True, slots=True)
class ShowVersionRecord:
    id: int
    name: str
    version: int
    sha256: str
    yaml_text: str
    title: str
    uploaded_at: datetime
    uploaded_by: str | None


def text_sha256(yaml_text: str) -> str:
    return hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()


async def save_show_version(
    connection: AsyncConnection,
    *,
    name: str,
    yaml_text: str,
    title: str,
    uploaded_at: datetime,
    uploaded_by: str | None,
) -> tuple[ShowVersionRecord, bool]:
    """Keep this text as the next version of ``name``; (record, created).

    Uploading a text identical to an earlier version of the same show returns that version.
    """
    digest = text_sha256(yaml_text)
    existing = await _by_hash(connection, name, digest)
    if existing is not None:
        return existing, False
    next_version = select(func.coalesce(func.max(_shows.c.version), 0) + 1).where(
        _shows.c.name == name
    )
    statement = (
        upsert_insert(connection, _shows)
        .values(
            name=name,
            version=next_version.scalar_subquery(),
            sha256=digest,
            yaml_text=yaml_text,
            title=title,
            uploaded_at=uploaded_at,
            uploaded_by=uploaded_by,
        )
        .on_conflict_do_nothing(index_elements=["name", "sha256"])
        .returning(*_shows.c)
    )
    for attempt in range(5):
        try:
            # A savepoint, so that losing a race for the next version number (two different
            # texts of one show uploaded at once on PostgreSQL) can be retried.
            async with connection.begin_nested():
                row = (await connection.execute(statement)).first()
            break
        except IntegrityError:
            if attempt == 4:
                raise
    if row is None:  # the same text was uploaded concurrently
        raced = await _by_hash(connection, name, digest)
        assert raced is not None
        return raced, False
    return ShowVersionRecord(**row._mapping), True


async def _by_hash(connection: AsyncConnection, name: str, digest: str) -> ShowVersionRecord | None:
    row = (
        await connection.execute(
            select(_shows).where(_shows.c.name == name, _shows.c.sha256 == digest)
        )
    ).first()
    return None if row is None else ShowVersionRecord(**row._mapping)


async def get_show_version(connection: AsyncConnection, id: int) -> ShowVersionRecord | None:
    row = (await connection.execute(select(_shows).where(_shows.c.id == id))).first()
    return None if row is None else ShowVersionRecord(**row._mapping)


async def show_titles(connection: AsyncConnection, ids: Iterable[int]) -> dict[int, str]:
    """The titles of the given show versions, by id (for lists of sessions)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await connection.execute(
        select(_shows.c.id, _shows.c.title).where(_shows.c.id.in_(wanted))
    )
    return {row.id: row.title for row in rows}


async def latest_show_version(connection: AsyncConnection, name: str) -> ShowVersionRecord | None:
    row = (
        await connection.execute(
            select(_shows).where(_shows.c.name == name).order_by(_shows.c.version.desc()).limit(1)
        )
    ).first()
    return None if row is None else ShowVersionRecord(**row._mapping)


async def show_versions(
    connection: AsyncConnection, name: str | None = None
) -> list[ShowVersionRecord]:
    """All versions (of one show, or of all), by name then version."""
    statement = select(_shows).order_by(_shows.c.name, _shows.c.version)
    if name is not None:
        statement = statement.where(_shows.c.name == name)
    return [ShowVersionRecord(**row._mapping) for row in await connection.execute(statement)]
