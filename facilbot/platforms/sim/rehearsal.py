"""Rehearsal: a simulated meeting for every ``sim`` session, and a participants' panel.

Under ``facilbot serve`` (and ``facilbot rehearse``) a ``sim`` session gets a simulated meeting
of its own the first time the engine or the panel reaches it: nobody scripted is in it. The
team opens the panel (``/sim/panel/{session_id}#token=…``), joins as simulated people and types
as them: chat, ``/fb`` commands, poll answers; a chat line typed while commitments are open is
that person's commitment. Everything they do enters the engine as the same events a platform's
webhooks would bring, so a facilitator can do the whole tech check before going live.
"""

from __future__ import annotations

import importlib.resources
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facilbot.api.body import JsonContent
from facilbot.api.deps import EngineDep, Facilitator, ServicesDep, SessionId
from facilbot.api.errors import ApiError, not_found
from facilbot.engine.clock import Clock
from facilbot.engine.engine import Engine
from facilbot.engine.errors import UnknownSession
from facilbot.pages import headers
from facilbot.services import Services
from integrations.contract import (
    Action,
    Capabilities,
    ChatCommand,
    ChatMessage,
    Delivery,
    InboundEvent,
    OpenPoll,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    Platform,
    PollAnswer,
    Role,
    Say,
    parse_command,
)
from integrations.sim import SimAdapter, SimWorld
from integrations.sim.meeting import SimulatedMeeting
from integrations.sim.scenario import Scenario

#: Lines of chat the panel keeps per meeting (a rehearsal, not an archive).
CHAT_KEPT = 200
_TEXT = r"^[^\x00-\x1f\x7f]+$"


@dataclass
class Line:
    at: datetime
    who: str
    text: str


@dataclass
class Room:
    """What the panel knows of one simulated meeting beyond the simulator's own state."""

    meeting: SimulatedMeeting
    people: dict[str, Participant] = field(default_factory=dict)
    chat: list[Line] = field(default_factory=list)
    seen: int = 0  # how many of the meeting's received actions are in ``chat`` already

    def said(self, at: datetime, who: str, text: str) -> None:
        self.chat.append(Line(at, who, text))
        del self.chat[:-CHAT_KEPT]


class Rehearsals:
    """The simulated meetings of this process's ``sim`` sessions, made on first use."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.rooms: dict[str, Room] = {}
        self.clock: Clock | None = None

    def room(self, meeting_ref: str) -> Room:
        found = self.rooms.get(meeting_ref)
        if found is not None:
            return found
        if meeting_ref in self.world:
            meeting = self.world.get(meeting_ref)
        else:
            meeting = self.world.create(Scenario(seed=0, participants=()), meeting_ref)
        if meeting.status.value == "created":
            meeting.start(self.clock.now() if self.clock is not None else datetime.now(UTC))
        found = self.rooms[meeting_ref] = Room(meeting)
        return found

    def catch_up(self, room: Room) -> None:
        """Copy what the show posted since the last look into the panel's chat."""
        received = room.meeting.received
        for item in received[room.seen :]:
            text = _shown(item.action)
            if text:
                room.said(item.at, "facilbot", text)
        room.seen = len(received)


def _shown(action: Action) -> str | None:
    if isinstance(action, Say):
        return action.text
    if isinstance(action, OpenPoll):
        return f"Poll: {action.question} ({' / '.join(action.options)})"
    text = getattr(action, "text", None) or getattr(action, "prompt", None)
    return str(text) if text else None


class RehearsalAdapter:
    """The simulator's adapter, making the meeting of a session that has none yet."""

    def __init__(self, inner: SimAdapter, rehearsals: Rehearsals) -> None:
        self.inner = inner
        self.rehearsals = rehearsals
        self.platform = inner.platform

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        room = self.rehearsals.room(meeting_ref)
        if self.rehearsals.clock is not None:
            room.meeting.catch_up(self.rehearsals.clock.now())
        return await self.inner.carry(meeting_ref, action)


