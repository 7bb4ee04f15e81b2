"""People in a session and the intervals they were present (in the meeting or a room)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.models import Participant, Presence, table_of
from facilbot.store.types import UTCDateTime

_participants = table_of(Participant)
_presence = table_of(Presence)


@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    id: int
    session_id: str
    participant_ref: str
    name: str
    email: str | None
    role: str
    attributes: Mapping[str, Any]
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    participant_id: int
    joined_at: datetime
    left_at: datetime | None
    room: str | None


async def upsert_participant(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    *,
    name: str,
    seen_at: datetime,
    email: str | None = None,
    role: str = "attendee",
    attributes: Mapping[str, Any] | None = None,
) -> int:
    """Insert or refresh a participant (name, email, role, attributes); returns its row id."""
    statement = upsert_insert(connection, _participants).values(
        session_id=session_id,
        participant_ref=participant_ref,
        name=name,
        email=email,
        role=role,
        attributes=dict(attributes or {}),
        first_seen_at=seen_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["session_id", "participant_ref"],
        set_={
            "name": statement.excluded.name,
            "email": statement.excluded.email,
            "role": statement.excluded.role,
            "attributes": statement.excluded.attributes,
        },
    ).returning(_participants.c.id)
    return int((await connection.execute(statement)).scalar_one())


async def participant_joined(
    connection: AsyncConnection, participant_id: int, at: datetime, room: str | None = None
) -> None:
    """Open a presence interval, closing any still-open one first (moving to a room)."""
    await participant_left(connection, participant_id, at)
    await connection.execute(
        insert(_presence).values(participant_id=participant_id, joined_at=at, room=room)
    )


async def participant_left(connection: AsyncConnection, participant_id: int, at: datetime) -> int:
    """Close the participant's open presence intervals; how many were open."""
    result = await connection.execute(
        update(_presence)
        .where(_presence.c.participant_id == participant_id, _presence.c.left_at.is_(None))
        .values(left_at=at)
    )
    return int(result.rowcount)


async def participants_for(connection: AsyncConnection, session_id: str) -> list[ParticipantRecord]:
    rows = await connection.execute(
        select(_participants)
        .where(_participants.c.session_id == session_id)
        .order_by(_participants.c.first_seen_at, _participants.c.id)
    )
    return [ParticipantRecord(**row._mapping) for row in rows]


async def presence_for(connection: AsyncConnection, session_id: str) -> list[PresenceRecord]:
    """Every presence interval of the session's participants, in the order they began."""
    rows = await connection.execute(
        select(
            _presence.c.participant_id,
            _presence.c.joined_at,
            _presence.c.left_at,
            _presence.c.room,
        )
        .join(_participants, _participants.c.id == _presence.c.participant_id)
        .where(_participants.c.session_id == session_id)
        .order_by(_presence.c.joined_at, _presence.c.id)
    )
    return [PresenceRecord(**row._mapping) for row in rows]


async def present_now(connection: AsyncConnection, session_id: str) -> list[ParticipantRecord]:
    """Participants with an open presence interval."""
    open_interval = select(_presence.c.participant_id).where(_presence.c.left_at.is_(None))
    rows = await connection.execute(
        select(_participants)
        .where(
            _participants.c.session_id == session_id,
            _participants.c.id.in_(open_interval.scalar_subquery()),
        )
        .order_by(_participants.c.first_seen_at, _participants.c.id)
    )
    return [ParticipantRecord(**row._mapping) for row in rows]


async def close_presence_many(connection: AsyncConnection, moments: Mapping[str, datetime]) -> None:
    """Close every open presence interval of each session at its end (``{session id: at}``),
    one statement run for all (sessions started on the hour end together)."""
    if not moments:
        return
    members = select(_participants.c.id).where(_participants.c.session_id == bindparam("ended_id"))
    statement = (
        update(_presence)
        .where(
            _presence.c.participant_id.in_(members.scalar_subquery()), _presence.c.left_at.is_(None)
        )
        .values(left_at=bindparam("ended_at", type_=UTCDateTime()))
    )
    await connection.execute(
        statement, [{"ended_id": sid, "ended_at": at} for sid, at in sorted(moments.items())]
    )


async def participant_id(
    connection: AsyncConnection, session_id: str, participant_ref: str
) -> int | None:
    """The row id of the session's participant with this platform id, if seen."""
    row = await connection.execute(
        select(_participants.c.id).where(
            _participants.c.session_id == session_id,
            _participants.c.participant_ref == participant_ref,
        )
    )
    return row.scalar_one_or_none()
