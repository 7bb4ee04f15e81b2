"""The transactional outbox: events are written in the transaction of the change they report.

Every writer calls one function here with its own open connection, so an event exists if and
only if its change committed; the delivery worker (:mod:`facilbot.outbound.worker`) fans the
rows out to the endpoints later, off the write path. The payload follows the Standard Webhooks
shape: ``{"type", "timestamp", "data"}``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.outbound import tables
from facilbot.outbound.events import EVENT_TYPES
from facilbot.store._sql import upsert_insert
from facilbot.store.activity import poll_answers_for
from facilbot.store.models import Firing, table_of

_firings = table_of(Firing)


#: Events per INSERT when many are queued at once (a burst's cue.fired, segment.started): each
#: chunk's rows are built just before it is sent, so the event loop runs while the database
#: writes the previous one instead of waiting for a thousand rows to be built in one stretch
#: (98 ms for a burst's 1,000 segment.started on the loaded 2-core machine).
ROWS_PER_STATEMENT = 100


async def _insert_chunked(
    connection: AsyncConnection,
    statement: Any,
    items: Sequence[Any],
    build: Callable[[Any], dict[str, Any]],
) -> None:
    for start in range(0, len(items), ROWS_PER_STATEMENT):
        await connection.execute(
            statement, [build(item) for item in items[start : start + ROWS_PER_STATEMENT]]
        )


def new_msg_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _row(
    type: str, data: Mapping[str, Any], at: datetime, session_id: str | None
) -> dict[str, Any]:
    if type not in EVENT_TYPES:
        raise ValueError(f"unregistered event type {type!r}")
    body = {"type": type, "timestamp": at.isoformat(), "data": _jsonable(data)}
    return {
        "msg_id": new_msg_id(),
        "type": type,
        "session_id": session_id,
        "payload": body,
        "created_at": at,
        "dispatched": False,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


async def add(
    connection: AsyncConnection,
    type: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    session_id: str | None = None,
) -> None:
    """Queue one event in the caller's transaction."""
    await connection.execute(insert(tables.events), [_row(type, data, at, session_id)])


@dataclass(frozen=True, slots=True)
class Once:
    """An event with no state change of its own to ride with (a segment beginning is a matter
    of time): its id derives from ``once_key``, so every runner that sees the moment, before
    or after a restart or a hand-over, writes the same row and only the first write counts."""

    type: str
    data: Mapping[str, Any]
    at: datetime
    session_id: str
    once_key: str


async def add_once_many(connection: AsyncConnection, events: Sequence[Once]) -> None:
    """Queue :class:`Once` events (a statement per :data:`ROWS_PER_STATEMENT`); those already
    queued are left as they are."""

    def build(event: Once) -> dict[str, Any]:
        row = _row(event.type, event.data, event.at, event.session_id)
        key = f"{event.session_id}\0{event.type}\0{event.once_key}"
        row["msg_id"] = f"msg_{hashlib.sha256(key.encode()).hexdigest()[:32]}"
        return row

    statement = upsert_insert(connection, tables.events).on_conflict_do_nothing(
        index_elements=["msg_id"]
    )
    await _insert_chunked(connection, statement, events, build)


async def add_many(
    connection: AsyncConnection,
    rows: Sequence[tuple[str, Mapping[str, Any], str | None]],
    at: datetime,
) -> None:
    """Queue several events ``(type, data, session_id)``, a round trip per
    :data:`ROWS_PER_STATEMENT`."""
    await _insert_chunked(
        connection, insert(tables.events), rows, lambda row: _row(row[0], row[1], at, row[2])
    )


async def add_each(
    connection: AsyncConnection,
    rows: Sequence[tuple[str, Mapping[str, Any], str | None, datetime]],
) -> None:
    """Queue several events ``(type, data, session_id, at)``, each at its own moment, a round
    trip per :data:`ROWS_PER_STATEMENT` (a batch of state changes made at different moments)."""
    await _insert_chunked(
        connection, insert(tables.events), rows, lambda row: _row(row[0], row[1], row[3], row[2])
    )


async def firings_finished(connection: AsyncConnection, firing_ids: Sequence[int]) -> None:
    """Events for cues whose outcome was just recorded (the engine's outcome batch).

    ``cue.fired`` for each; ``cue.needs_producer`` when it fell back to the producer;
    ``guard.*`` for what a live guard inserted; ``poll.closed`` with the results.
    """
    if not firing_ids:
        return
    rows = (
        await connection.execute(
            select(_firings).where(_firings.c.id.in_(list(firing_ids))).order_by(_firings.c.id)
        )
    ).all()
    events: list[tuple[str, Mapping[str, Any], str | None]] = []
    latest: datetime | None = None
    for row in rows:
        if row.status == "firing":
            continue  # not finished after all (the outcome was refused)
        at = row.sent_at or row.claimed_at
        latest = at if latest is None or at > latest else latest
        late_ms = (
            None
            if row.sent_at is None
            else round((row.sent_at - row.planned_at).total_seconds() * 1000)
        )
        sid = row.session_id
        events.append(
            (
                "cue.fired",
                {
                    "session_id": sid,
                    "key": row.key,
                    "action": row.action,
                    "planned_at": row.planned_at,
                    "sent_at": row.sent_at,
                    "late_ms": late_ms,
                    "channel": row.channel,
                    "outcome": row.outcome,
                    "status": row.status,
                },
                sid,
            )
        )
        if row.channel == "producer_cue" and row.status == "sent":
            cue = next((a for a in row.attempts or () if "producer_cue" in a), None)
            events.append(
                (
                    "cue.needs_producer",
                    {
                        "session_id": sid,
                        "key": row.key,
                        "action": row.action,
                        "text": cue.get("producer_cue") if cue else None,
                        "paste": cue.get("paste") if cue else None,
                    },
                    sid,
                )
            )
        if row.key.startswith("~break:") and row.action == "start_break":
            events.append(
                ("guard.break_inserted", {"session_id": sid, "key": row.key, "at": at}, sid)
            )
        elif row.key.startswith("~filler:"):
            events.append(
                ("guard.prompt_inserted", {"session_id": sid, "key": row.key, "at": at}, sid)
            )
        if row.action == "poll_close" and row.status == "sent":
            events.append(("poll.closed", await _poll_results(connection, sid, row.key), sid))
    if latest is not None:
        await add_many(connection, events, latest)


async def _poll_results(
    connection: AsyncConnection, session_id: str, close_key: str
) -> dict[str, Any]:
    poll_key = close_key.removesuffix("@close")
    answers = await poll_answers_for(connection, session_id, poll_key)
    counts: Counter[str] = Counter()
    for answer in answers:
        counts.update(str(choice) for choice in answer.answer)
    return {
        "session_id": session_id,
        "poll_key": poll_key,
        "results": dict(counts),
        "answers": len(answers),
    }
