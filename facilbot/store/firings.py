"""Cue firings: the exactly-once claim, the recorded outcome, and interrupted claims.

A cue is sent only after :func:`claim_firing` inserted its row. The insert is one statement
that also checks, on the database clock, that the claiming instance holds the session's lease;
the UNIQUE (session_id, key) makes a second claim a no-op even from a zombie owner. A row left
in ``firing`` without ``sent_at`` was interrupted between claim and send: it is reported
(:func:`interrupted_firings`, :func:`mark_interrupted`), never sent again.

Reservations. A claim may be written shortly before its moment (``planned_at``), within the
lease: a *reservation*. Only the send then happens at the moment. The instance that reserved
never sends after its own lease may have run out (the engine's guard), so whoever holds the
session next can tell which unsent rows were never sent: those whose moment had not come.
They are given back (:func:`release_unsent_many`, :func:`release_reservations`: the row is
deleted and the cue may be claimed again); an unsent row whose moment has passed may have been
sent just before a crash, and is reported as interrupted as before.

Lock order. Claims lock no session row (the lease check is a snapshot read; the insert's
foreign-key ``FOR KEY SHARE`` conflicts with nothing facilbot takes, see "Lock order" in
:mod:`facilbot.store.sessions`). Firing rows are locked in one order too, should two instances
touch the same session's firings (a zombie owner and the adopter): a claim batch inserts in
(session, key) order (a second insert of the same key waits for the first), an outcome batch
updates in firing id order, and :func:`mark_interrupted` locks in id order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.db import db_now
from facilbot.store.leases import holds_lease
from facilbot.store.models import FIRING_STATUSES, Firing, Session, table_of
from facilbot.store.sessions import id_chunks
from facilbot.store.types import JSONType, UTCDateTime

_firings = table_of(Firing)
_sessions = table_of(Session)

#: Where a claimed firing may end up; ``acknowledged`` may also follow ``sent``.
FINAL_STATUSES = frozenset(FIRING_STATUSES) - {"firing"}
ERROR_MAX = 500
# Claims per round trip in claim_firings.
_CLAIM_CHUNK = 250


_CLAIM_COLUMNS = [
    "session_id",
    "key",
    "action",
    "planned_at",
    "claimed_at",
    "status",
    "attempts",
    "claimed_by",
]


@dataclass(frozen=True, slots=True)
class FiringRecord:
    id: int
    session_id: str
    key: str
    action: str
    planned_at: datetime
    claimed_at: datetime
    sent_at: datetime | None
    status: str
    channel: str | None
    outcome: str | None
    attempts: Sequence[Mapping[str, Any]]
    error: str | None
    claimed_by: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


async def claim_firing(
    connection: AsyncConnection,
    session_id: str,
    key: str,
    action: str,
    planned_at: datetime,
    instance_id: str,
    *,
    claimed_at: datetime,
) -> int | None:
    """Claim the cue ``key`` of a session for sending; the firing's id, or None if not ours.

    None when the cue was already claimed (by anyone, ever) or when ``instance_id`` does not
    hold a live lease on the session. ``claimed_at`` is on the engine's (possibly virtual)
    clock; the lease is checked on the database's.
    """
    dialect = connection.dialect.name
    chosen = select(
        literal(session_id),
        literal(key),
        literal(action),
        literal(planned_at, UTCDateTime()),
        literal(claimed_at, UTCDateTime()),
        literal("firing"),
        literal([], JSONType),
        literal(instance_id),
    ).where(exists().where(holds_lease(dialect, session_id, instance_id)))
    statement = (
        upsert_insert(connection, _firings)
        .from_select(_CLAIM_COLUMNS, chosen)
        .on_conflict_do_nothing(index_elements=["session_id", "key"])
        .returning(_firings.c.id)
    )
    return (await connection.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class FiringClaim:
    """One cue to claim in :func:`claim_firings`."""

    session_id: str
    key: str
    action: str
    planned_at: datetime


async def claim_firings(
    connection: AsyncConnection,
    claims: Sequence[FiringClaim],
    instance_id: str,
    *,
    claimed_at: datetime,
) -> dict[tuple[str, str], int]:
    """Claim many cues at once (a burst due at the same instant); {(session_id, key): id}.

    The rule of :func:`claim_firing`, for a batch: only cues never claimed before, of sessions
    on which ``instance_id`` holds a live lease. The leases are checked first in the same
    transaction, on the database clock, then the inserts go in multi-row batches. Whatever
    races with it, the UNIQUE (session_id, key) lets each cue be claimed once.
    """
    if not claims:
        return {}
    dialect = connection.dialect.name
    leased = (
        select(_sessions.c.id).where(
            _sessions.c.id.in_(sorted({claim.session_id for claim in claims})),
            _sessions.c.owner == instance_id,
            _sessions.c.lease_until > db_now(dialect),
        )
        # No row lock: share-locking the sessions here deadlocked with the lease heartbeat's
        # UPDATE of the same rows. The check is then as atomic as claim_firing's single
        # statement (a snapshot read); a claim can never be doubled either way: the
        # UNIQUE (session_id, key) decides. See "Lock order" in facilbot.store.sessions.
    )
    held = set((await connection.execute(leased)).scalars())
    rows = [
        {
            "session_id": claim.session_id,
            "key": claim.key,
            "action": claim.action,
            "planned_at": claim.planned_at,
            "claimed_at": claimed_at,
            "status": "firing",
            "attempts": [],
            "claimed_by": instance_id,
        }
        # In (session, key) order: a batch racing another over the same keys waits for them
        # in the same order, never in a cycle.
        for claim in sorted(claims, key=lambda claim: (claim.session_id, claim.key))
        if claim.session_id in held
    ]
    statement = (
        upsert_insert(connection, _firings)
        .on_conflict_do_nothing(index_elements=["session_id", "key"])
        .returning(_firings.c.session_id, _firings.c.key, _firings.c.id)
    )
    won: dict[tuple[str, str], int] = {}
    # In slices, so that preparing a huge burst never holds the event loop for long.
    for start in range(0, len(rows), _CLAIM_CHUNK):
        result = await connection.execute(statement, rows[start : start + _CLAIM_CHUNK])
        for row in result:
            won[(row.session_id, row.key)] = row.id
    return won


async def finish_firing(
    connection: AsyncConnection,
    firing_id: int,
    status: str,
    *,
    sent_at: datetime | None = None,
    channel: str | None = None,
    outcome: str | None = None,
    attempts: Sequence[Mapping[str, Any]] = (),
    error: str | None = None,
) -> bool:
    """Record what became of a claimed firing; False unless it was still ``firing``.

    ``attempts`` lists each channel tried (e.g. ``{"channel": ..., "outcome": ..., "detail":
    ...}``); ``error`` is a short reason, cut to 500 characters — never a token or payload.
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"a firing cannot finish as {status!r}")
    result = await connection.execute(
        update(_firings)
        .where(_firings.c.id == firing_id, _firings.c.status == "firing")
        .values(
            status=status,
            sent_at=sent_at,
            channel=channel,
            outcome=outcome,
            attempts=[dict(attempt) for attempt in attempts],
            error=None if error is None else error[:ERROR_MAX],
        )
    )
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class FiringOutcome:
    """What became of one claimed firing, for :func:`finish_firings`."""

    firing_id: int
    status: str
    sent_at: datetime | None = None
    channel: str | None = None
    outcome: str | None = None
    attempts: Sequence[Mapping[str, Any]] = ()
    error: str | None = None


