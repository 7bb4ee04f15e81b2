"""Many events queued at once go a statement per ROWS_PER_STATEMENT rows: none lost at the
chunks' edges, the once-only events still once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from facilbot.outbound import outbox, tables
from facilbot.store.db import Database

AT = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
MANY = outbox.ROWS_PER_STATEMENT * 2 + 7


async def count(store: Database, type: str) -> int:
    async with store.engine.connect() as connection:
        query = select(func.count()).select_from(tables.events).where(tables.events.c.type == type)
        return int((await connection.execute(query)).scalar_one())


async def test_many_events_are_all_queued_across_chunks(store: Database) -> None:
    async with store.engine.begin() as connection:
        await outbox.add_many(
            connection,
            [("session.started", {"session_id": f"s{n}", "at": AT}, None) for n in range(MANY)],
            AT,
        )
    assert await count(store, "session.started") == MANY


async def test_once_only_events_stay_once_across_chunks(store: Database) -> None:
    events = [
        outbox.Once("segment.started", {"key": f"k{n}"}, AT, "s", once_key=f"k{n}")
        for n in range(MANY)
    ]
    for _ in range(2):
        async with store.engine.begin() as connection:
            await outbox.add_once_many(connection, events)
    assert await count(store, "segment.started") == MANY
