"""The Zoom runtime in the app's life, and ``GET /sessions/{id}/zoom/report``.

The router's lifespan starts :class:`facilbot.zoom_service.ZoomRuntime` after the engine and
the ingest worker (this module is mounted after the webhook routes) and stops it before them.
A runtime put on ``app.state.zoom_runtime`` beforehand (tests) is started and stopped but not
built. The Zoom webhook route hands it each verified envelope (``observe``) to keep occurrence
UUIDs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from facilbot import zoom_store
from facilbot.api.deps import DB, Caller, SessionId
from facilbot.api.errors import not_found
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.zoom_service import (
    RESULTS_ATTEMPTS,
    ZoomRuntime,
    zoom_runtime,
)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    given: ZoomRuntime | None = getattr(app.state, "zoom_runtime", None)
    if given is not None:
        await given.start()
        try:
            yield
        finally:
            await given.stop()
        return
    services = getattr(app.state, "services", None)
    if services is None:
        yield
        return
    async with zoom_runtime(services.engine) as runtime:
        app.state.zoom_runtime = runtime
        try:
            yield
        finally:
            app.state.zoom_runtime = None


router = APIRouter(tags=["sessions"], lifespan=_lifespan)


class PrepareOut(BaseModel):
    status: str = Field(
        description="pending (not run yet), preparing, retrying (Zoom unreachable; tried "
        "again later), done, interrupted, or not_run (the session ended first)"
    )
    attempts: int
    prepared_at: datetime | None
    polls: dict[str, str] = Field(description="show cue id -> Zoom poll id (pre-created)")
    breakouts_assigned: bool
    problems: list[str] = Field(description="what Zoom refused or could not do, and why")


class ResultsOut(BaseModel):
    status: str = Field(description="waiting (the session has not ended), pending, done, or failed")
    attempts: int
    next_try_at: datetime | None
    done_at: datetime | None
    error: str | None


class PollAnswerOut(BaseModel):
    poll_key: str | None = Field(description="the show cue; null for a poll facilbot did not make")
    zoom_poll_id: str | None
    question: str
    name: str
    email: str | None
    participant_ref: str | None
    answer: list[str]
    answered_at: datetime | None
    stored: bool = Field(
        description="written to the session's poll answers (false: a later answer from "
        "another channel was kept)"
    )


class AttendanceOut(BaseModel):
    participant_ref: str | None
    name: str
    email: str | None
    report_seconds: int | None = Field(description="time in Zoom's participant report")
    seen_seconds: int | None = Field(description="time the webhooks showed")
    source: str = Field(description="both, report (Zoom only) or webhooks (facilbot only)")


class ZoomReportOut(BaseModel):
    session_id: str
    meeting_ref: str
    meeting_uuid: str | None
    prepare: PrepareOut
    results: ResultsOut
    poll_answers: list[PollAnswerOut]
    attendance: list[AttendanceOut]


def _prepare_status(found: zoom_store.ReportRecord | None) -> str:
    if found is None:
        return "pending"
    if found.prepare_status == "done" and found.prepare_next_try_at is not None:
        return "retrying"
    return found.prepare_status


def _results_status(
    record: store_sessions.SessionRecord, found: zoom_store.ReportRecord | None
) -> str:
    if found is not None and found.results_done_at is not None:
        return "done"
    if record.status != "ended":
        return "waiting"
    # a final failure clears the next try; an attempt cut short by a stop leaves it set
    if (
        found is not None
        and found.results_attempts > 0
        and (found.results_next_try_at is None or found.results_attempts >= RESULTS_ATTEMPTS)
    ):
        return "failed"
    return "pending"


@router.get(
    "/sessions/{session_id}/zoom/report",
    summary="What the Zoom REST channel did: polls pre-created, rooms pre-assigned, problems; "
    "after the meeting, Zoom's poll answers and the reconciled roster",
)
async def zoom_report(
    db: DB,
    caller: Caller,
    session_id: SessionId,
) -> ZoomReportOut:
    async with reading(db.engine) as connection:
        record = await store_sessions.get_session(connection, str(session_id))
        if record is None or record.platform != "zoom":
            raise not_found(f"no Zoom session {session_id}")
        found = await zoom_store.report(connection, record.id)
        results = await zoom_store.results(connection, record.id)
    return ZoomReportOut(
        session_id=record.id,
        meeting_ref=record.meeting_ref,
        meeting_uuid=found.meeting_uuid if found else None,
        prepare=PrepareOut(
            status=_prepare_status(found),
            attempts=found.prepare_attempts if found else 0,
            prepared_at=found.prepared_at if found else None,
            polls=dict(found.polls) if found else {},
            breakouts_assigned=found.breakouts_assigned if found else False,
            problems=list(found.problems) if found else [],
        ),
        results=ResultsOut(
            status=_results_status(record, found),
            attempts=found.results_attempts if found else 0,
            next_try_at=found.results_next_try_at if found else None,
            done_at=found.results_done_at if found else None,
            error=found.results_error if found else None,
        ),
        poll_answers=[
            PollAnswerOut(
                poll_key=row.poll_key,
                zoom_poll_id=row.zoom_poll_id,
                question=row.question,
                name=row.name,
                email=row.email,
                participant_ref=row.participant_ref,
                answer=list(row.answer),
                answered_at=row.answered_at,
                stored=row.stored,
            )
            for row in results.polls
        ],
        attendance=[
            AttendanceOut(
                participant_ref=row.participant_ref,
                name=row.name,
                email=row.email,
                report_seconds=row.report_seconds,
                seen_seconds=row.seen_seconds,
                source=row.source,
            )
            for row in results.attendance
        ],
    )
