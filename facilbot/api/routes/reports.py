"""Reports and debrief notes.

* ``GET /sessions/{id}/report`` — the session report as JSON (``?format=csv`` a zip of its
  tables, or one with ``&table=``; ``?format=html`` the printable page; ``&fragment=true`` only
  its body, for the report page's shell). Viewer role.
* ``GET /shows/{name}/report`` — the cohort report of every session of the show. Viewer role.
* ``POST /sessions/{id}/notes`` — a debrief note, for the session or one segment. Producer and
  facilitator write; ``GET`` lists them (viewer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facilbot.api.body import JsonContent
from facilbot.api.deps import DB, Caller, EngineDep, Facilitator, SessionId
from facilbot.api.errors import ApiError, not_found
from facilbot.reports import render, tables
from facilbot.reports.service import build_cohort_report, build_session_report
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.store.shows import ShowVersionRecord
from runofshow.model import Show

router = APIRouter(tags=["reports"])

ShowName = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="show name"),
]
Format = Annotated[Literal["json", "csv", "html"], Query(description="json (default), csv, html")]
Table = Annotated[
    Literal[render.CSV_TABLES] | None,  # type: ignore[valid-type]
    Query(description="with format=csv: one table as text/csv instead of a zip"),
]
NoteText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=tables.NOTE_MAX,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$",
    ),
]
SegmentRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: NoteText = Field(description="what slowed learners down, needed clarifying, was fixed")
    segment_id: SegmentRef | None = Field(None, description="the segment; omit for the session")


class NoteOut(BaseModel):
    id: int
    segment_id: str | None
    text: str
    author: str
    role: str
    created_at: datetime


def _loader(engine: EngineDep) -> Any:
    async def load(record: ShowVersionRecord) -> Show:
        return await engine.show_for_version(record.id)

    return load


@router.get("/sessions/{session_id}/report", response_model=None)
async def session_report(
    caller: Caller,
    session_id: SessionId,
    db: DB,
    engine: EngineDep,
    format: Format = "json",
    table: Table = None,
    fragment: Annotated[bool, Query(description="with format=html: the body only")] = False,
) -> Any:
    if table is not None and format != "csv":
        raise ApiError(422, "table goes with format=csv")
    async with reading(db.engine) as connection:
        report = await build_session_report(
            connection, str(session_id), engine.clock.now(), show_loader=_loader(engine)
        )
    if report is None:
        raise not_found(f"no session {session_id}")
    headers = {"Cache-Control": "no-store"}
    if format == "html":
        body = render.html_fragment(report) if fragment else render.to_html(report)
        return HTMLResponse(body, headers=headers)
    if format == "csv":
        name = f"report-{session_id}"
        if table is not None:
            return Response(
                render.to_csv(report, table).encode("utf-8"),
                media_type="text/csv; charset=utf-8",
                headers={
                    **headers,
                    "Content-Disposition": f'attachment; filename="{name}-{table}.csv"',
                },
            )
        return Response(
            render.to_csv_zip(report),
            media_type="application/zip",
            headers={**headers, "Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
    return Response(render.to_json(report), media_type="application/json", headers=headers)


@router.get("/shows/{name}/report", response_model=None)
async def show_report(caller: Caller, name: ShowName, db: DB, engine: EngineDep) -> Any:
    async with reading(db.engine) as connection:
        report = await build_cohort_report(
            connection, name, engine.clock.now(), show_loader=_loader(engine)
        )
    if report is None:
        raise not_found(f"no show named {name!r}")
    return Response(
        render.to_json(report), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.post("/sessions/{session_id}/notes", status_code=201)
async def add_note(
    caller: Facilitator,
    _json: JsonContent,
    session_id: SessionId,
    body: NoteIn,
    db: DB,
    engine: EngineDep,
) -> NoteOut:
    async with reading(db.engine) as connection:
        record = await store_sessions.get_session(connection, str(session_id))
    if record is None:
        raise not_found(f"no session {session_id}")
    if body.segment_id is not None:
        show = await engine.show_for_version(record.show_version_id)
        known = [s.id for s in show.segments]
        if body.segment_id not in known and not body.segment_id.startswith("~"):
            raise ApiError(
                422, f"no segment {body.segment_id!r} in this show; one of {', '.join(known)}"
            )
    at = engine.clock.now()
    async with engine.writing() as connection:
        note_id = await tables.add_note(
            connection,
            str(session_id),
            segment_id=body.segment_id,
            text=body.text,
            author=caller.name,
            role=caller.role.value,
            at=at,
        )
    engine.hub.publish(str(session_id), {"type": "note", "segment_id": body.segment_id})
    return NoteOut(
        id=note_id,
        segment_id=body.segment_id,
        text=body.text,
        author=caller.name,
        role=caller.role.value,
        created_at=at,
    )


@router.get("/sessions/{session_id}/notes")
async def list_notes(caller: Caller, session_id: SessionId, db: DB) -> list[NoteOut]:
    async with reading(db.engine) as connection:
        if await store_sessions.get_session(connection, str(session_id)) is None:
            raise not_found(f"no session {session_id}")
        notes = await tables.notes_for(connection, [str(session_id)])
    return [
        NoteOut(
            id=n.id,
            segment_id=n.segment_id,
            text=n.text,
            author=n.author,
            role=n.role,
            created_at=n.created_at,
        )
        for n in notes
    ]
