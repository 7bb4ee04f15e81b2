"""A session's control log (attach, start, pause, resume, extend, skip, jump, fire, end).

Appending bumps ``sessions.version`` and takes the new version as the entry's ``seq``: the
UPDATE locks the session row on PostgreSQL (SQLite writes are serialised anyway), so concurrent
appends through different instances get distinct, gap-free numbers. On PostgreSQL a
``NOTIFY`` on :data:`CONTROL_CHANNEL` (payload ``"<session id> <seq>"``) is sent on commit so
the owning instance hears about it at once.

An append locks its session row until commit. One append per transaction locks one row;
several in one transaction go through :func:`append_controls`, which locks the rows in id order
first, the order the lease heartbeat uses too (see "Lock order" in
:mod:`facilbot.store.sessions`): appending to 200 sessions in list order while the heartbeat
renewed them in scan order deadlocked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store.models import Control, Session, table_of
from facilbot.store.sessions import UnknownSession, id_chunks, locked_in_order

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


@dataclass(frozen=True, slots=True)
class NewControl:
    """One control to append with :func:`append_controls`."""

    session_id: str
    kind: str
    payload: Mapping[str, Any]
    at: datetime
    by: str
    created_at: datetime | None = None


_NOTIFY_MANY = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(:payloads) WITH ORDINALITY AS p(payload, n) "
    "ORDER BY n"
).bindparams(bindparam("payloads", type_=ARRAY(String())))


async def append_controls(connection: AsyncConnection, entries: Sequence[NewControl]) -> list[int]:
    """Append one control to each of several sessions in this transaction; their ``seq``, in
    order.

    The same as :func:`append_control` per entry, in three statements (per thousand sessions):
    the session rows are locked in id order (:func:`~facilbot.store.sessions.locked_in_order`)
    and their versions bumped in one UPDATE, so this never deadlocks with the lease heartbeat or
    another batch.
    Each session may appear once; ``UnknownSession`` if one does not exist (raised before any
    control is inserted).
    """
    if not entries:
        return []
    wanted = [entry.session_id for entry in entries]
    if len(set(wanted)) != len(wanted):
        raise ValueError("append_controls takes one control per session")
    seqs: dict[str, int] = {}
    for chunk in id_chunks(wanted):
        chosen = _sessions.c.id.in_(
            locked_in_order(connection.dialect.name, _sessions.c.id.in_(chunk))
        )
        rows = await connection.execute(
            update(_sessions)
            .where(chosen)
            .values(version=_sessions.c.version + 1)
            .returning(_sessions.c.id, _sessions.c.version)
        )
        seqs.update((row.id, int(row.version)) for row in rows)
    missing = [session_id for session_id in wanted if session_id not in seqs]
    if missing:
        raise UnknownSession(missing[0])
    await connection.execute(
        insert(_controls),
        [
            {
                "session_id": entry.session_id,
                "seq": seqs[entry.session_id],
                "kind": entry.kind,
                "payload": dict(entry.payload),
                "at": entry.at,
                "by": entry.by,
                "created_at": entry.created_at or entry.at,
            }
            for entry in entries
        ],
    )
    if connection.dialect.name == "postgresql":
        await connection.execute(
            _NOTIFY_MANY,
            {
                "channel": CONTROL_CHANNEL,
                "payloads": [f"{entry.session_id} {seqs[entry.session_id]}" for entry in entries],
            },
        )
    return [seqs[entry.session_id] for entry in entries]


def _record_columns() -> tuple[Any, ...]:
    """The columns a :class:`ControlRecord` is made of."""
    c = _controls.c
    return (c.session_id, c.seq, c.kind, c.payload, c.at, c.by)


async def controls_for(
    connection: AsyncConnection, session_id: str, *, after_seq: int = 0
) -> list[ControlRecord]:
    """The session's control log in order (only entries after ``after_seq`` if given)."""
    rows = await connection.execute(
        select(*_record_columns())
        .where(_controls.c.session_id == session_id, _controls.c.seq > after_seq)
        .order_by(_controls.c.seq)
    )
    return [ControlRecord(**row._mapping) for row in rows]


async def controls_for_many(
    connection: AsyncConnection, session_ids: Sequence[str]
) -> dict[str, list[ControlRecord]]:
    """:func:`controls_for` for many sessions, one round trip per thousand (runners woken
    together by a burst of controls read their logs in one statement)."""
    found: dict[str, list[ControlRecord]] = {session_id: [] for session_id in session_ids}
    for chunk in id_chunks(session_ids):
        rows = await connection.execute(
            select(*_record_columns())
            .where(_controls.c.session_id.in_(chunk))
            .order_by(_controls.c.session_id, _controls.c.seq)
        )
        for row in rows:
            found[row.session_id].append(ControlRecord(**row._mapping))
    return found


async def session_versions(connection: AsyncConnection, session_ids: list[str]) -> dict[str, int]:
    """Current ``version`` of each session: the periodic safety net behind NOTIFY."""
    if not session_ids:
        return {}
    rows = await connection.execute(
        select(_sessions.c.id, _sessions.c.version).where(_sessions.c.id.in_(session_ids))
    )
    return {row.id: row.version for row in rows}
