"""Routes of the pages: the console and companion HTML, their static files, the bridge stream
and acknowledgements, and the companion page's state, live stream and forms.

Authentication:

* the console page itself is a static shell; its script reads the producer's API token once
  from the URL fragment (``/console/{id}#token=…``, never sent to the server in a URL) into
  ``sessionStorage`` and calls the API with ``Authorization: Bearer``. Live updates use
  ``fetch`` streaming with that header, not ``EventSource`` (which cannot send headers), so
  no token ever appears in a URL or an access log;
* the bridge endpoints need a producer token;
* the companion endpoints need the session's companion key (see :mod:`.companion`).

Every response of these routes carries the security headers a Zoom App needs.
"""

from __future__ import annotations

import html
import importlib.resources
import os
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from functools import cache
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facilbot.api import sse
from facilbot.api.body import JsonContent
from facilbot.api.deps import DB, EngineDep, Producer, ServicesDep, SessionId
from facilbot.api.errors import ApiError, not_found
from facilbot.engine.engine import Engine
from facilbot.journey import commitments as journey_commitments
from facilbot.journey import recap, schedule
from facilbot.journey.deps import CompanionPerson, CompanionSession
from facilbot.outbound import outbox
from facilbot.pages import bridge, companion, headers, qr
from facilbot.pages.assets import Assets
from facilbot.services import Services
from facilbot.store import activity
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, reading

router = APIRouter(tags=["pages"])

RequestId = Annotated[str, Path(max_length=20, description="the bridge request's id")]
Keepalive = Annotated[float, Query(ge=1, le=300, description="seconds between keep-alive comments")]
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
_NO_CONTROL_BUT_NEWLINES = r"^[^\x00-\x08\x0b-\x1f\x7f]+$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_CONTROL)
]
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_NAME = re.compile(r"^(?:vendor/)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|svg|md)$")
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "md": "text/plain; charset=utf-8",
}
#: Live updates the companion page re-reads its view for; the rest (joins, commitments,
#: bridge status) change nothing it shows.
COMPANION_EVENTS = frozenset({"companion", "control", "status", "fired", "resync", "segment"})
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- HTML and static files ------------------------------------------------------------------


@cache
def _template(name: str) -> str:
    return (importlib.resources.files("facilbot.pages") / "templates" / name).read_text("utf-8")


def _page(name: str, session_id: str, frame_ancestors: str) -> HTMLResponse:
    body = _template(name).replace("__SESSION_ID__", html.escape(session_id, quote=True))
    response = HTMLResponse(body, headers={"Cache-Control": "no-store"})
    headers.apply(response.headers, frame_ancestors)
    return response


@router.get("/console", response_class=HTMLResponse, summary="Producer console: pick a session")
async def console_index() -> HTMLResponse:
    return _page("console.html", "", headers.CONSOLE_FRAME_ANCESTORS)


@router.get(
    "/console/{session_id}",
    response_class=HTMLResponse,
    summary="Producer console (open with #token=<producer token>; also the Zoom App)",
)
async def console(session_id: SessionId) -> HTMLResponse:
    return _page("console.html", str(session_id), headers.CONSOLE_FRAME_ANCESTORS)


@router.get(
    "/companion/{session_id}",
    response_class=HTMLResponse,
    summary="Participants' companion page (open with the link from the console)",
)
async def companion_page(session_id: SessionId) -> HTMLResponse:
    return _page("companion.html", str(session_id), "'none'")


#: The pages' scripts and styles (``facilbot/pages/static``), revalidated on every use.
router.mount(
    "/pages/static",
    Assets(STATIC_DIR, names=STATIC_NAME, content_types=CONTENT_TYPES, cache_control="no-cache"),
    name="pages-static",
)


# --- the bridge -----------------------------------------------------------------------------


async def _session(db: Database, session_id: uuid.UUID) -> store_sessions.SessionRecord:
    async with reading(db.engine) as connection:
        record = await store_sessions.get_session(connection, str(session_id))
    if record is None:
        raise not_found(f"no session {session_id}")
    return record


class CompanionLink(BaseModel):
    url: str
    qr_svg: str = Field(description="the link as a QR code (an SVG document)")


def _companion_link(services: Services, session_id: str) -> str:
    key = companion.companion_key(services.pages_secret, session_id)
    return companion.companion_url(services.settings.base_url, session_id, key)


