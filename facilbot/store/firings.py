"""Cue firings: the exactly-once claim, the recorded outcome, and interrupted claims.

A cue is sent only after :func:`claim_firing` inserted its row. The insert is one statement
that also checks, on the database clock, that the claiming instance holds the session's lease;
the UNIQUE (session_id, key) makes a second claim a no-op even from a zombie owner. A row left
in ``firing`` without ``sent_at`` was interrupted between claim and send: it is reported
(:func:`interrupted_firings`, :func:`mark_interrupted`), never sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.db import db_now
from facilbot.store.leases import holds_lease
from facilbot.store.models import FIRING_STATUSES, Firing, Session, table_of
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
        # UNIQUE (session_id, key) decides.
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
        for claim in claims
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
            for item in outcomes
        ],
    )


async def acknowledge_firing(
    connection: AsyncConnection, firing_id: int, *, channel: str | None = None
) -> bool:
    """A person or the in-client bridge confirmed a sent firing happened."""
    values: dict[str, Any] = {"status": "acknowledged", "outcome": "acknowledged"}
    if channel is not None:
        values["channel"] = channel
    result = await connection.execute(
        update(_firings)
        .where(_firings.c.id == firing_id, _firings.c.status == "sent")
        .values(**values)
    )
    return result.rowcount == 1


async def firings_for(connection: AsyncConnection, session_id: str) -> list[FiringRecord]:
    """Every firing of the session, in claim order."""
    rows = await connection.execute(
        select(_firings).where(_firings.c.session_id == session_id).order_by(_firings.c.id)
    )
    return [FiringRecord(**row._mapping) for row in rows]


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


async def mark_interrupted(
    connection: AsyncConnection, session_id: str, *, error: str = "interrupted before sending"
) -> list[int]:
    """Close out the session's interrupted firings as ``interrupted``; their ids."""
    rows = await connection.execute(
        update(_firings)
        .where(
            _firings.c.session_id == session_id,
            _firings.c.status == "firing",
            _firings.c.sent_at.is_(None),
        )
        .values(status="interrupted", error=error[:ERROR_MAX])
        .returning(_firings.c.id)
    )
    return sorted(rows.scalars())
