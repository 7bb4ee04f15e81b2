"""Sessions: a show version attached to one meeting, and its lifecycle status."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store.models import SESSION_STATUSES, Session, table_of

_sessions = table_of(Session)

# The lifecycle only moves forward: attached → waiting → running → ended.
_ORDER = {status: index for index, status in enumerate(SESSION_STATUSES)}


class UnknownSession(LookupError):
    """No session has this id."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    show_version_id: int
    platform: str
    meeting_ref: str
    status: str
    planned_start: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    owner: str | None
    lease_until: datetime | None
    version: int
    producers: Sequence[Mapping[str, Any]]
    recurring_ref: str | None


async def create_session(
    connection: AsyncConnection,
    *,
    show_version_id: int,
    platform: str,
    meeting_ref: str,
    created_at: datetime,
    planned_start: datetime | None = None,
    producers: Sequence[Mapping[str, Any]] = (),
    recurring_ref: str | None = None,
    status: str = "attached",
    session_id: str | None = None,
) -> str:
    """Attach a show version to a meeting; returns the new session's id."""
    if status not in SESSION_STATUSES:
        raise ValueError(f"unknown session status {status!r}")
    new_id = session_id or str(uuid.uuid4())
    await connection.execute(
        insert(_sessions).values(
            id=new_id,
            show_version_id=show_version_id,
            platform=platform,
            meeting_ref=meeting_ref,
            status=status,
            planned_start=planned_start,
            created_at=created_at,
            producers=[dict(producer) for producer in producers],
            recurring_ref=recurring_ref,
        )
    )
    return new_id


async def get_session(connection: AsyncConnection, session_id: str) -> SessionRecord | None:
    row = (await connection.execute(select(_sessions).where(_sessions.c.id == session_id))).first()
    return None if row is None else SessionRecord(**row._mapping)


async def sessions_for_meeting(
    connection: AsyncConnection, platform: str, meeting_ref: str, *, include_ended: bool = False
) -> list[SessionRecord]:
    """Sessions attached to this meeting, oldest first (how inbound events find their session)."""
    statement = (
        select(_sessions)
        .where(_sessions.c.platform == platform, _sessions.c.meeting_ref == meeting_ref)
        .order_by(_sessions.c.created_at)
    )
    if not include_ended:
        statement = statement.where(_sessions.c.status != "ended")
    return [SessionRecord(**row._mapping) for row in await connection.execute(statement)]


async def active_sessions(connection: AsyncConnection) -> list[SessionRecord]:
    rows = await connection.execute(
        select(_sessions).where(_sessions.c.status != "ended").order_by(_sessions.c.created_at)
    )
    return [SessionRecord(**row._mapping) for row in rows]


async def set_session_status(
    connection: AsyncConnection, session_id: str, status: str, at: datetime
) -> bool:
    """Move a session forward in its lifecycle; False when it is already at or past ``status``.

    ``started_at`` is set on entering ``running`` and ``ended_at`` on entering ``ended``; an
    ended session also gives up its lease.
    """
    if status not in _ORDER:
        raise ValueError(f"unknown session status {status!r}")
    earlier = [name for name, index in _ORDER.items() if index < _ORDER[status]]
    values: dict[str, Any] = {"status": status}
    if status == "running":
        values["started_at"] = at
    if status == "ended":
        values.update(ended_at=at, owner=None, lease_until=None)
    result = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id, _sessions.c.status.in_(earlier))
        .values(**values)
    )
    if result.rowcount == 0 and await get_session(connection, session_id) is None:
        raise UnknownSession(session_id)
    return result.rowcount == 1


async def ended_sessions(connection: AsyncConnection, limit: int = 100) -> list[SessionRecord]:
    """The most recently ended sessions, newest first (what reports and reviews look at)."""
    rows = await connection.execute(
        select(_sessions)
        .where(_sessions.c.status == "ended")
        .order_by(_sessions.c.ended_at.desc(), _sessions.c.id)
        .limit(limit)
    )
    return [SessionRecord(**row._mapping) for row in rows]
