"""Sessions: a show version attached to one meeting, and its lifecycle status.

Lock order (PostgreSQL; SQLite has no row locks and serialises writers with ``BEGIN
IMMEDIATE``). The lease heartbeat, control appends, status changes and claims all write or
reference ``sessions`` rows, so every statement that locks them follows one rule: **a
transaction locks several session rows only in id order, through** :func:`locked_in_order`
**(one statement), and never waits for a session row while holding a larger one.** Then a
transaction waiting for row *r* holds only rows below *r*, and no cycle can form.

What locks session rows, and how:

- many rows, locked in id order through :func:`locked_in_order` (``FOR NO KEY UPDATE``, the
  lock the UPDATE itself takes): the heartbeat ``leases.renew_leases``, ``leases.release_leases``
  (a clean stop), ``controls.append_controls`` (a batch of controls, e.g. a benchmark's starts);
  the last two go by id lists in ascending chunks (:func:`id_chunks`), which keeps the order;
- many rows that never wait: ``leases.adopt_orphans`` locks with ``FOR NO KEY UPDATE SKIP
  LOCKED`` (a locked row is skipped, not waited for), so its order (oldest first) cannot close
  a cycle; in the maintenance transaction it comes after the renewal, and nothing waits after it;
- one row, the only session row of its transaction: ``controls.append_control`` (``UPDATE …
  version``), :func:`set_session_status`, ``leases.acquire_or_renew_lease``,
  ``leases.release_lease``. Calling these for several existing sessions in one transaction is
  a multi-row path: use ``controls.append_controls`` / ``leases.release_leases``, or lock the
  rows with :func:`locked_in_order` first (rows created in the same transaction are invisible
  to everyone else and need nothing);
- foreign keys: an insert into a child table (controls, firings, participants, chat, polls,
  commitments, the Zoom and Teams tables) takes ``FOR KEY SHARE`` on its session row. That
  conflicts only with ``FOR UPDATE``, a key change or a delete; only the primary key of
  ``sessions`` is unique, so its UPDATEs take ``FOR NO KEY UPDATE``, no path takes ``FOR
  UPDATE`` (adopting uses ``NO KEY UPDATE`` for this reason) and sessions are not deleted:
  these share locks neither wait nor make anyone wait;
- reads take no lock: the lease check of a batched claim (``firings.claim_firings``) is a
  snapshot read; a ``FOR SHARE`` there conflicted with the heartbeat's UPDATE and deadlocked.

Should the database abort a transaction anyway (a deadlock with a statement outside these
rules, a serialization failure), :func:`facilbot.store.retry.in_transaction` runs it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from facilbot.store.models import SESSION_STATUSES, Session, table_of
from facilbot.store.types import UTCDateTime

_sessions = table_of(Session)

# The lifecycle only moves forward: attached → waiting → running → ended.
_ORDER = {status: index for index, status in enumerate(SESSION_STATUSES)}


class UnknownSession(LookupError):
    """No session has this id."""


#: Ids per statement in multi-row updates by id list (asyncpg takes at most 32,767 parameters).
ID_CHUNK = 1000


def id_chunks(session_ids: Iterable[str]) -> list[list[str]]:
    """The distinct ids in lock order (Python's ``sorted``, see :func:`locked_in_order`), cut
    into statements of at most :data:`ID_CHUNK`: chunk after chunk, still one ascending order."""
    ordered = sorted(set(session_ids))
    return [ordered[start : start + ID_CHUNK] for start in range(0, len(ordered), ID_CHUNK)]


def locked_in_order(dialect: str, *conditions: ColumnElement[bool]) -> ScalarSelect[str]:
    """The ids of the sessions matching ``conditions``, row-locked in id order: a subquery for
    ``UPDATE sessions … WHERE id IN (…)`` that touches several rows (see "Lock order" above).

    PostgreSQL sorts before it locks (``Sort`` under ``LockRows`` in the plan), so the rows are
    locked one by one in id order whatever plan the outer UPDATE gets; the UPDATE then only
    touches rows this transaction already holds. The order is the ids' byte order (``COLLATE
    "C"``; SQLite's default collation is the same), which is also Python's ``sorted`` order of
    the ids, so code that sorts ids in Python agrees with it. The lock is ignored on SQLite.
    """
    order = _sessions.c.id.collate("C") if dialect == "postgresql" else _sessions.c.id
    return (
        select(_sessions.c.id)
        .where(*conditions)
        .order_by(order)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: FK share locks go through
        .scalar_subquery()
    )


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


async def get_sessions(
    connection: AsyncConnection, session_ids: Sequence[str]
) -> dict[str, SessionRecord]:
    """:func:`get_session` for many sessions, one round trip per thousand; missing ones absent."""
    found: dict[str, SessionRecord] = {}
    for chunk in id_chunks(session_ids):
        rows = await connection.execute(select(_sessions).where(_sessions.c.id.in_(chunk)))
        found.update((row.id, SessionRecord(**row._mapping)) for row in rows)
    return found


async def set_sessions_status(
    connection: AsyncConnection, moments: Mapping[str, datetime], status: str
) -> list[str]:
    """:func:`set_session_status` for several sessions, each at its own moment (``{session id:
    at}``); the ids moved.

    A multi-row path (see "Lock order"): the rows still before ``status`` are locked in id
    order first (one statement per ascending chunk), then updated by id in that order, so it
    never deadlocks with the heartbeat or a batch of controls.
    """
    if status not in _ORDER:
        raise ValueError(f"unknown session status {status!r}")
    earlier = [name for name, index in _ORDER.items() if index < _ORDER[status]]
    dialect = connection.dialect.name
    moved: list[str] = []
    for chunk in id_chunks(moments):
        wanted = (_sessions.c.id.in_(chunk), _sessions.c.status.in_(earlier))
        locked = await connection.execute(
            select(_sessions.c.id).where(_sessions.c.id.in_(locked_in_order(dialect, *wanted)))
        )
        moved += locked.scalars()
    if not moved:
        return []
    moved.sort()
    values: dict[str, Any] = {"status": status}
    if status == "running":
        values["started_at"] = bindparam("new_at", type_=UTCDateTime())
    if status == "ended":
        values.update(
            ended_at=bindparam("new_at", type_=UTCDateTime()), owner=None, lease_until=None
        )
    if len(values) == 1:  # nothing per session: one statement per chunk
        for chunk in id_chunks(moved):
            await connection.execute(
                update(_sessions).where(_sessions.c.id.in_(chunk)).values(**values)
            )
        return moved
    statement = update(_sessions).where(_sessions.c.id == bindparam("moved_id")).values(**values)
    await connection.execute(
        statement, [{"moved_id": session_id, "new_at": moments[session_id]} for session_id in moved]
    )
    return moved


async def ended_sessions(connection: AsyncConnection, limit: int = 100) -> list[SessionRecord]:
    """The most recently ended sessions, newest first (what reports and reviews look at)."""
    rows = await connection.execute(
        select(_sessions)
        .where(_sessions.c.status == "ended")
        .order_by(_sessions.c.ended_at.desc(), _sessions.c.id)
        .limit(limit)
    )
    return [SessionRecord(**row._mapping) for row in rows]


async def platform_sessions(
    connection: AsyncConnection, platform: str, *, ended_since: datetime | None = None
) -> list[SessionRecord]:
    """A platform's sessions that have not ended, oldest first; with ``ended_since``, also
    those that ended at or after it (what a platform's post-meeting work looks at)."""
    live = _sessions.c.status != "ended"
    if ended_since is not None:
        live = or_(live, _sessions.c.ended_at >= ended_since)
    rows = await connection.execute(
        select(_sessions)
        .where(_sessions.c.platform == platform, live)
        .order_by(_sessions.c.created_at)
    )
    return [SessionRecord(**row._mapping) for row in rows]


async def move_meeting(
    connection: AsyncConnection, session_id: str, *, old_ref: str, new_ref: str
) -> bool:
    """Point a session at another reference for the same meeting (a Teams join URL becomes
    the meeting chat's id), only while it still names ``old_ref``; True when it changed."""
    result = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id, _sessions.c.meeting_ref == old_ref)
        .values(meeting_ref=new_ref)
    )
    return result.rowcount == 1
