"""What facilbot keeps about Zoom meetings beyond the shared tables.

* ``zoom_meeting_instances``: each occurrence's UUID, seen in ``meeting.started`` /
  ``meeting.ended`` webhooks (the past-meeting endpoints want the UUID, not the meeting id).
* ``zoom_session_reports``: per session, the REST channel's work: what the prepare step did on
  attach (Zoom poll ids per show cue, whether breakout rooms were pre-assigned, the problems the
  producer must know about) and the post-meeting fetch (attempts, next try, outcome).
* ``zoom_poll_results``: every answer Zoom's poll report gave, with the show cue it maps to and
  whether it was written to the shared ``poll_answers`` (that table has no source column, so the
  source is kept here, not added there).
* ``zoom_attendance``: Zoom's participant report against the roster the webhooks showed
  (``source`` = both, report or webhooks), with the seconds each side counted.

The tables register on the shared ``Base.metadata`` on import; the migration is ``0004_zoom``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store._sql import upsert_insert
from facilbot.store.models import Base, BigId, table_of
from facilbot.store.types import JSONType

PREPARE_STATUSES = ("preparing", "done", "interrupted", "not_run")
ATTENDANCE_SOURCES = ("both", "report", "webhooks")


class ZoomMeetingInstance(Base):
    __tablename__ = "zoom_meeting_instances"

    uuid: Mapped[str] = mapped_column(String(200), primary_key=True)
    meeting_ref: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    seen_at: Mapped[datetime]


class ZoomSessionReport(Base):
    __tablename__ = "zoom_session_reports"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    meeting_uuid: Mapped[str | None] = mapped_column(String(200))
    prepare_status: Mapped[str] = mapped_column(String(16))
    prepare_started_at: Mapped[datetime | None]
    prepared_at: Mapped[datetime | None]
    prepare_attempts: Mapped[int] = mapped_column(Integer, default=0)
    prepare_next_try_at: Mapped[datetime | None]
    polls: Mapped[dict[str, Any]] = mapped_column(JSONType)
    breakouts_assigned: Mapped[bool] = mapped_column(Boolean, default=False)
    problems: Mapped[list[str]] = mapped_column(JSONType)
    results_attempts: Mapped[int] = mapped_column(Integer, default=0)
    results_next_try_at: Mapped[datetime | None]
    results_done_at: Mapped[datetime | None]
    results_error: Mapped[str | None] = mapped_column(String(300))


class ZoomPollResult(Base):
    __tablename__ = "zoom_poll_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    poll_key: Mapped[str | None] = mapped_column(String(200))
    zoom_poll_id: Mapped[str | None] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    participant_ref: Mapped[str | None] = mapped_column(String(200))
    answer: Mapped[list[str]] = mapped_column(JSONType)
    answered_at: Mapped[datetime | None]
    stored: Mapped[bool] = mapped_column(Boolean)


class ZoomAttendance(Base):
    __tablename__ = "zoom_attendance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    participant_ref: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    report_seconds: Mapped[int | None] = mapped_column(Integer)
    seen_seconds: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))


_instances = table_of(ZoomMeetingInstance)
_reports = table_of(ZoomSessionReport)
_polls = table_of(ZoomPollResult)
_attendance = table_of(ZoomAttendance)
TABLES = (_instances, _reports, _polls, _attendance)


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    uuid: str
    meeting_ref: str
    started_at: datetime | None
    ended_at: datetime | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class ReportRecord:
    session_id: str
    meeting_uuid: str | None
    prepare_status: str
    prepare_started_at: datetime | None
    prepared_at: datetime | None
    prepare_attempts: int
    prepare_next_try_at: datetime | None
    polls: Mapping[str, str]
    breakouts_assigned: bool
    problems: Sequence[str]
    results_attempts: int
    results_next_try_at: datetime | None
    results_done_at: datetime | None
    results_error: str | None


@dataclass(frozen=True, slots=True)
class PollResultRow:
    poll_key: str | None  # None: a Zoom poll facilbot did not create (no show cue)
    zoom_poll_id: str | None
    question: str
    name: str
    email: str | None
    participant_ref: str | None
    answer: Sequence[str]
    answered_at: datetime | None
    stored: bool  # written to poll_answers (False: a later answer from another channel won)


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    participant_ref: str | None
    name: str
    email: str | None
    report_seconds: int | None  # what Zoom's report counts; None: not in the report
    seen_seconds: int | None  # what the webhooks showed; None: never seen joining
    source: str  # both | report | webhooks


@dataclass(frozen=True, slots=True)
class Results:
    polls: list[PollResultRow] = field(default_factory=list)
    attendance: list[AttendanceRow] = field(default_factory=list)


# -- instances ------------------------------------------------------------------------------


async def remember_instance(
    connection: AsyncConnection,
    uuid: str,
    meeting_ref: str,
    *,
    at: datetime,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """Insert the occurrence or fill in what this event adds (redeliveries change nothing)."""
    values: dict[str, Any] = {"meeting_ref": meeting_ref[:200]}
    if started_at is not None:
        values["started_at"] = started_at
    if ended_at is not None:
        values["ended_at"] = ended_at
    statement = upsert_insert(connection, _instances).values(uuid=uuid[:200], seen_at=at, **values)
    statement = statement.on_conflict_do_update(index_elements=[_instances.c.uuid], set_=values)
    await connection.execute(statement)


async def instances_for(connection: AsyncConnection, meeting_ref: str) -> list[InstanceRecord]:
    rows = await connection.execute(
        select(_instances)
        .where(_instances.c.meeting_ref == meeting_ref)
        .order_by(_instances.c.seen_at, _instances.c.uuid)
    )
    return [InstanceRecord(**row._mapping) for row in rows]


# -- the session's report --------------------------------------------------------------------


def _report(row: Any) -> ReportRecord:
    data = dict(row._mapping)
    data["polls"] = dict(data["polls"] or {})
    data["problems"] = tuple(data["problems"] or ())
    return ReportRecord(**data)


async def report(connection: AsyncConnection, session_id: str) -> ReportRecord | None:
    row = (
        await connection.execute(select(_reports).where(_reports.c.session_id == session_id))
    ).first()
    return _report(row) if row else None


async def reports(connection: AsyncConnection, session_ids: Sequence[str]) -> list[ReportRecord]:
    if not session_ids:
        return []
    rows = await connection.execute(select(_reports).where(_reports.c.session_id.in_(session_ids)))
    return [_report(row) for row in rows]


async def claim_prepare(
    connection: AsyncConnection, session_id: str, at: datetime, *, max_attempts: int
) -> bool:
    """Take the prepare step for this session: True for exactly one caller per attempt.

    The first attempt inserts the row; a retry (after Zoom could not be reached) moves a row
    whose next try is due back to ``preparing``.
    """
    statement = (
        upsert_insert(connection, _reports)
        .values(
            session_id=session_id,
            prepare_status="preparing",
            prepare_started_at=at,
            prepare_attempts=1,
            polls={},
            breakouts_assigned=False,
            problems=[],
            results_attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[_reports.c.session_id])
    )
    if (await connection.execute(statement)).rowcount:
        return True
    result = await connection.execute(
        update(_reports)
        .where(
            _reports.c.session_id == session_id,
            _reports.c.prepare_status == "done",
            _reports.c.prepare_next_try_at.is_not(None),
            _reports.c.prepare_next_try_at <= at,
            _reports.c.prepare_attempts < max_attempts,
        )
        .values(
            prepare_status="preparing",
            prepare_started_at=at,
            prepare_attempts=_reports.c.prepare_attempts + 1,
            prepare_next_try_at=None,
        )
    )
    return bool(result.rowcount)


async def finish_prepare(
    connection: AsyncConnection,
    session_id: str,
    *,
    at: datetime,
    polls: Mapping[str, str],
    breakouts_assigned: bool,
    problems: Sequence[str],
    retry_at: datetime | None = None,
) -> None:
    """Keep what the prepare step did; ``retry_at`` when it should be tried again then."""
    await connection.execute(
        update(_reports)
        .where(_reports.c.session_id == session_id)
        .values(
            prepare_status="done",
            prepared_at=at,
            polls=dict(polls),
            breakouts_assigned=breakouts_assigned,
            problems=[p[:500] for p in problems],
            prepare_next_try_at=retry_at,
        )
    )


async def stale_prepares(connection: AsyncConnection, older_than: datetime) -> list[str]:
    """Sessions whose prepare step has been ``preparing`` since before ``older_than``."""
    rows = await connection.execute(
        select(_reports.c.session_id).where(
            _reports.c.prepare_status == "preparing",
            _reports.c.prepare_started_at < older_than,
        )
    )
    return [row.session_id for row in rows]


async def interrupt_prepares(
    connection: AsyncConnection, session_ids: Sequence[str], problem: str
) -> None:
    """Prepare steps left ``preparing`` by a stopped process become ``interrupted``: polls may
    exist on Zoom already, so they are reported rather than created a second time."""
    await connection.execute(
        update(_reports)
        .where(_reports.c.session_id.in_(session_ids), _reports.c.prepare_status == "preparing")
        .values(prepare_status="interrupted", problems=[problem])
    )


async def ensure_results_scheduled(
    connection: AsyncConnection, session_id: str, first_try_at: datetime
) -> None:
    """Make sure an ended session has a row with a first fetch time (insert or fill in)."""
    statement = (
        upsert_insert(connection, _reports)
        .values(
            session_id=session_id,
            prepare_status="not_run",
            polls={},
            breakouts_assigned=False,
            problems=[],
            prepare_attempts=0,
            results_attempts=0,
            results_next_try_at=first_try_at,
        )
        .on_conflict_do_nothing(index_elements=[_reports.c.session_id])
    )
    await connection.execute(statement)
    await connection.execute(
        update(_reports)
        .where(
            _reports.c.session_id == session_id,
            _reports.c.results_next_try_at.is_(None),
            _reports.c.results_done_at.is_(None),
            _reports.c.results_attempts == 0,
        )
        .values(results_next_try_at=first_try_at)
    )


async def claim_results(
    connection: AsyncConnection,
    session_id: str,
    at: datetime,
    *,
    max_attempts: int,
    retry_after: timedelta,
) -> int | None:
    """Take one fetch attempt (atomically, so one instance runs it); its number, or None.

    The next try is set now, so an attempt cut short by a crash is retried after the backoff.
    """
    result = await connection.execute(
        update(_reports)
        .where(
            _reports.c.session_id == session_id,
            _reports.c.results_done_at.is_(None),
            _reports.c.results_attempts < max_attempts,
            or_(_reports.c.results_next_try_at.is_(None), _reports.c.results_next_try_at <= at),
        )
        .values(
            results_attempts=_reports.c.results_attempts + 1,
            results_next_try_at=at + retry_after,
        )
    )
    if not result.rowcount:
        return None
    row = await report(connection, session_id)
    return row.results_attempts if row else None


async def fail_results(
    connection: AsyncConnection, session_id: str, error: str, *, final: bool
) -> None:
    values: dict[str, Any] = {"results_error": error[:300]}
    if final:
        values["results_next_try_at"] = None
    await connection.execute(
        update(_reports).where(_reports.c.session_id == session_id).values(**values)
    )


async def store_results(
    connection: AsyncConnection,
    session_id: str,
    results: Results,
    *,
    at: datetime,
    meeting_uuid: str | None,
    note: str | None = None,
) -> None:
    """Replace the session's Zoom results and mark the fetch done (``note``: what was
    missing, kept as the fetch's error)."""
    await connection.execute(delete(_polls).where(_polls.c.session_id == session_id))
    await connection.execute(delete(_attendance).where(_attendance.c.session_id == session_id))
    if results.polls:
        await connection.execute(
            insert(_polls),
            [
                {
                    "session_id": session_id,
                    "poll_key": row.poll_key,
                    "zoom_poll_id": row.zoom_poll_id,
                    "question": row.question,
                    "name": row.name[:300],
                    "email": row.email[:320] if row.email else None,
                    "participant_ref": row.participant_ref,
                    "answer": list(row.answer),
                    "answered_at": row.answered_at,
                    "stored": row.stored,
                }
                for row in results.polls
            ],
        )
    if results.attendance:
        await connection.execute(
            insert(_attendance),
            [
                {
                    "session_id": session_id,
                    "participant_ref": row.participant_ref,
                    "name": row.name[:300],
                    "email": row.email[:320] if row.email else None,
                    "report_seconds": row.report_seconds,
                    "seen_seconds": row.seen_seconds,
                    "source": row.source,
                }
                for row in results.attendance
            ],
        )
    await connection.execute(
        update(_reports)
        .where(_reports.c.session_id == session_id)
        .values(
            results_done_at=at,
            results_next_try_at=None,
            results_error=note[:300] if note else None,
            meeting_uuid=meeting_uuid,
        )
    )


async def results(connection: AsyncConnection, session_id: str) -> Results:
    polls = await connection.execute(
        select(_polls).where(_polls.c.session_id == session_id).order_by(_polls.c.id)
    )
    people = await connection.execute(
        select(_attendance)
        .where(_attendance.c.session_id == session_id)
        .order_by(_attendance.c.name, _attendance.c.id)
    )
    return Results(
        polls=[
            PollResultRow(
                poll_key=row.poll_key,
                zoom_poll_id=row.zoom_poll_id,
                question=row.question,
                name=row.name,
                email=row.email,
                participant_ref=row.participant_ref,
                answer=tuple(row.answer or ()),
                answered_at=row.answered_at,
                stored=row.stored,
            )
            for row in polls
        ],
        attendance=[
            AttendanceRow(
                participant_ref=row.participant_ref,
                name=row.name,
                email=row.email,
                report_seconds=row.report_seconds,
                seen_seconds=row.seen_seconds,
                source=row.source,
            )
            for row in people
        ],
    )
