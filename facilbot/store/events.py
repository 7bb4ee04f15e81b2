"""Received platform events: de-duplication on arrival, then processing after the ack."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.models import PlatformEvent, table_of

_events = table_of(PlatformEvent)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    platform: str
    event_id: str
    type: str
    meeting_ref: str | None
    received_at: datetime
    processed_at: datetime | None
    payload: Mapping[str, Any]


async def record_platform_event(
    connection: AsyncConnection,
    *,
    platform: str,
    event_id: str,
    type: str,
    meeting_ref: str | None,
    payload: Mapping[str, Any],
    received_at: datetime,
) -> bool:
    """Store an event once; False when (platform, event_id) was already received.

    ``payload`` must already be stripped of secrets (tokens, signatures).
    """
    statement = (
        upsert_insert(connection, _events)
        .values(
            platform=platform,
            event_id=event_id,
            type=type,
            meeting_ref=meeting_ref,
            payload=dict(payload),
            received_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(_events.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def record_platform_events(
    connection: AsyncConnection, events: Sequence[Mapping[str, Any]]
) -> set[tuple[str, str]]:
    """Store many events once each; the (platform, event_id) of those stored now.

    ``events`` are mappings of the arguments of :func:`record_platform_event`. One statement
    for the whole batch (SQLAlchemy sends an executemany with RETURNING as multi-row INSERTs):
    a statement per event costs a round trip each while SQLite's write lock is held. A key
    given twice is stored once and returned once.
    """
    if not events:
        return set()
    statement = (
        upsert_insert(connection, _events)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(_events.c.platform, _events.c.event_id)
    )
    rows = [{**event, "payload": dict(event["payload"])} for event in events]
    result = await connection.execute(statement, rows)
    return {(row.platform, row.event_id) for row in result}


async def mark_event_processed(
    connection: AsyncConnection, platform: str, event_id: str, at: datetime
) -> bool:
    result = await connection.execute(
        update(_events)
        .where(
            _events.c.platform == platform,
            _events.c.event_id == event_id,
            _events.c.processed_at.is_(None),
        )
        .values(processed_at=at)
    )
    return result.rowcount == 1


async def mark_events_processed(
    connection: AsyncConnection,
    keys: Iterable[tuple[str, str]],
    at: datetime,
    *,
    chunk: int = 500,
) -> int:
    """Mark these (platform, event_id) as processed; how many were not processed before.

    One UPDATE per platform and ``chunk`` ids instead of one per event: the ingest worker
    marks a whole run at once, and each statement is a round trip that holds SQLite's write
    lock. 500 stays far below SQLite's limit on bound parameters.
    """
    by_platform: dict[str, list[str]] = {}
    for platform, event_id in dict.fromkeys(keys):
        by_platform.setdefault(platform, []).append(event_id)
    marked = 0
    for platform, event_ids in by_platform.items():
        for start in range(0, len(event_ids), chunk):
            result = await connection.execute(
                update(_events)
                .where(
                    _events.c.platform == platform,
                    _events.c.event_id.in_(event_ids[start : start + chunk]),
                    _events.c.processed_at.is_(None),
                )
                .values(processed_at=at)
            )
            marked += result.rowcount
    return marked


async def unprocessed_events(connection: AsyncConnection, limit: int = 100) -> list[StoredEvent]:
    """Events received but not processed yet (the service stopped after the ack), oldest first."""
    rows = await connection.execute(
        select(_events).where(_events.c.processed_at.is_(None)).order_by(_events.c.id).limit(limit)
    )
    return [StoredEvent(**row._mapping) for row in rows]
