"""The follow-up schedule: derived from the database, written to the database.

For each person who committed, has an address and consented, one row per message: the
reminder ``follow_up.reminder_after`` after the session's end and one check-in per
``follow_up.check_ins`` offset, each moved to a sensible local hour. Deriving is idempotent
(``ON CONFLICT DO NOTHING`` on (session, person, key)), so it runs again whenever something
may have changed: the end of the session, a late commitment, a consent given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.journey import reach
from facilbot.journey.tables import followups
from facilbot.journey.timing import sensible, zone
from facilbot.store import sessions as store_sessions
from facilbot.store import shows as store_shows
from facilbot.store._sql import upsert_insert
from runofshow.loader import load_show_text
from runofshow.model import FollowUp, Show

DEFAULT_FOLLOW_UP = FollowUp()
#: Rows a statement when deriving: 6 values each, far below SQLite's 32,766 bound parameters.
DERIVE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Planned:
    kind: str
    key: str
    offset: timedelta


def planned(show: Show) -> list[Planned]:
    follow_up = show.follow_up or DEFAULT_FOLLOW_UP
    found = []
    if follow_up.reminder_after:
        found.append(Planned("reminder", "reminder", timedelta(seconds=follow_up.reminder_after)))
    for seconds in sorted(set(follow_up.check_ins)):
        found.append(Planned("check_in", f"check_in:{int(seconds)}", timedelta(seconds=seconds)))
    return found


def label(key: str) -> str:
    """``reminder`` or ``check-in 30d`` for people and listings."""
    if key.startswith("check_in:"):
        seconds = int(key.split(":", 1)[1])
        days, rest = divmod(seconds, 86400)
        return f"check-in {days}d" if not rest else f"check-in {seconds // 3600}h"
    return key


async def derive(connection: AsyncConnection, session_id: str, show: Show) -> int:
    """Write the rows the session's people are owed now; how many were new. Nothing before
    the session has ended (its end is what every offset counts from)."""
    record = await store_sessions.get_session(connection, session_id)
    if record is None or record.status != "ended" or record.ended_at is None:
        return 0
    # Runs on every follow-up pass while the session is recent, inside the pass's write
    # transaction: what exists is read once and only the missing rows are written, in one
    # statement per chunk. A statement per person and message held SQLite's write lock for
    # seconds on a loaded machine, and every other writer waited on it.
    existing = await connection.execute(
        select(followups.c.participant_ref, followups.c.key).where(
            followups.c.session_id == session_id
        )
    )
    have = {(row.participant_ref, row.key) for row in existing}
    items = planned(show)
    missing = [
        {
            "session_id": session_id,
            "participant_ref": person.participant_ref,
            "kind": item.kind,
            "key": item.key,
            "due_at": sensible(record.ended_at + item.offset, person.timezone or show.timezone),
            "status": "scheduled",
        }
        for person in await reach.reach_for(connection, session_id)
        if person.reason == "ok"
        for item in items
        if (person.participant_ref, item.key) not in have
    ]
    added = 0
    for start in range(0, len(missing), DERIVE_CHUNK):
        result = await connection.execute(
            upsert_insert(connection, followups)
            .values(missing[start : start + DERIVE_CHUNK])
            # another instance may have written some since the read: those are left as they are
            .on_conflict_do_nothing(index_elements=["session_id", "participant_ref", "key"])
        )
        added += max(result.rowcount, 0)
    return added


async def cancel_for_person(
    connection: AsyncConnection, session_id: str, participant_ref: str, why: str
) -> int:
    """Cancel what is still to be sent to one person (consent withdrawn, unsubscribed)."""
    result = await connection.execute(
        update(followups)
        .where(
            followups.c.session_id == session_id,
            followups.c.participant_ref == participant_ref,
            followups.c.status == "scheduled",
        )
        .values(status="cancelled", error=why)
    )
    return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    session_id: str
    participant_ref: str
    kind: str
    key: str
    due_at: datetime
    status: str
    attempts: int
    sent_at: datetime | None
    error: str | None
    answer: str | None
    answered_at: datetime | None


_ROW_COLUMNS = (
    followups.c.id,
    followups.c.session_id,
    followups.c.participant_ref,
    followups.c.kind,
    followups.c.key,
    followups.c.due_at,
    followups.c.status,
    followups.c.attempts,
    followups.c.sent_at,
    followups.c.error,
    followups.c.answer,
    followups.c.answered_at,
)


async def rows(connection: AsyncConnection, session_id: str | None = None) -> list[Row]:
    statement = select(*_ROW_COLUMNS).order_by(followups.c.due_at, followups.c.id)
    if session_id is not None:
        statement = statement.where(followups.c.session_id == session_id)
    return [Row(**r._mapping) for r in await connection.execute(statement)]


async def row(connection: AsyncConnection, followup_id: int) -> Row | None:
    found = (
        await connection.execute(select(*_ROW_COLUMNS).where(followups.c.id == followup_id))
    ).first()
    return Row(**found._mapping) if found is not None else None


@dataclass(frozen=True, slots=True)
class Listed:
    row: Row
    name: str
    show_title: str
    timezone: str

    @property
    def due_local(self) -> datetime:
        return self.row.due_at.astimezone(zone(self.timezone))

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.row.id,
            "session_id": self.row.session_id,
            "who": self.name,
            "what": label(self.row.key),
            "kind": self.row.kind,
            "due_at": self.row.due_at.isoformat(),
            "due_local": self.due_local.isoformat(),
            "timezone": self.timezone,
            "status": self.row.status,
            "attempts": self.row.attempts,
            "sent_at": self.row.sent_at.isoformat() if self.row.sent_at else None,
            "error": self.row.error,
            "answer": self.row.answer,
            "show": self.show_title,
        }


async def listing(connection: AsyncConnection, session_id: str | None = None) -> list[Listed]:
    """The schedule for people to read: who (by name, never by address), what, when (UTC and
    local), and the state of each message."""
    found = []
    names: dict[tuple[str, str], str] = {}
    zones: dict[str, tuple[str, str | None]] = {}
    for item in await rows(connection, session_id):
        if item.session_id not in zones:
            record = await store_sessions.get_session(connection, item.session_id)
            version = (
                await store_shows.get_show_version(connection, record.show_version_id)
                if record
                else None
            )
            show_zone = None
            if version is not None:
                show_zone = load_show_text(version.yaml_text, f"{version.name}.yaml").show.timezone
            zones[item.session_id] = (version.title if version else "?", show_zone)
            for person in await reach.reach_for(connection, item.session_id):
                names[(item.session_id, person.participant_ref)] = person.name
                if person.timezone:
                    zones[f"{item.session_id} {person.participant_ref}"] = ("", person.timezone)
        title, show_zone = zones[item.session_id]
        personal = zones.get(f"{item.session_id} {item.participant_ref}")
        tz = (personal[1] if personal else None) or show_zone or "UTC"
        found.append(
            Listed(
                row=item,
                name=names.get((item.session_id, item.participant_ref), item.participant_ref),
                show_title=title,
                timezone=tz,
            )
        )
    return found
