"""A session's control log (attach, start, pause, resume, extend, skip, jump, fire, end).

Appending bumps ``sessions.version`` and takes the new version as the entry's ``seq``: the
UPDATE locks the session row on PostgreSQL (SQLite writes are serialised anyway), so concurrent
appends through different instances get distinct, gap-free numbers. On PostgreSQL a
``NOTIFY`` on :data:`CONTROL_CHANNEL` (payload ``"<session id> <seq>"``) is sent on commit so
the owning instance hears about it at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store.models import Control, Session, table_of
from facilbot.store.sessions import UnknownSession

CONTROL_CHANNEL = "facilbot_control"

_controls = table_of(Control)
_sessions = table_of(Session)


@dataclass(frozen=True, slots=True)
class ControlRecord:
    session_id: str
    seq: int
    kind: str
    payload: Mapping[str, Any]
    at: datetime
    by: str


async def append_control(
    connection: AsyncConnection,
    session_id: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
    by: str,
    *,
    created_at: datetime | None = None,
) -> int:
    """Append one control to the session's log and return its sequence number (1, 2, …).

    ``at`` is when the control takes effect on the show clock; ``created_at`` (default ``at``)
    is when it was written.
    """
    seq = (
        await connection.execute(
            update(_sessions)
            .where(_sessions.c.id == session_id)
            .values(version=_sessions.c.version + 1)
            .returning(_sessions.c.version)
        )
    ).scalar_one_or_none()
    if seq is None:
        raise UnknownSession(session_id)
    await connection.execute(
        insert(_controls).values(
            session_id=session_id,
            seq=seq,
            kind=kind,
            payload=dict(payload),
            at=at,
            by=by,
            created_at=created_at or at,
        )
    )
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_notify(CONTROL_CHANNEL, f"{session_id} {seq}")))
    return int(seq)


async def controls_for(
    connection: AsyncConnection, session_id: str, *, after_seq: int = 0
) -> list[ControlRecord]:
    """The session's control log in order (only entries after ``after_seq`` if given)."""
    rows = await connection.execute(
        select(
            _controls.c.session_id,
            _controls.c.seq,
            _controls.c.kind,
            _controls.c.payload,
            _controls.c.at,
            _controls.c.by,
        )
        .where(_controls.c.session_id == session_id, _controls.c.seq > after_seq)
        .order_by(_controls.c.seq)
    )
    return [ControlRecord(**row._mapping) for row in rows]


async def session_versions(connection: AsyncConnection, session_ids: list[str]) -> dict[str, int]:
    """Current ``version`` of each session: the periodic safety net behind NOTIFY."""
    if not session_ids:
        return {}
    rows = await connection.execute(
        select(_sessions.c.id, _sessions.c.version).where(_sessions.c.id.in_(session_ids))
    )
    return {row.id: row.version for row in rows}
