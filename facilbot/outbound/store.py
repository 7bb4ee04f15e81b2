"""Endpoints, their delivery log and replays (SQLAlchemy Core, both databases)."""

from __future__ import annotations

import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.outbound import tables
from facilbot.outbound.events import EVENT_TYPES
from facilbot.outbound.secrets import Cipher, new_secret

#: How long the secret before a rotation still signs deliveries (beside the new one).
ROTATION_OVERLAP = timedelta(hours=24)

_e = tables.endpoints
_d = tables.deliveries
_a = tables.attempts
_ev = tables.events


class UnknownEventType(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    url: str
    description: str
    event_types: Sequence[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_until: datetime | None
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


_PUBLIC = [
    _e.c.id,
    _e.c.url,
    _e.c.description,
    _e.c.event_types,
    _e.c.enabled,
    _e.c.disabled_reason,
    _e.c.failing_since,
    _e.c.previous_until,
    _e.c.created_at,
]


def check_event_types(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown:
        raise UnknownEventType(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return list(dict.fromkeys(names))


async def create_endpoint(
    connection: AsyncConnection,
    cipher: Cipher,
    *,
    url: str,
    event_types: Sequence[str],
    description: str,
    at: datetime,
) -> tuple[EndpointRecord, str]:
    """A new endpoint and its ``whsec_`` secret (the only time the secret is returned)."""
    endpoint_id = "ep_" + _random.token_hex(8)
    secret = new_secret()
    await connection.execute(
        insert(_e).values(
            id=endpoint_id,
            url=url,
            description=description,
            event_types=check_event_types(event_types),
            secret=cipher.encrypt(secret),
            previous_secret=None,
            previous_until=None,
            enabled=True,
            disabled_reason=None,
            failing_since=None,
            created_at=at,
        )
    )
    record = await get_endpoint(connection, endpoint_id)
    assert record is not None
    return record, secret


async def get_endpoint(connection: AsyncConnection, endpoint_id: str) -> EndpointRecord | None:
    row = (await connection.execute(select(*_PUBLIC).where(_e.c.id == endpoint_id))).first()
    return None if row is None else EndpointRecord(**row._mapping)


async def list_endpoints(connection: AsyncConnection) -> list[EndpointRecord]:
    rows = await connection.execute(select(*_PUBLIC).order_by(_e.c.created_at, _e.c.id))
    return [EndpointRecord(**row._mapping) for row in rows]


async def set_enabled(
    connection: AsyncConnection, endpoint_id: str, enabled: bool, reason: str | None = None
) -> bool:
    values: dict[str, object] = {"enabled": enabled, "disabled_reason": None if enabled else reason}
    if enabled:
        values["failing_since"] = None
    result = await connection.execute(update(_e).where(_e.c.id == endpoint_id).values(**values))
    return result.rowcount == 1


async def rotate_secret(
    connection: AsyncConnection, cipher: Cipher, endpoint_id: str, at: datetime
) -> str | None:
    """A new secret; the old one keeps signing beside it for :data:`ROTATION_OVERLAP`."""
    current = (
        await connection.execute(select(_e.c.secret).where(_e.c.id == endpoint_id))
    ).scalar_one_or_none()
    if current is None:
        return None
    secret = new_secret()
    await connection.execute(
        update(_e)
        .where(_e.c.id == endpoint_id)
        .values(
            secret=cipher.encrypt(secret),
            previous_secret=current,
            previous_until=at + ROTATION_OVERLAP,
        )
    )
    return secret


async def signing_secrets(
    connection: AsyncConnection, cipher: Cipher, endpoint_id: str
) -> list[tuple[str, datetime | None]]:
    """The endpoint's secrets, each with the end of its validity: the current one (None: no
    end) and the one before the last rotation, valid until the overlap ends."""
    row = (
        await connection.execute(
            select(_e.c.secret, _e.c.previous_secret, _e.c.previous_until).where(
                _e.c.id == endpoint_id
            )
        )
    ).first()
    if row is None:
        return []
    out: list[tuple[str, datetime | None]] = [(cipher.decrypt(row.secret), None)]
    if row.previous_secret and row.previous_until:
        out.append((cipher.decrypt(row.previous_secret), row.previous_until))
    return out


async def delete_endpoint(connection: AsyncConnection, endpoint_id: str) -> bool:
    ids = select(_d.c.id).where(_d.c.endpoint_id == endpoint_id).scalar_subquery()
    await connection.execute(delete(_a).where(_a.c.delivery_id.in_(ids)))
    await connection.execute(delete(_d).where(_d.c.endpoint_id == endpoint_id))
    result = await connection.execute(delete(_e).where(_e.c.id == endpoint_id))
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    endpoint_id: str
    msg_id: str
    type: str
    session_id: str | None
    generation: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    last_status_code: int | None
    last_outcome: str | None
    last_duration_ms: int | None
    last_excerpt: str | None
    last_error: str | None


async def deliveries_for(
    connection: AsyncConnection, endpoint_id: str, *, limit: int = 50
) -> list[DeliveryRecord]:
    """The endpoint's delivery log, newest first, each with its last attempt."""
    last = (
        select(_a.c.delivery_id, func.max(_a.c.attempt).label("attempt"))
        .group_by(_a.c.delivery_id)
        .subquery()
    )
    statement = (
        select(
            _d.c.id,
            _d.c.endpoint_id,
            _ev.c.msg_id,
            _ev.c.type,
            _d.c.session_id,
            _d.c.generation,
            _d.c.status,
            _d.c.attempts,
            _d.c.next_attempt_at,
            _d.c.created_at,
            _d.c.finished_at,
            _a.c.status_code.label("last_status_code"),
            _a.c.outcome.label("last_outcome"),
            _a.c.duration_ms.label("last_duration_ms"),
            _a.c.excerpt.label("last_excerpt"),
            _a.c.error.label("last_error"),
        )
        .join(_ev, _ev.c.id == _d.c.event_id)
        .outerjoin(last, last.c.delivery_id == _d.c.id)
        .outerjoin(_a, (_a.c.delivery_id == _d.c.id) & (_a.c.attempt == last.c.attempt))
        .where(_d.c.endpoint_id == endpoint_id)
        .order_by(_d.c.id.desc())
        .limit(limit)
    )
    return [DeliveryRecord(**row._mapping) for row in await connection.execute(statement)]


async def _add_delivery(
    connection: AsyncConnection,
    endpoint_id: str,
    event_id: int,
    session_id: str | None,
    at: datetime,
) -> int:
    generation = (
        await connection.execute(
            select(func.coalesce(func.max(_d.c.generation), -1) + 1).where(
                _d.c.endpoint_id == endpoint_id, _d.c.event_id == event_id
            )
        )
    ).scalar_one()
    return int(
        (
            await connection.execute(
                insert(_d)
                .values(
                    endpoint_id=endpoint_id,
                    event_id=event_id,
                    session_id=session_id,
                    generation=generation,
                    status="pending",
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                    finished_at=None,
                )
                .returning(_d.c.id)
            )
        ).scalar_one()
    )


async def replay_delivery(
    connection: AsyncConnection, delivery_id: int, at: datetime
) -> int | None:
    """Send a delivery's event again (same webhook-id); the new delivery's id."""
    row = (
        await connection.execute(
            select(_d.c.endpoint_id, _d.c.event_id, _d.c.session_id).where(_d.c.id == delivery_id)
        )
    ).first()
    if row is None:
        return None
    return await _add_delivery(connection, row.endpoint_id, row.event_id, row.session_id, at)


async def replay_session(
    connection: AsyncConnection, endpoint_id: str, session_id: str, at: datetime
) -> int:
    """Send every event of a session to the endpoint again, in order; how many."""
    rows = await connection.execute(
        select(_ev.c.id, _ev.c.type).where(_ev.c.session_id == session_id).order_by(_ev.c.id)
    )
    endpoint = await get_endpoint(connection, endpoint_id)
    if endpoint is None:
        return 0
    count = 0
    for row in rows.all():
        if endpoint.wants(row.type):
            await _add_delivery(connection, endpoint_id, row.id, session_id, at)
            count += 1
    return count
