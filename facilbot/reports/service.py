"""Reports from the database: the session report, the cohort report, and pruning.

The glue between :mod:`.load` (reading through the store) and the pure computations; the CLI,
the API and the periodic prune call these.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facilbot.journey import figures as journey_figures
from facilbot.journey import tables as journey_tables
from facilbot.reports import load, tables
from facilbot.reports.cohort import cohort_report
from facilbot.reports.data import JourneyProvider
from facilbot.reports.render import journey_lines, to_html
from facilbot.reports.session import session_report, strip_private
from facilbot.store import shows as store_shows
from facilbot.store.db import reading
from facilbot.store.models import (
    ChatMessage,
    Commitment,
    Participant,
    PollAnswer,
    Session,
    table_of,
)
from runofshow.model import Show

Report = dict[str, Any]


async def build_session_report(
    connection: AsyncConnection,
    session_id: str,
    now: datetime,
    *,
    show_loader: load.ShowLoader = load.parse_show,
    journey: JourneyProvider | None = None,
) -> Report | None:
    data = await load.session_data(connection, session_id, now, show_loader=show_loader)
    if data is None:
        return None
    if journey is None and data.aggregates is None:
        journey = await journey_figures.provider(connection, data)
    # A report of 10,000 cues is a few hundred milliseconds of pure Python: off the event loop,
    # so webhooks (Zoom wants an answer within 3 s) and the live consoles keep being served.
    # The journey figures were read above; the provider only looks them up.
    return await asyncio.to_thread(session_report, data, journey=journey)


async def build_cohort_report(
    connection: AsyncConnection,
    name: str,
    now: datetime,
    *,
    show_loader: load.ShowLoader = load.parse_show,
) -> Report | None:
    versions = await store_shows.show_versions(connection, name)
    if not versions:
        return None
    shows: dict[int, Show] = {v.version: await show_loader(v) for v in versions}
    by_id = {v.id: shows[v.version] for v in versions}

    async def parsed(record: store_shows.ShowVersionRecord) -> Show:
        # Every session of a version shares its show: parse each version once, not once
        # per session (a long show takes longer to parse than its report takes to compute).
        found = by_id.get(record.id)
        return found if found is not None else await show_loader(record)

    reports = []
    for session_id in await load.show_session_ids(connection, name):
        report = await build_session_report(connection, session_id, now, show_loader=parsed)
        if report is not None:
            reports.append(report)
    report = cohort_report(name, reports, shows)
    report["journey"] = journey_figures.cohort(reports)
    # worded as on the session report, for the cohort page and text (no people: [])
    report["journey_lines"] = (
        journey_lines(
            report["journey"],
            prework=any(s.prework for s in shows.values()),
            follow_ups=any(s.follow_up is not None for s in shows.values()),
        )
        if report["journey"]["people"]
        else []
    )
    return report


_sessions = table_of(Session)
#: Tables holding personal data of participants (names, emails, chat, answers, commitments,
#: and the journey's addresses, consent, pre-work marks, late answers and follow-ups with their
#: answers); presence rows go with their participant (ON DELETE CASCADE). A follow-up still
#: scheduled when its session is pruned is deleted unsent: the retention is the promise made
#: to the person, so keep FACILBOT_RETENTION_DAYS beyond the last check-in (docs/journey.md).
_PERSONAL = [
    *(table_of(m) for m in (ChatMessage, PollAnswer, Commitment, Participant)),
    *(
        table_of(m)
        for m in (
            journey_tables.JourneyPerson,
            journey_tables.PreworkMark,
            journey_tables.FollowUpMessage,
            journey_tables.JourneyAnswer,
        )
    ),
]


async def prune(engine: AsyncEngine, now: datetime, retention_days: int) -> list[str]:
    """Delete the personal rows of sessions that ended more than ``retention_days`` ago,
    keeping their report figures; the ids of the sessions pruned (oldest first).

    Each session is its own transaction: the figures are written in the same transaction that
    deletes the rows, so a report never loses both.
    """
    cutoff = now - timedelta(days=retention_days)
    async with reading(engine) as connection:
        rows = await connection.execute(
            select(_sessions.c.id)
            .where(_sessions.c.status == "ended", _sessions.c.ended_at < cutoff)
            .order_by(_sessions.c.ended_at)
        )
        candidates = [row.id for row in rows]
        done = await tables.aggregates_for(connection, candidates)
    pruned = []
    for session_id in candidates:
        if session_id in done:
            continue
        async with engine.begin() as connection:
            report = await build_session_report(connection, session_id, now)
            if report is None:
                continue
            await tables.save_aggregates(connection, session_id, strip_private(report), now)
            for table in _PERSONAL:
                await connection.execute(delete(table).where(table.c.session_id == session_id))
        pruned.append(session_id)
    return pruned


async def write_html_report(
    engine: AsyncEngine, session_id: str, now: datetime, path: Path
) -> Path | None:
    """Write the session's report page to ``path`` (what ``facilbot demo`` leaves behind)."""
    async with reading(engine) as connection:
        report = await build_session_report(connection, session_id, now)
    if report is None:
        return None
    await asyncio.to_thread(path.write_text, to_html(report), "utf-8")
    return path
