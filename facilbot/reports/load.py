"""Reading a report's rows through the store functions (the only I/O of the reports)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.reports import tables
from facilbot.reports.data import NoteRecord, SessionData
from facilbot.store import activity, controls, firings, participants, sessions, shows
from facilbot.store.models import Session, ShowVersion, table_of
from runofshow.loader import load_show_text
from runofshow.model import Show

ShowLoader = Callable[[shows.ShowVersionRecord], Awaitable[Show]]

_sessions = table_of(Session)
_shows = table_of(ShowVersion)


async def parse_show(record: shows.ShowVersionRecord) -> Show:
    # Parsing a long show takes milliseconds: off the event loop.
    loaded = await asyncio.to_thread(load_show_text, record.yaml_text, f"{record.name}.yaml")
    return loaded.show


async def session_data(
    connection: AsyncConnection,
    session_id: str,
    now: datetime,
    *,
    show_loader: ShowLoader = parse_show,
) -> SessionData | None:
    record = await sessions.get_session(connection, session_id)
    if record is None:
        return None
    version = await shows.get_show_version(connection, record.show_version_id)
    assert version is not None  # a foreign key
    aggregates = (await tables.aggregates_for(connection, [session_id])).get(session_id)
    notes = await tables.notes_for(connection, [session_id])
    if aggregates is not None:
        return SessionData(
            session=record,
            show=await show_loader(version),
            show_name=version.name,
            show_version=version.version,
            controls=(),
            firings=(),
            participants=(),
            presence=(),
            chat=(),
            answers=(),
            commitments=(),
            notes=notes,
            now=now,
            aggregates={**aggregates, "notes": _note_rows(notes)},
        )
    return SessionData(
        session=record,
        show=await show_loader(version),
        show_name=version.name,
        show_version=version.version,
        controls=await controls.controls_for(connection, session_id),
        firings=await firings.firings_for(connection, session_id),
        participants=await participants.participants_for(connection, session_id),
        presence=await participants.presence_for(connection, session_id),
        chat=await activity.chat_for(connection, session_id),
        answers=await activity.poll_answers_for(connection, session_id),
        commitments=await activity.commitments_for(connection, session_id),
        notes=notes,
        now=now,
    )


def _note_rows(notes: list[NoteRecord]) -> list[dict[str, object]]:
    return [
        {
            "segment_id": n.segment_id,
            "text": n.text,
            "author": n.author,
            "role": n.role,
            "at": n.created_at.isoformat(),
        }
        for n in notes
    ]


async def last_ended(connection: AsyncConnection) -> str | None:
    found = await sessions.ended_sessions(connection, limit=1)
    return found[0].id if found else None


async def show_session_ids(connection: AsyncConnection, name: str) -> list[str]:
    """Every session of every version of the show, oldest first."""
    rows = await connection.execute(
        select(_sessions.c.id)
        .join(_shows, _shows.c.id == _sessions.c.show_version_id)
        .where(_shows.c.name == name)
        .order_by(_sessions.c.created_at, _sessions.c.id)
    )
    return [row.id for row in rows]
