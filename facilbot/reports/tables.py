"""The reports' own tables and their repository functions.

* ``debrief_notes``: notes per segment written by the producer and the facilitator, during and
  after a session (the feedback loop into the next cohort);
* ``report_aggregates``: a session's report figures without personal data, written just before
  its personal rows are pruned, so reports keep their figures afterwards.

Registered on the shared ``Base.metadata`` on import; the migration is ``0005_reports``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.reports.data import NoteRecord
from facilbot.store._sql import upsert_insert
from facilbot.store.models import Base, BigId, table_of
from facilbot.store.types import JSONType

NOTE_MAX = 4000


class DebriefNote(Base):
    __tablename__ = "debrief_notes"
    __table_args__ = (Index(None, "session_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    segment_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class ReportAggregate(Base):
    """A session's report figures kept after its personal rows were pruned."""

    __tablename__ = "report_aggregates"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType)
    pruned_at: Mapped[datetime]


_notes = table_of(DebriefNote)
_aggregates = table_of(ReportAggregate)


async def add_note(
    connection: AsyncConnection,
    session_id: str,
    *,
    segment_id: str | None,
    text: str,
    author: str,
    role: str,
    at: datetime,
) -> int:
    result = await connection.execute(
        insert(_notes)
        .values(
            session_id=session_id,
            segment_id=segment_id,
            text=text[:NOTE_MAX],
            author=author,
            role=role,
            created_at=at,
        )
        .returning(_notes.c.id)
    )
    return int(result.scalar_one())


async def notes_for(connection: AsyncConnection, session_ids: list[str]) -> list[NoteRecord]:
    if not session_ids:
        return []
    rows = await connection.execute(
        select(_notes)
        .where(_notes.c.session_id.in_(session_ids))
        .order_by(_notes.c.created_at, _notes.c.id)
    )
    return [NoteRecord(**row._mapping) for row in rows]


async def save_aggregates(
    connection: AsyncConnection, session_id: str, figures: Mapping[str, Any], at: datetime
) -> None:
    statement = upsert_insert(connection, _aggregates).values(
        session_id=session_id, figures=dict(figures), pruned_at=at
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id"],
            set_={"figures": statement.excluded.figures, "pruned_at": statement.excluded.pruned_at},
        )
    )


async def aggregates_for(
    connection: AsyncConnection, session_ids: list[str]
) -> dict[str, dict[str, Any]]:
    if not session_ids:
        return {}
    rows = await connection.execute(
        select(_aggregates.c.session_id, _aggregates.c.figures).where(
            _aggregates.c.session_id.in_(session_ids)
        )
    )
    return {row.session_id: dict(row.figures) for row in rows}


async def forget_aggregates(connection: AsyncConnection, session_id: str) -> None:
    await connection.execute(delete(_aggregates).where(_aggregates.c.session_id == session_id))
