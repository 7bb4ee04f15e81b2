"""Received platform events: de-duplication on arrival, then processing after the ack."""

from __future__ import annotations

from collections.abc import Mapping
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


async def unprocessed_events(connection: AsyncConnection, limit: int = 100) -> list[StoredEvent]:
    """Events received but not processed yet (the service stopped after the ack), oldest first."""
    rows = await connection.execute(
        select(_events).where(_events.c.processed_at.is_(None)).order_by(_events.c.id).limit(limit)
    )
    return [StoredEvent(**row._mapping) for row in rows]
