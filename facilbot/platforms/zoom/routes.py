"""``GET /sessions/{id}/zoom/report``: what the Zoom REST channel did for a session."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from facilbot.api.deps import DB, Caller, SessionId
from facilbot.api.errors import not_found
from facilbot.platforms.zoom import store as zoom_store
from facilbot.platforms.zoom.runtime import RESULTS_ATTEMPTS
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading

router = APIRouter(tags=["sessions"])


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
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

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
        poll_answers=[PollAnswerOut.model_validate(row) for row in results.polls],
        attendance=[AttendanceOut.model_validate(row) for row in results.attendance],
    )