async def finish_firings(connection: AsyncConnection, outcomes: Sequence[FiringOutcome]) -> None:
    """:func:`finish_firing` for many firings in one round trip (rows no longer ``firing`` are
    left alone)."""
    if not outcomes:
        return
    for item in outcomes:
        if item.status not in FINAL_STATUSES:
            raise ValueError(f"a firing cannot finish as {item.status!r}")
    statement = (
        update(_firings)
        .where(_firings.c.id == bindparam("firing_id"), _firings.c.status == "firing")
        .values(
            status=bindparam("new_status"),
            sent_at=bindparam("new_sent_at", type_=UTCDateTime()),
            channel=bindparam("new_channel"),
            outcome=bindparam("new_outcome"),
            attempts=bindparam("new_attempts", type_=JSONType),
            error=bindparam("new_error"),
        )
    )
    await connection.execute(
        statement,
        [
            {
                "firing_id": item.firing_id,
                "new_status": item.status,
                "new_sent_at": item.sent_at,
                "new_channel": item.channel,
                "new_outcome": item.outcome,
                "new_attempts": [dict(attempt) for attempt in item.attempts],
                "new_error": None if item.error is None else item.error[:ERROR_MAX],
            }
            # In firing id order, the order mark_interrupted locks them in.
            for item in sorted(outcomes, key=lambda item: item.firing_id)
        ],
    )


