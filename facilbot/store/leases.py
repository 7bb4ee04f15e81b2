"""Which instance runs which session: leases on the database clock.

An instance renews its leases every few seconds; a session whose lease ran out (its owner died
or hangs) is an orphan any instance may adopt. Every comparison uses the database's clock
(:func:`facilbot.store.db.db_now`), never the instance's own.

On PostgreSQL several instances share the sessions: each heartbeat (:func:`heartbeat`) also
renews the instance's row in ``instances``, and an instance adopts orphans only up to its fair
share, ceil(unfinished sessions / live instances), less what it already runs. Running
sessions are never moved to even things out (see docs/scaling.md, "Scale-out").

The heartbeat meets control appends, status changes and claims on the same session rows: the
statements here lock them in the one order described in :mod:`facilbot.store.sessions`
("Lock order").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from facilbot.store._sql import upsert_insert
from facilbot.store.db import db_now
from facilbot.store.models import SESSION_STATUSES, Instance, Session, table_of
from facilbot.store.sessions import id_chunks, locked_in_order

_sessions = table_of(Session)
_instances = table_of(Instance)
#: ``status != 'ended'`` spelled so that the (status, lease_until) index serves it.
_UNFINISHED = tuple(s for s in SESSION_STATUSES if s != "ended")


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
    """Renew every lease this instance holds (one heartbeat); returns the sessions kept.

    A lease that ran out is renewed too while no other instance has adopted it (the owner is
    still this one): taking it back is adopting an orphan, which any instance may do, and
    the claims made while it had lapsed were refused, so nothing doubled. It spares a
    heartbeat that came late under load from losing its sessions to a peer at its share
    (peers take a live instance's lapsed leases only once they are stale, see
    :func:`heartbeat`), and the churn of runners that such moves cost.
    The rows are locked in id order first (:func:`~facilbot.store.sessions.locked_in_order`):
    a plain multi-row UPDATE locks in scan order and deadlocked with batched control appends.
    """
    dialect = connection.dialect.name
    ours = (_sessions.c.owner == instance_id, _sessions.c.status != "ended")
    rows = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id.in_(locked_in_order(dialect, *ours)), *ours)
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


async def release_leases(
    connection: AsyncConnection, session_ids: Iterable[str], instance_id: str
) -> list[str]:
    """:func:`release_lease` for many sessions, rows locked in id order; the sessions given up."""
    released: list[str] = []
    for chunk in id_chunks(session_ids):
        mine = (_sessions.c.id.in_(chunk), _sessions.c.owner == instance_id)
        rows = await connection.execute(
            update(_sessions)
            .where(_sessions.c.id.in_(locked_in_order(connection.dialect.name, *mine)), *mine)
            .values(owner=None, lease_until=None)
            .returning(_sessions.c.id)
        )
        released += rows.scalars()
    return sorted(released)


async def adopt_orphans(
    connection: AsyncConnection,
    instance_id: str,
    seconds: float,
    limit: int = 100,
    *,
    expired_for: float | None = None,
) -> list[str]:
    """Take over up to ``limit`` unfinished sessions whose lease is free or ran out (with
    ``expired_for``, only those whose lease ran out at least that many seconds ago).

    On PostgreSQL the candidates are locked with ``FOR NO KEY UPDATE SKIP LOCKED`` so instances
    adopting at the same moment split the orphans instead of queueing on them. It never waits
    for a row lock, so its order (oldest first) cannot deadlock; ``NO KEY UPDATE`` (the lock
    the UPDATE takes anyway) rather than ``FOR UPDATE`` lets inserts referencing the session
    (their foreign-key share lock) go through.
    """
    if limit <= 0:
        return []
    dialect = connection.dialect.name
    free = _free(dialect) if expired_for is None else _expired(dialect, expired_for)
    candidates = (
        select(_sessions.c.id)
        .where(_sessions.c.status.in_(_UNFINISHED), free)
        .order_by(_sessions.c.created_at, _sessions.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)  # ignored on SQLite (one instance)
    )
    rows = await connection.execute(
        update(_sessions)
        .where(_sessions.c.id.in_(candidates.scalar_subquery()), free)
        .values(owner=instance_id, lease_until=db_now(dialect, seconds))
        .returning(_sessions.c.id)
    )
    return sorted(rows.scalars())


def _expired(dialect: str, seconds: float) -> ColumnElement[bool]:
    """The lease ran out ``seconds`` ago or earlier (never-owned sessions are not included)."""
    return _sessions.c.lease_until <= db_now(dialect, -seconds)


# -- several instances (PostgreSQL) ---------------------------------------------------------
#
# Which instances are alive is read from their own rows in ``instances``, renewed by each
# heartbeat, rather than inferred from the distinct owners of live session leases: an instance
# that has just started, or whose sessions all ended, owns nothing, so counting owners would
# not see it, and the instance that looked first would keep taking every new session (the
# pile-up this replaces). One row per instance costs one row write per heartbeat, against the
# renewal's one per owned session.


async def register_instance(connection: AsyncConnection, instance_id: str, seconds: float) -> None:
    """Say that ``instance_id`` is alive for ``seconds`` more (database clock).

    The heartbeat calls it after :func:`renew_leases`, in the same transaction: the row's
    ``lease_until`` is then never earlier than any of the instance's session leases, so once
    the row has run out every session it held is an orphan too.
    """
    dialect = connection.dialect.name
    statement = upsert_insert(connection, _instances).values(
        id=instance_id, lease_until=db_now(dialect, seconds), started_at=db_now(dialect)
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_={"lease_until": statement.excluded.lease_until}
        )
    )


async def deregister_instance(connection: AsyncConnection, instance_id: str) -> None:
    """A clean stop: the others stop counting this instance at once (its share is theirs)."""
    await connection.execute(delete(_instances).where(_instances.c.id == instance_id))


async def prune_instances(connection: AsyncConnection, older_than: float = 3600.0) -> int:
    """Forget instances whose row ran out over ``older_than`` seconds ago (crashed ones:
    instance ids name a host and a pid, so each crash leaves a row behind)."""
    dialect = connection.dialect.name
    result = await connection.execute(
        delete(_instances).where(_instances.c.lease_until < db_now(dialect, -older_than))
    )
    return result.rowcount


@dataclass(frozen=True, slots=True)
class Census:
    """What one heartbeat reads of everyone (one statement, the database's clock)."""

    live_instances: int
    unfinished: int
    orphans: int  # unfinished sessions whose lease is free or ran out
    stale_orphans: int  # of those, leases that ran out long enough ago to be anyone's
    #: Seconds until the next other live instance's row runs out, if any: when it is not
    #: renewed by then, its sessions are orphans at that moment.
    next_expiry: float | None

    def share(self, owned: int) -> int:
        """How many more sessions an instance running ``owned`` may adopt: its fair share,
        ceil(unfinished / live instances), less what it runs; never negative."""
        fair = math.ceil(self.unfinished / max(1, self.live_instances))
        return max(0, fair - owned)


async def census(connection: AsyncConnection, instance_id: str, stale_after: float) -> Census:
    """Live instances (this one included once registered), sessions, orphans, next expiry."""
    dialect = connection.dialect.name
    now = db_now(dialect)
    unfinished = _sessions.c.status.in_(_UNFINISHED)

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return select(func.count()).select_from(_sessions).where(*conditions).scalar_subquery()

    live = _instances.c.lease_until > now
    row = (
        await connection.execute(
            select(
                select(func.count()).select_from(_instances).where(live).scalar_subquery(),
                count(unfinished),
                count(unfinished, _free(dialect)),
                count(unfinished, _expired(dialect, stale_after)),
                select(func.min(_instances.c.lease_until))
                .where(live, _instances.c.id != instance_id)
                .scalar_subquery(),
                now,
            )
        )
    ).one()
    live_instances, unfinished_count, orphans, stale, earliest, at = row
    next_expiry = None if earliest is None else max(0.0, (earliest - at) / timedelta(seconds=1))
    return Census(live_instances, unfinished_count, orphans, stale, next_expiry)


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat's outcome."""

    kept: list[str]  # leases renewed
    adopted: list[str]  # orphans taken
    census: Census | None  # None when alone by construction (SQLite)


async def heartbeat(
    connection: AsyncConnection,
    instance_id: str,
    seconds: float,
    *,
    limit: int,
    shared: bool,
    stale_after: float,
) -> Beat:
    """Renew, then adopt: every orphan up to ``limit`` when alone (``shared`` False: SQLite,
    one instance per database), else the instance's fair share of them (:meth:`Census.share`).

    Shared, an orphan whose lease ran out ``stale_after`` seconds ago or more is adopted
    whatever the share: a dead instance's sessions are then taken over by the survivors that
    look, not left waiting for a slow one that is counted but does not come. Sessions never
    owned (new ones) are only ever adopted within shares, which is what spreads them.
    """
    kept = await renew_leases(connection, instance_id, seconds)
    if not shared:
        return Beat(kept, await adopt_orphans(connection, instance_id, seconds, limit), None)
    await register_instance(connection, instance_id, seconds)
    seen = await census(connection, instance_id, stale_after)
    adopted: list[str] = []
    if seen.orphans:
        wanted = min(limit, seen.share(len(kept)))
        adopted = await adopt_orphans(connection, instance_id, seconds, wanted)
    if seen.stale_orphans and len(adopted) < limit:
        adopted += await adopt_orphans(
            connection, instance_id, seconds, limit - len(adopted), expired_for=stale_after
        )
    return Beat(kept, sorted(adopted), seen)


async def owned_sessions(connection: AsyncConnection, instance_id: str) -> list[str]:
    rows = await connection.execute(
        select(_sessions.c.id)
        .where(_sessions.c.owner == instance_id, _sessions.c.status != "ended")
        .order_by(_sessions.c.id)
    )
    return list(rows.scalars())
