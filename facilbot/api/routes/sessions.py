"""Sessions: attach a show to a meeting, steer it live, read its state, follow its events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from facilbot.api import sse
from facilbot.api.body import JsonContent
from facilbot.api.deps import (
    DB,
    Caller,
    EngineDep,
    PlatformName,
    Producer,
    ServicesDep,
    SessionId,
    known_platform,
)
from facilbot.api.errors import ApiError, not_found
from facilbot.engine.attaching import MeetingInUse
from facilbot.engine.state import SessionState
from facilbot.store import activity, idempotency
from facilbot.store import firings as stored_firings
from facilbot.store import participants as stored_participants
from facilbot.store import sessions as stored
from facilbot.store.db import reading
from facilbot.store.shows import show_titles

router = APIRouter(prefix="/sessions", tags=["sessions"])

MAX_ID = 2**31 - 1

FiringId = Annotated[int, Path(ge=1, le=MAX_ID, description="the firing's id")]
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProducerIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None


class AttachBody(Strict):
    show_version_id: int = Field(ge=1, le=MAX_ID, strict=True)
    platform: PlatformName = Field(
        description="a platform this server runs (FACILBOT_PLATFORMS): sim, zoom or teams"
    )
    meeting_ref: Text = Field(description="the platform's meeting id (Zoom) or chat id (Teams)")
    planned_start: AwareDatetime | None = Field(None, description="with a UTC offset")
    producers: list[ProducerIn] = Field(
        default_factory=list,
        max_length=50,
        description="who may steer from the meeting chat, besides the host",
    )
    recurring_ref: Text | None = None
    replace: bool = Field(
        False, description="end the meeting's session not yet ended (if any) and attach this one"
    )


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a stored.SessionRecord

    id: str
    show_version_id: int
    platform: str
    meeting_ref: str
    status: str
    planned_start: datetime | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    owner: str | None
    show_title: str | None = None

    @classmethod
    def of(cls, record: stored.SessionRecord, show_title: str | None = None) -> SessionOut:
        # The record's fields by name (from_attributes); the title comes from its show.
        return cls.model_validate(record).model_copy(update={"show_title": show_title})


# --- controls: one body shape per kind, told apart by "kind" ------------------------------


class PlainControl(Strict):
    kind: Literal["start", "pause", "resume", "skip", "end"]


class ExtendControl(Strict):
    kind: Literal["extend"]
    seconds: int = Field(
        strict=True, ge=-7200, le=14400, description="lengthen (or, negative, shorten) by"
    )

    @field_validator("seconds")
    @classmethod
    def _not_zero(cls, seconds: int) -> int:
        if seconds == 0:
            raise ValueError("extending by 0 seconds changes nothing")
        return seconds


class BreakControl(Strict):
    kind: Literal["break"]
    seconds: int = Field(600, strict=True, ge=60, le=7200, description="length of the break")


class JumpControl(Strict):
    kind: Literal["jump"]
    segment_id: Text


class FireControl(Strict):
    kind: Literal["fire"]
    key: Text = Field(description="the cue's id")


class ReplanControl(Strict):
    kind: Literal["replan"]
    option: int = Field(
        0, strict=True, ge=0, le=9, description="which option of the standing proposal to accept"
    )


class ReplanPolicyControl(Strict):
    kind: Literal["replan_policy"]
    auto: bool = Field(
        False,
        strict=True,
        description="true: always accept re-plans for this session; false: dismiss the proposal",
    )


ControlBody = Annotated[
    PlainControl
    | ExtendControl
    | BreakControl
    | JumpControl
    | FireControl
    | ReplanControl
    | ReplanPolicyControl,
    Field(discriminator="kind"),
]


class ControlOut(BaseModel):
    session_id: str
    seq: int
    kind: str


class AckOut(BaseModel):
    firing_id: int
    acknowledged: bool


class PresenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a PresenceRecord

    joined_at: datetime
    left_at: datetime | None
    room: str | None


class ParticipantOut(BaseModel):
    ref: str
    name: str
    email: str | None
    role: str
    attributes: dict[str, Any]
    first_seen_at: datetime
    present: bool
    room: str | None
    presence: list[PresenceOut]


class CommitmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a CommitmentRecord

    participant_ref: str
    name: str
    text: str
    at: datetime
    source: str


class CommitmentsOut(BaseModel):
    commitments: list[CommitmentOut]
    not_committed: list[str] = Field(description="attendees present who have not committed yet")


async def _session(db: DB, session_id: uuid.UUID) -> stored.SessionRecord:
    async with reading(db.engine) as connection:
        record = await stored.get_session(connection, str(session_id))
    if record is None:
        raise not_found(f"no session {session_id}")
    return record


@router.post(
    "",
    status_code=201,
    summary="Attach a show version to a meeting",
    responses={
        409: {"description": "the meeting already has a session not ended (it is named)"},
        422: {
            "description": "invalid body, unknown show version or platform, or an "
            "Idempotency-Key first used with a different request"
        },
    },
)
async def attach(
    caller: Producer,
    _json: JsonContent,
    body: AttachBody,
    services: ServicesDep,
    db: DB,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="a retry with the same key (and body) returns the first answer",
        ),
    ] = None,
) -> SessionOut:
    known_platform(services, body.platform, ("body", "platform"))
    engine = services.engine
    if body.planned_start is not None and not 1970 <= body.planned_start.year <= 9000:
        raise ApiError(422, "planned_start must be a real date (1970–9000)")
    owner = f"token:{caller.token_id}"
    digest = idempotency.request_digest(body.model_dump(mode="json"))
    if idempotency_key is not None:
        first = await _first_answer(db, owner, idempotency_key, digest)
        if first is not None:
            return first
    try:
        session_id = await engine.attach(
            body.show_version_id,
            body.platform,
            body.meeting_ref,
            planned_start=body.planned_start,
            producers=[p.model_dump(exclude_none=True) for p in body.producers],
            recurring_ref=body.recurring_ref,
            by=caller.name,
            replace=body.replace,
        )
    except MeetingInUse as in_use:
        # A retry racing its first request finds the meeting taken by that request's session.
        first = None
        if idempotency_key is not None:
            first = await _first_answer(db, owner, idempotency_key, digest)
        if first is not None:
            return first
        raise ApiError(
            409, str(in_use), code="meeting_in_use", extra={"session_id": in_use.session_id}
        ) from None
    if idempotency_key is not None:
        async with engine.writing() as connection:
            await idempotency.remember(
                connection, owner, idempotency_key, digest, session_id, engine.clock.now()
            )
    return SessionOut.model_validate(await _session(db, uuid.UUID(session_id)))


async def _first_answer(db: DB, owner: str, key: str, digest: str) -> SessionOut | None:
    async with reading(db.engine) as connection:
        try:
            session_id = await idempotency.answered(connection, owner, key, digest)
        except idempotency.KeyReused as reused:
            raise ApiError(422, str(reused), code="idempotency_key_reused") from None
    return (
        None
        if session_id is None
        else SessionOut.model_validate(await _session(db, uuid.UUID(session_id)))
    )


@router.get(
    "",
    summary="Sessions not ended yet, oldest first; or the last ones that ended (?ended=true)",
)
async def list_sessions(
    db: DB,
    caller: Caller,
    ended: Annotated[
        bool, Query(description="list the most recently ended sessions instead, newest first")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="with ended=true: how many")] = 100,
) -> list[SessionOut]:
    async with reading(db.engine) as connection:
        if ended:
            records = await stored.ended_sessions(connection, limit)
        else:
            records = await stored.active_sessions(connection)
        titles = await show_titles(connection, {r.show_version_id for r in records})
    return [SessionOut.of(record, titles.get(record.show_version_id)) for record in records]


@router.get("/{session_id}", summary="The live state of a session")
async def session_state(engine: EngineDep, caller: Caller, session_id: SessionId) -> SessionState:
    return await engine.state(str(session_id))


@router.post(
    "/{session_id}/controls",
    summary="Steer the session: start, pause, resume, extend, skip, jump, fire, break, end",
    responses={409: {"description": "refused in the session's current state (reason given)"}},
)
async def control(
    caller: Producer,
    _json: JsonContent,
    session_id: SessionId,
    body: ControlBody,
    engine: EngineDep,
) -> ControlOut:
    payload = body.model_dump(exclude={"kind"})
    seq = await engine.control(str(session_id), body.kind, payload, caller.name)
    return ControlOut(session_id=str(session_id), seq=seq, kind=body.kind)


@router.post(
    "/{session_id}/firings/{firing_id}/ack",
    summary="Mark a producer cue as done",
    responses={409: {"description": "the firing is not waiting for an acknowledgement"}},
)
async def acknowledge(
    engine: EngineDep, db: DB, caller: Producer, session_id: SessionId, firing_id: FiringId
) -> AckOut:
    if not await engine.acknowledge(str(session_id), firing_id, caller.name):
        async with reading(db.engine) as connection:
            firing = await stored_firings.get_firing(connection, firing_id)
        status = firing.status if firing else "unknown"
        raise ApiError(409, f"firing {firing_id} is {status}, not waiting for an acknowledgement")
    return AckOut(firing_id=firing_id, acknowledged=True)


@router.get("/{session_id}/participants", summary="Who joined, and when they were present")
async def participants(db: DB, caller: Caller, session_id: SessionId) -> list[ParticipantOut]:
    record = await _session(db, session_id)
    async with reading(db.engine) as connection:
        people = await stored_participants.participants_for(connection, record.id)
        presence = await stored_participants.presence_for(connection, record.id)
    intervals: dict[int, list[PresenceOut]] = {}
    for p in presence:
        intervals.setdefault(p.participant_id, []).append(PresenceOut.model_validate(p))
    out = []
    for person in people:
        stays = intervals.get(person.id, [])
        open_stay = next((s for s in stays if s.left_at is None), None)
        out.append(
            ParticipantOut(
                ref=person.participant_ref,
                name=person.name,
                email=person.email,
                role=person.role,
                attributes=dict(person.attributes),
                first_seen_at=person.first_seen_at,
                present=open_stay is not None,
                room=open_stay.room if open_stay else None,
                presence=stays,
            )
        )
    return out


@router.get("/{session_id}/commitments", summary="Closing commitments, and who has none yet")
async def commitments(db: DB, caller: Caller, session_id: SessionId) -> CommitmentsOut:
    record = await _session(db, session_id)
    async with reading(db.engine) as connection:
        made = await activity.commitments_for(connection, record.id)
        present = await stored_participants.present_now(connection, record.id)
    committed = {c.participant_ref for c in made}
    return CommitmentsOut(
        commitments=[CommitmentOut.model_validate(c) for c in made],
        not_committed=[
            p.name for p in present if p.role == "attendee" and p.participant_ref not in committed
        ],
    )


@router.get(
    "/{session_id}/events",
    summary="Live updates (Server-Sent Events): one JSON object per `data:` line",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    engine: EngineDep,
    db: DB,
    caller: Caller,
    session_id: SessionId,
    keepalive: Annotated[
        float, Query(ge=1, le=300, description="seconds between keep-alive comments")
    ] = sse.KEEPALIVE_SECONDS,
) -> StreamingResponse:
    record = await _session(db, session_id)

    async def hello() -> dict[str, Any]:
        # Tells the client to read the state once; sent after the subscription registered,
        # so nothing published after it is missed.
        return {"type": "hello", "session_id": record.id}

    return StreamingResponse(
        sse.stream(engine.hub.subscribe(record.id), first=hello, keepalive=keepalive),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