async def acknowledge_firing(
    connection: AsyncConnection,
    firing_id: int,
    *,
    channel: str | None = None,
    by: str | None = None,
    at: datetime | None = None,
) -> bool:
    """A person or the in-client bridge confirmed a sent firing happened.

    ``by`` and ``at`` are kept for the report's cue table ("who pressed done"); only the
    first acknowledgement counts, since a second finds the firing no longer ``sent``.
    """
    values: dict[str, Any] = {
        "status": "acknowledged",
        "outcome": "acknowledged",
        "acknowledged_by": None if by is None else by[:200],
        "acknowledged_at": at,
    }
    if channel is not None:
        values["channel"] = channel
    result = await connection.execute(
        update(_firings)
        .where(_firings.c.id == firing_id, _firings.c.status == "sent")
        .values(**values)
    )
    return result.rowcount == 1


async def mark_missed(
    connection: AsyncConnection, firing_ids: Sequence[int], reason: str
) -> list[int]:
    """Producer cues nobody marked done in time: still ``sent`` (they were shown), with the
    outcome ``missed``. Returns the ids changed (a cue marked done meanwhile stays done)."""
    if not firing_ids:
        return []
    rows = await connection.execute(
        update(_firings)
        .where(_firings.c.id.in_(list(firing_ids)), _firings.c.status == "sent")
        .values(outcome="missed", error=reason[:ERROR_MAX])
        .returning(_firings.c.id)
    )
    return [row[0] for row in rows]


async def firings_for(connection: AsyncConnection, session_id: str) -> list[FiringRecord]:
    """Every firing of the session, in claim order."""
    rows = await connection.execute(
        select(_firings).where(_firings.c.session_id == session_id).order_by(_firings.c.id)
    )
    return [FiringRecord(**row._mapping) for row in rows]


async def firings_for_many(
    connection: AsyncConnection, session_ids: Sequence[str]
) -> dict[str, list[FiringRecord]]:
    """:func:`firings_for` for many sessions in one round trip per thousand (runners starting
    together read their firings in one statement, not one each)."""
    found: dict[str, list[FiringRecord]] = {session_id: [] for session_id in session_ids}
    for chunk in id_chunks(session_ids):
        rows = await connection.execute(
            select(_firings).where(_firings.c.session_id.in_(chunk)).order_by(_firings.c.id)
        )
        for row in rows:
            found[row.session_id].append(FiringRecord(**row._mapping))
    return found


async def get_firing(connection: AsyncConnection, firing_id: int) -> FiringRecord | None:
    row = (await connection.execute(select(_firings).where(_firings.c.id == firing_id))).first()
    return None if row is None else FiringRecord(**row._mapping)


async def interrupted_firings(connection: AsyncConnection, session_id: str) -> list[FiringRecord]:
    """Claimed but never recorded as sent: the service stopped between claim and send.

    Only meaningful when no instance is sending for the session right now (on start, or after
    adopting it); these are reported, never retried.
    """
    rows = await connection.execute(
        select(_firings)
        .where(
            _firings.c.session_id == session_id,
            _firings.c.status == "firing",
            _firings.c.sent_at.is_(None),
        )
        .order_by(_firings.c.id)
    )
    return [FiringRecord(**row._mapping) for row in rows]