# --- the panel's routes ---------------------------------------------------------------------

router = APIRouter(tags=["rehearsal"])
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_TEXT)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_TEXT)
]
PersonId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinIn(Strict):
    name: Name
    role: Role = Role.attendee


class ChatIn(Strict):
    person: PersonId
    text: Text


class AnswerIn(Strict):
    person: PersonId
    poll_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    choices: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        min_length=1, max_length=20
    )


class LeaveIn(Strict):
    person: PersonId


class PersonOut(BaseModel):
    id: str
    name: str
    role: str


class LineOut(BaseModel):
    at: datetime
    who: str
    text: str


class PollOut(BaseModel):
    key: str
    question: str
    options: list[str]
    multiple: bool


class PanelOut(BaseModel):
    session_id: str
    meeting_ref: str
    people: list[PersonOut]
    chat: list[LineOut]
    polls: list[PollOut]
    on_break: bool
    collecting_commitments: bool


async def _room(
    services: Services, engine: Engine, session_id: str
) -> tuple[Rehearsals, Room, str]:
    rehearsals = getattr(services.platforms.get("sim"), "rehearsals", None)
    if not isinstance(rehearsals, Rehearsals):
        raise ApiError(503, "rehearsal is not running here: list sim in FACILBOT_PLATFORMS")
    try:
        state = await engine.state(session_id)
    except UnknownSession:
        raise not_found(f"no session {session_id}") from None
    if state.platform != "sim":
        raise ApiError(409, f"session {session_id} is on {state.platform}, not a simulated meeting")
    if state.status == "ended":
        raise ApiError(409, "the session has ended")
    room = rehearsals.room(state.meeting_ref)
    rehearsals.catch_up(room)
    return rehearsals, room, state.meeting_ref


async def _deliver(engine: Engine, event: InboundEvent) -> None:
    for fresh in await engine.accept([event]):
        await engine.ingest(fresh)
        await engine.processed(fresh)


def _person(room: Room, person: str) -> Participant:
    found = room.people.get(person)
    if found is None:
        raise ApiError(409, "that person is not in the meeting: join first")
    return found


def _view(session_id: str, meeting_ref: str, room: Room) -> PanelOut:
    meeting = room.meeting
    return PanelOut(
        session_id=session_id,
        meeting_ref=meeting_ref,
        people=[PersonOut(id=p.id, name=p.name, role=str(p.role)) for p in room.people.values()],
        chat=[LineOut(at=line.at, who=line.who, text=line.text) for line in room.chat],
        polls=[
            PollOut(
                key=p.poll_key, question=p.question, options=list(p.options), multiple=p.multiple
            )
            for p in meeting.open_polls.values()
        ],
        on_break=meeting.on_break,
        collecting_commitments=meeting.collecting_commitments,
    )


def _base(engine: Engine, meeting_ref: str) -> dict[str, Any]:
    return {
        "platform": Platform.sim,
        "meeting_ref": meeting_ref,
        "event_id": f"panel-{uuid.uuid4().hex}",
        "occurred_at": engine.clock.now(),
    }


@cache
def _asset(name: str) -> str:
    return (importlib.resources.files("facilbot.platforms.sim") / "panel" / name).read_text("utf-8")


@router.get(
    "/sim/panel/{session_id}",
    response_class=HTMLResponse,
    summary="Rehearsal: the participants' panel of a sim session (open with #token=…)",
)
async def panel_page(session_id: SessionId) -> HTMLResponse:
    body = _asset("panel.html").replace("__SESSION_ID__", str(session_id))
    response = HTMLResponse(body, headers={"Cache-Control": "no-store"})
    headers.apply(response.headers)
    return response


@router.get("/sim/panel.js", summary="Rehearsal: the panel's script")
async def panel_script() -> Response:
    response = Response(_asset("panel.js"), media_type="text/javascript; charset=utf-8")
    headers.apply(response.headers)
    return response


