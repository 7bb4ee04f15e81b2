"""Which instance runs which session: leases on the database clock.

An instance renews its leases every few seconds; a session whose lease ran out (its owner died
or hangs) is an orphan any instance may adopt. Every comparison uses the database's clock
(:func:`facilbot.store.db.db_now`), never the instance's own.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from facilbot.store.db import db_now
from facilbot.store.models import Session, table_of

_sessions = table_of(Session)


def _free(dialect: str) -> ColumnElement[bool]:
    return or_(
        _sessions.c.owner.is_(None),
        _sessions.c.lease_until.is_(None),
        _sessions.c.lease_until <= db_now(dialect),
    )


def holds_lease(dialect: str, session_id: str, instance_id: str) -> ColumnElement[bool]:
    """SQL condition: ``instance_id`` holds a live lease on the session."""
    return and_(
        _sessions.c.id == session_id,
        _sessions.c.owner == instance_id,
        _sessions.c.lease_until > db_now(dialect),
    )


async def acquire_or_renew_lease(
    connection: AsyncConnection, session_id: str, instance_id: str, seconds: float
) -> bool:
    """Take the lease if it is free or already ours, for ``seconds`` from the database's now.

    False when another instance holds a live lease or the session has ended.
    """
    dialect = connection.dialect.name
    result = await connection.execute(
        update(_sessions)
        .where(
            _sessions.c.id == session_id,
            _sessions.c.status != "ended",
            or_(_sessions.c.owner == instance_id, _free(dialect)),
        )
        .values(owner=instance_id, lease_until=db_now(dialect, seconds))
    )
    return result.rowcount == 1


async def renew_leases(connection: AsyncConnection, instance_id: str, seconds: float) -> list[str]:
    """Renew every live lease this instance holds (one heartbeat); returns the sessions kept.

    A lease that already ran out is not renewed here: another instance may have adopted it.
    """
    dialect = connection.dialect.name
    rows = await connection.execute(
        update(_sessions)
        .where(
            _sessions.c.owner == instance_id,
            _sessions.c.status != "ended",
            _sessions.c.lease_until > db_now(dialect),
        )
        .values(lease_until=db_now(dialect, seconds))
        .returning(_sessions.c.id)
    )
    return sorted(rows.scalars())


async def release_lease(connection: AsyncConnection, session_id: str, instance_id: str) -> bool:
    """Give the session up (clean shutdown), so another instance can adopt it at once."""
    result = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id, _sessions.c.owner == instance_id)
        .values(owner=None, lease_until=None)
    )
    return result.rowcount == 1


async def adopt_orphans(
    connection: AsyncConnection, instance_id: str, seconds: float, limit: int = 100
) -> list[str]:
    """Take over up to ``limit`` unfinished sessions whose lease is free or ran out.

    On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED`` so instances
    adopting at the same moment split the orphans instead of queueing on them.
    """
    dialect = connection.dialect.name
    candidates = (
        select(_sessions.c.id)
        .where(_sessions.c.status != "ended", _free(dialect))
        .order_by(_sessions.c.created_at, _sessions.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # ignored on SQLite, which has one instance
    )
    rows = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id.in_(candidates.scalar_subquery()), _free(dialect))
        .values(owner=instance_id, lease_until=db_now(dialect, seconds))
        .returning(_sessions.c.id)
    )
    return sorted(rows.scalars())


async def owned_sessions(connection: AsyncConnection, instance_id: str) -> list[str]:
    rows = await connection.execute(
        select(_sessions.c.id)
        .where(_sessions.c.owner == instance_id, _sessions.c.status != "ended")
        .order_by(_sessions.c.id)
    )
    return list(rows.scalars())