@router.get(
    "/sessions/{session_id}/companion-link",
    summary="The participants' companion link for a session (share it in the meeting)",
)
async def companion_link(
    response: Response,
    db: DB,
    services: ServicesDep,
    caller: Producer,
    session_id: SessionId,
) -> CompanionLink:
    record = await _session(db, session_id)
    headers.apply(response.headers)
    response.headers["Cache-Control"] = "no-store"
    url = _companion_link(services, record.id)
    return CompanionLink(url=url, qr_svg=qr.svg(url))


@router.get(
    "/sessions/{session_id}/bridge",
    summary="The in-client bridge's requests (Server-Sent Events, one JSON object per line)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def bridge_stream(
    engine: EngineDep,
    db: DB,
    services: ServicesDep,
    caller: Producer,
    session_id: SessionId,
    keepalive: Keepalive = sse.KEEPALIVE_SECONDS,
) -> StreamingResponse:
    """While this stream is open the session's bridge channel is available: each ``request``
    event (``{"type": "request", "id", "action": {"kind", …}}``) must be run in the Zoom
    client and acknowledged with ``POST …/bridge/{id}/ack``."""
    record = await _session(db, session_id)
    if record.status == "ended":
        raise ApiError(409, "the session has ended; no bridge is needed")
    link = _companion_link(services, record.id)

    async def hello() -> dict[str, Any]:
        return {"type": "hello", "session_id": record.id, "companion_url": link}

    stream = sse.stream(bridge.requests(engine.hub, record.id), first=hello, keepalive=keepalive)
    response = StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)
    headers.apply(response.headers)
    return response


class BridgeAck(Strict):
    ok: bool = Field(strict=True, description="whether the Zoom client carried the action")
    detail: Annotated[str, StringConstraints(max_length=200)] = ""


class BridgeAckOut(BaseModel):
    request_id: str
    accepted: bool


@router.post(
    "/sessions/{session_id}/bridge/{request_id}/ack",
    summary="The bridge ran (ok) or could not run (not ok) a request",
    responses={404: {"description": "no such request waiting (unknown, timed out or done)"}},
)
async def bridge_ack(
    body: BridgeAck,
    response: Response,
    engine: EngineDep,
    caller: Producer,
    _json: JsonContent,  # after the caller: no token is 401 before a wrong type is 415
    session_id: SessionId,
    request_id: RequestId,
) -> BridgeAckOut:
    if not bridge.REQUEST_ID.match(request_id):
        raise not_found(f"no bridge request {request_id!r}")
    detail = "".join(ch for ch in body.detail if ch.isprintable())
    if not engine.hub.bridge_ack(str(session_id), request_id, body.ok, detail):
        raise not_found(
            f"bridge request {request_id} is not waiting (unknown, timed out or already answered)"
        )
    headers.apply(response.headers)
    return BridgeAckOut(request_id=request_id, accepted=True)


# --- the companion page ---------------------------------------------------------------------


async def _view(engine: Engine, session_id: str) -> companion.CompanionView:
    state = await engine.state(session_id)
    show = await engine.show_for_version(state.show_version_id)
    async with reading(engine.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
    ended_at = record.ended_at if record is not None else None
    live = engine.hub.companion_state(session_id)
    return companion.build_view(state, live, show, ended_at=ended_at)


@router.get("/companion/{session_id}/state", summary="What the companion page shows now")
async def companion_state(
    response: Response, engine: EngineDep, session_id: CompanionSession
) -> companion.CompanionView:
    view = await _view(engine, session_id)
    headers.apply(response.headers)
    response.headers["Cache-Control"] = "no-store"
    return view


@router.get(
    "/companion/{session_id}/events",
    summary="The companion page's view, pushed on every change (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def companion_events(
    engine: EngineDep, session_id: CompanionSession, keepalive: Keepalive = sse.KEEPALIVE_SECONDS
) -> StreamingResponse:
    first_view = await _view(engine, session_id)  # 404 now rather than inside the stream

    async def views() -> AsyncIterator[dict[str, Any]]:
        source = cast(AsyncGenerator[dict[str, Any], None], engine.hub.subscribe(session_id))
        async with aclosing(source) as updates:
            async for event in updates:
                if event.get("type") in COMPANION_EVENTS:
                    view = await _view(engine, session_id)
                    yield {"type": "state", "state": view.model_dump(mode="json")}
                elif event.get("type") == "journey" and event.get("what") == recap.LINKS_CHANGED:
                    # The recap is per person (their answers): each page fetches its own.
                    yield {"type": "recap"}

    async def first() -> dict[str, Any]:
        return {"type": "state", "state": first_view.model_dump(mode="json")}

    stream = sse.stream(views(), first=first, keepalive=keepalive)
    response = StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)
    headers.apply(response.headers)
    return response