async def release_reservations(connection: AsyncConnection, firing_ids: Sequence[int]) -> list[int]:
    """Give back reservations their holder will not send (the cue moved, was skipped, or the
    instance is stopping); the ids deleted. Only rows still unsent are touched: by id, so a
    reservation made afresh by whoever holds the session now is never someone else's to drop."""
    if not firing_ids:
        return []
    rows = await connection.execute(
        delete(_firings)
        .where(
            _firings.c.id.in_(sorted(firing_ids)),
            _firings.c.status == "firing",
            _firings.c.sent_at.is_(None),
        )
        .returning(_firings.c.id)
    )
    return sorted(row[0] for row in rows)


async def release_unsent_many(
    connection: AsyncConnection,
    session_ids: Sequence[str],
    instance_id: str,
    *,
    after: datetime,
    others_after: datetime,
) -> dict[str, list[str]]:
    """A new holder of the sessions gives back the reservations whose moment has not come:
    ``planned_at`` after ``after`` for its own (``claimed_by`` is ``instance_id``: one clock),
    after ``others_after`` (later, for another machine's clock skew) for another instance's.
    The keys given back, by session. Only on sessions whose lease ``instance_id`` holds, on the
    database clock: a reservation made since by the session's real holder is not ours to drop.

    Why this is safe: the holder that reserved a row sends it only at its moment and only
    while its own lease may still run (``Engine.may_send``); the lease has run out, or was
    given up, before anyone else holds the session. So a row whose moment had not come then
    was never sent.
    """
    released: dict[str, list[str]] = {}
    dialect = connection.dialect.name
    for chunk in id_chunks(session_ids):
        leased = select(_sessions.c.id).where(
            _sessions.c.id.in_(chunk),
            _sessions.c.owner == instance_id,
            _sessions.c.lease_until > db_now(dialect),
        )
        rows = await connection.execute(
            delete(_firings)
            .where(
                _firings.c.session_id.in_(leased),
                _firings.c.status == "firing",
                _firings.c.sent_at.is_(None),
                or_(
                    (_firings.c.claimed_by == instance_id) & (_firings.c.planned_at > after),
                    _firings.c.planned_at > others_after,
                ),
            )
            .returning(_firings.c.session_id, _firings.c.key)
        )
        for row in rows:
            released.setdefault(row.session_id, []).append(row.key)
    return {session_id: sorted(keys) for session_id, keys in released.items()}


async def mark_interrupted(
    connection: AsyncConnection, session_id: str, *, error: str = "interrupted before sending"
) -> list[int]:
    """Close out the session's interrupted firings as ``interrupted``; their ids."""
    closed = await mark_interrupted_many(connection, [session_id], error=error)
    return closed.get(session_id, [])


async def mark_interrupted_many(
    connection: AsyncConnection,
    session_ids: Sequence[str],
    *,
    error: str = "interrupted before sending",
) -> dict[str, list[int]]:
    """:func:`mark_interrupted` for several sessions in one statement per thousand; the ids
    closed out, by session (only sessions that had any). Rows are locked in firing id order."""
    closed: dict[str, list[int]] = {}
    for chunk in id_chunks(session_ids):
        interrupted = (
            _firings.c.session_id.in_(chunk),
            _firings.c.status == "firing",
            _firings.c.sent_at.is_(None),
        )
        in_order = (
            select(_firings.c.id)
            .where(*interrupted)
            .order_by(_firings.c.id)
            .with_for_update(key_share=True)
            .scalar_subquery()
        )
        rows = await connection.execute(
            update(_firings)
            .where(_firings.c.id.in_(in_order), *interrupted)
            .values(status="interrupted", error=error[:ERROR_MAX])
            .returning(_firings.c.session_id, _firings.c.id)
        )
        for row in rows:
            closed.setdefault(row.session_id, []).append(row.id)
    return {session_id: sorted(ids) for session_id, ids in closed.items()}
