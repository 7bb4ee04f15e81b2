"""Meeting bindings: a show bound to a (recurring) meeting id, so every occurrence attaches.

When ``meeting.started`` arrives for a meeting that has no session attached but has a binding,
the latest version of the bound show is attached and started (see ``facilbot.webhooks.ingest``).
One binding per (platform, meeting_ref): binding again replaces the show.

The table lives in its own module (registered on the shared ``Base.metadata`` on import); the
migration is ``0002_meeting_bindings``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store._sql import upsert_insert
from facilbot.store.models import Base, Session, table_of
from facilbot.store.types import JSONType


class MeetingBinding(Base):
    __tablename__ = "meeting_bindings"
    __table_args__ = (UniqueConstraint("platform", "meeting_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(20))
    meeting_ref: Mapped[str] = mapped_column(String(200))
    show_name: Mapped[str] = mapped_column(String(200))
    producers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


_bindings = table_of(MeetingBinding)


@dataclass(frozen=True, slots=True)
class BindingRecord:
    id: int
    platform: str
    meeting_ref: str
    show_name: str
    producers: Sequence[Mapping[str, Any]]
    created_at: datetime
    created_by: str


async def bind(
    connection: AsyncConnection,
    *,
    platform: str,
    meeting_ref: str,
    show_name: str,
    at: datetime,
    by: str,
    producers: Sequence[Mapping[str, Any]] = (),
) -> tuple[BindingRecord, bool]:
    """Bind ``show_name`` to the meeting; returns the binding and whether it is new."""
    values = {
        "show_name": show_name,
        "producers": [dict(p) for p in producers],
        "created_at": at,
        "created_by": by,
    }
    inserted = (
        await connection.execute(
            upsert_insert(connection, _bindings)
            .values(platform=platform, meeting_ref=meeting_ref, **values)
            .on_conflict_do_nothing(index_elements=["platform", "meeting_ref"])
            .returning(_bindings.c.id)
        )
    ).first()
    if inserted is None:
        await connection.execute(
            update(_bindings)
            .where(_bindings.c.platform == platform, _bindings.c.meeting_ref == meeting_ref)
            .values(**values)
        )
    record = await binding_for(connection, platform, meeting_ref)
    assert record is not None
    return record, inserted is not None


async def binding_for(
    connection: AsyncConnection, platform: str, meeting_ref: str
) -> BindingRecord | None:
    row = (
        await connection.execute(
            select(_bindings).where(
                _bindings.c.platform == platform, _bindings.c.meeting_ref == meeting_ref
            )
        )
    ).first()
    return None if row is None else BindingRecord(**row._mapping)


async def list_bindings(connection: AsyncConnection) -> list[BindingRecord]:
    rows = await connection.execute(
        select(_bindings).order_by(_bindings.c.platform, _bindings.c.meeting_ref)
    )
    return [BindingRecord(**row._mapping) for row in rows]


async def unbind(connection: AsyncConnection, platform: str, meeting_ref: str) -> bool:
    result = await connection.execute(
        delete(_bindings).where(
            _bindings.c.platform == platform, _bindings.c.meeting_ref == meeting_ref
        )
    )
    return result.rowcount == 1


async def meetings_in_use(
    connection: AsyncConnection, refs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Of these (platform, meeting_ref) pairs, those with a session not ended or a binding:
    events for any other meeting change nothing, so the ingest worker skips them in bulk."""
    if not refs:
        return set()
    sessions = table_of(Session)
    wanted = set(refs)
    names = sorted({ref for _, ref in wanted})
    found: set[tuple[str, str]] = set()
    for table, extra in (
        (sessions, sessions.c.status != "ended"),
        (_bindings, None),
    ):
        statement = (
            select(table.c.platform, table.c.meeting_ref)
            .where(table.c.meeting_ref.in_(names))
            .distinct()
        )
        if extra is not None:
            statement = statement.where(extra)
        for row in await connection.execute(statement):
            pair = (row.platform, row.meeting_ref)
            if pair in wanted:
                found.add(pair)
    return found