class CommitmentIn(Strict):
    text: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=2000, pattern=_NO_CONTROL_BUT_NEWLINES
        ),
    ]


class CommitmentOut(BaseModel):
    recorded: bool
    name: str
    asynchronous: bool


@router.post(
    "/companion/{session_id}/commitment",
    status_code=201,
    summary="The caller's own commitment (new or edited), from the companion page's form",
    responses={409: {"description": "the session is not taking commitments now"}},
)
async def commitment(
    body: CommitmentIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> CommitmentOut:
    """Who commits is the participant key's person; a new commitment is taken while the
    commitments window is open or during the recap after the end (then asynchronous); an
    existing one can be edited whenever the page takes commitments at all."""
    session_id = person.session_id
    now = engine.clock.now()
    async with reading(engine.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
        if record is None:
            raise not_found(f"no session {session_id}")
        name = await journey_commitments.name_of(connection, session_id, person.ref)
        existing = await journey_commitments.commitment_of(connection, session_id, person.ref)
        window = await journey_commitments.window_open(connection, session_id)
    if name is None:
        raise ApiError(409, "say who you are first (your name on this page)")
    show = await engine.show_for_version(record.show_version_id)
    if not companion.accepting_commitments(show, record.status, record.ended_at, now):
        raise ApiError(
            409,
            "this session is not taking commitments now (it has not started yet, "
            "or its recap is over)",
        )
    if record.status == "running" and existing is None and not window:
        raise ApiError(409, "commitments open in the closing part of the session")
    async with engine.writing() as connection:
        await journey_commitments.write_own(
            connection, session_id, person.ref, name=name, text=body.text, at=now
        )
        if existing is None:  # an edit is not a new commitment
            await outbox.add(
                connection,
                "commitment.created",
                {
                    "session_id": session_id,
                    "participant_ref": person.ref,
                    "name": name,
                    "text": body.text.strip()[:2000],
                    "source": "form",
                    "at": now,
                },
                at=now,
                session_id=session_id,
            )
        if record.status == "ended":
            # A commitment made during the recap is owed its follow-ups like a live one
            # (the sender's housekeeping only looks at recently ended sessions).
            await schedule.derive(connection, session_id, show)
    engine.hub.publish(session_id, {"type": "commitment", "name": name})
    headers.apply(response.headers)
    first_at = existing[1] if existing is not None else now
    late = record.ended_at is not None and first_at > record.ended_at
    return CommitmentOut(recorded=True, name=name, asynchronous=late)


class PollAnswerIn(Strict):
    poll_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    choices: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        min_length=1, max_length=20
    )


class PollAnswerOut(BaseModel):
    recorded: bool


@router.post(
    "/companion/{session_id}/poll",
    status_code=201,
    summary="A participant's answer to the poll open on the companion page",
    responses={409: {"description": "that poll is not open"}},
)
async def poll_answer(
    body: PollAnswerIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> PollAnswerOut:
    session_id = person.session_id
    poll = engine.hub.companion_state(session_id).get("poll")
    if not isinstance(poll, dict) or poll.get("poll_key") != body.poll_key:
        raise ApiError(409, "that poll is not open on the companion page")
    options = [str(o) for o in poll.get("options", ())]
    problem = recap.choice_problem(options, bool(poll.get("multiple")), body.choices)
    if problem is not None:
        raise ApiError(422, problem)
    async with engine.db.engine.begin() as connection:
        recorded = await activity.record_poll_answer(
            connection, session_id, body.poll_key, person.ref, body.choices, engine.clock.now()
        )
    engine.hub.publish(session_id, {"type": "poll_answer", "poll_key": body.poll_key})
    headers.apply(response.headers)
    return PollAnswerOut(recorded=recorded)
