"""What facilbot keeps about Teams meetings: where each meeting chat lives, its Graph
subscription, and the attendance reconciled after each session.

* ``teams_conversations``: one row per meeting chat (``meeting_ref`` = the chat thread id): the
  Bot Framework service URL and Teams meeting id learnt from authenticated activities (so a
  restarted service can post again before anyone speaks), the join URL, organizer and Graph
  online-meeting id, whether the app was installed, and the chat-message subscription.
* ``teams_attendance``: per session and person, what Graph's attendance report says against
  what the bot saw (``source`` = both, report or bot).
* ``teams_attendance_runs``: per ended session, the attendance fetch (attempts, when, outcome).

The tables register on the shared ``Base.metadata`` on import; the migration is
``0003_teams``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store._sql import upsert_insert
from facilbot.store.models import Base, BigId, table_of

ATTENDANCE_SOURCES = ("both", "report", "bot")


class TeamsConversation(Base):
    __tablename__ = "teams_conversations"

    meeting_ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    service_url: Mapped[str | None] = mapped_column(String(500))
    teams_meeting_id: Mapped[str | None] = mapped_column(String(500))
    join_url: Mapped[str | None] = mapped_column(Text)
    organizer_id: Mapped[str | None] = mapped_column(String(100))
    online_meeting_id: Mapped[str | None] = mapped_column(String(500))
    app_installed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscription_id: Mapped[str | None] = mapped_column(String(200), index=True)
    subscription_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class TeamsAttendance(Base):
    __tablename__ = "teams_attendance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    participant_ref: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(50))
    seconds: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))


class TeamsAttendanceRun(Base):
    __tablename__ = "teams_attendance_runs"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer)
    last_try_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    records: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))


_conversations = table_of(TeamsConversation)
_attendance = table_of(TeamsAttendance)
_runs = table_of(TeamsAttendanceRun)
TABLES = (_conversations, _attendance, _runs)


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    meeting_ref: str
    service_url: str | None
    teams_meeting_id: str | None
    join_url: str | None
    organizer_id: str | None
    online_meeting_id: str | None
    app_installed: bool
    subscription_id: str | None
    subscription_expires_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    participant_ref: str | None
    name: str
    email: str | None
    role: str | None
    seconds: int
    source: str


@dataclass(frozen=True, slots=True)
class AttendanceRun:
    session_id: str
    attempts: int
    last_try_at: datetime
    done_at: datetime | None
    records: int
    error: str | None


async def conversations(connection: AsyncConnection) -> list[ConversationRecord]:
    rows = await connection.execute(select(_conversations).order_by(_conversations.c.meeting_ref))
    return [ConversationRecord(**row._mapping) for row in rows]


async def conversation(connection: AsyncConnection, meeting_ref: str) -> ConversationRecord | None:
    row = (
        await connection.execute(
            select(_conversations).where(_conversations.c.meeting_ref == meeting_ref)
        )
    ).first()
    return ConversationRecord(**row._mapping) if row else None


async def conversation_by_subscription(
    connection: AsyncConnection, subscription_id: str
) -> ConversationRecord | None:
    row = (
        await connection.execute(
            select(_conversations).where(_conversations.c.subscription_id == subscription_id)
        )
    ).first()
    return ConversationRecord(**row._mapping) if row else None


async def save_conversation(
    connection: AsyncConnection, meeting_ref: str, at: datetime, **fields: Any
) -> None:
    """Insert the chat's row or update the given fields (None values are written as given)."""
    allowed = set(_conversations.c.keys()) - {"meeting_ref", "updated_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown teams_conversations fields: {sorted(unknown)}")
    statement = upsert_insert(connection, _conversations).values(
        meeting_ref=meeting_ref, updated_at=at, **fields
    )
    statement = statement.on_conflict_do_update(
        index_elements=[_conversations.c.meeting_ref], set_={**fields, "updated_at": at}
    )
    await connection.execute(statement)


async def replace_attendance(
    connection: AsyncConnection, session_id: str, rows: Sequence[AttendanceRow]
) -> None:
    await connection.execute(delete(_attendance).where(_attendance.c.session_id == session_id))
    if rows:
        await connection.execute(
            insert(_attendance),
            [
                {
                    "session_id": session_id,
                    "participant_ref": row.participant_ref,
                    "name": row.name[:300],
                    "email": row.email,
                    "role": row.role,
                    "seconds": row.seconds,
                    "source": row.source,
                }
                for row in rows
            ],
        )


async def attendance(connection: AsyncConnection, session_id: str) -> list[AttendanceRow]:
    rows = await connection.execute(
        select(_attendance)
        .where(_attendance.c.session_id == session_id)
        .order_by(_attendance.c.name, _attendance.c.id)
    )
    return [
        AttendanceRow(
            participant_ref=row.participant_ref,
            name=row.name,
            email=row.email,
            role=row.role,
            seconds=row.seconds,
            source=row.source,
        )
        for row in rows
    ]


async def attendance_run(connection: AsyncConnection, session_id: str) -> AttendanceRun | None:
    row = (await connection.execute(select(_runs).where(_runs.c.session_id == session_id))).first()
    return AttendanceRun(**row._mapping) if row else None


async def record_attendance_run(
    connection: AsyncConnection,
    session_id: str,
    *,
    at: datetime,
    done: bool,
    records: int = 0,
    error: str | None = None,
) -> None:
    known = await attendance_run(connection, session_id)
    values: Mapping[str, Any] = {
        "last_try_at": at,
        "done_at": at if done else None,
        "records": records,
        "error": error[:300] if error else None,
    }
    if known is None:
        await connection.execute(insert(_runs).values(session_id=session_id, attempts=1, **values))
    else:
        await connection.execute(
            update(_runs)
            .where(_runs.c.session_id == session_id)
            .values(attempts=known.attempts + 1, **values)
        )