@router.get(
    "/sessions/{session_id}/sim", summary="Rehearsal: the simulated meeting as the panel shows it"
)
async def panel_state(
    services: ServicesDep, engine: EngineDep, caller: Facilitator, session_id: SessionId
) -> PanelOut:
    _, room, ref = await _room(services, engine, str(session_id))
    return _view(str(session_id), ref, room)


@router.post(
    "/sessions/{session_id}/sim/join",
    status_code=201,
    summary="Rehearsal: a simulated person joins the meeting",
)
async def panel_join(
    body: JoinIn,
    services: ServicesDep,
    engine: EngineDep,
    caller: Facilitator,
    _json: JsonContent,
    session_id: SessionId,
) -> PersonOut:
    _, room, ref = await _room(services, engine, str(session_id))
    if any(p.name.casefold() == body.name.casefold() for p in room.people.values()):
        raise ApiError(409, f"someone called {body.name!r} is in the meeting already")
    person = Participant(f"sim-{uuid.uuid4().hex[:12]}", body.name, role=body.role)
    await _deliver(engine, ParticipantJoined(**_base(engine, ref), participant=person))
    room.people[person.id] = person
    return PersonOut(id=person.id, name=person.name, role=str(person.role))


@router.post("/sessions/{session_id}/sim/leave", summary="Rehearsal: a simulated person leaves")
async def panel_leave(
    body: LeaveIn,
    services: ServicesDep,
    engine: EngineDep,
    caller: Facilitator,
    _json: JsonContent,
    session_id: SessionId,
) -> PanelOut:
    _, room, ref = await _room(services, engine, str(session_id))
    person = _person(room, body.person)
    await _deliver(engine, ParticipantLeft(**_base(engine, ref), participant_id=person.id))
    room.people.pop(person.id, None)
    return _view(str(session_id), ref, room)


@router.post(
    "/sessions/{session_id}/sim/chat",
    summary="Rehearsal: a simulated person types in the meeting chat (a /fb line is a command)",
)
async def panel_chat(
    body: ChatIn,
    services: ServicesDep,
    engine: EngineDep,
    caller: Facilitator,
    _json: JsonContent,
    session_id: SessionId,
) -> PanelOut:
    rehearsals, room, ref = await _room(services, engine, str(session_id))
    person = _person(room, body.person)
    room.said(engine.clock.now(), person.name, body.text)
    command = parse_command(body.text)
    event: InboundEvent
    if command is not None:
        verb, args = command
        event = ChatCommand(
            **_base(engine, ref),
            sender_id=person.id,
            sender_name=person.name,
            verb=verb,
            args=args,
            sender_role=person.role,
        )
    else:
        event = ChatMessage(
            **_base(engine, ref), sender_id=person.id, sender_name=person.name, text=body.text
        )
    await _deliver(engine, event)
    rehearsals.catch_up(room)
    return _view(str(session_id), ref, room)


@router.post(
    "/sessions/{session_id}/sim/poll", summary="Rehearsal: a simulated person answers a poll"
)
async def panel_poll(
    body: AnswerIn,
    services: ServicesDep,
    engine: EngineDep,
    caller: Facilitator,
    _json: JsonContent,
    session_id: SessionId,
) -> PanelOut:
    _, room, ref = await _room(services, engine, str(session_id))
    person = _person(room, body.person)
    poll = room.meeting.open_polls.get(body.poll_key)
    if poll is None:
        raise ApiError(409, "that poll is not open in the meeting")
    unknown = [c for c in body.choices if c not in poll.options]
    if unknown:
        raise ApiError(422, f"not an option of this poll: {unknown[0]!r}")
    if not poll.multiple and len(body.choices) != 1:
        raise ApiError(422, "this poll takes exactly one choice")
    await _deliver(
        engine,
        PollAnswer(
            **_base(engine, ref),
            poll_key=body.poll_key,
            participant_id=person.id,
            choices=tuple(body.choices),
        ),
    )
    return _view(str(session_id), ref, room)
