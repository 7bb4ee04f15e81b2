"""The journey's HTTP surface.

Companion page (companion key + participant key): who I am, my commitment, my address and
consent, my pre-work. Producer (API token): who cannot be reached and why, who did the
pre-work. Mail links (signed, no account): :mod:`facilbot.journey.links`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.api.body import JsonContent
from facilbot.api.deps import DB, EngineDep, Producer, ServicesDep, SessionId
from facilbot.api.errors import ApiError, not_found
from facilbot.engine.engine import Engine
from facilbot.journey import commitments, identity, prework, reach, recap, schedule, timing
from facilbot.journey.deps import CompanionPerson, CompanionSession, Person
from facilbot.pages import headers
from facilbot.store import activity
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from runofshow.model import PreworkLink, Show

router = APIRouter(tags=["journey"])

_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_CONTROL)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeIn(Strict):
    name: Name


class MeOut(BaseModel):
    participant_key: str
    name: str


@router.post(
    "/companion/{session_id}/me",
    status_code=201,
    summary="Say who you are on the companion page; returns your participant key",
)
async def me(
    body: MeIn,
    response: Response,
    services: ServicesDep,
    engine: EngineDep,
    session_id: CompanionSession,
    _json: JsonContent,
    key: Annotated[
        str | None, Header(alias=identity.PARTICIPANT_KEY_HEADER, max_length=300)
    ] = None,
) -> MeOut:
    """A browser without a key gets a new identity; one with a valid key keeps its own
    (and may change the name shown). A typed name never selects an existing person."""
    ref = identity.ref_of_key(services.pages_secret, session_id, key) if key else None
    if key and ref is None:
        raise ApiError(403, "this participant key is not valid for this session")
    await _session(engine, session_id)
    name = identity.clean_name(body.name)
    async with engine.writing() as connection:
        if ref is None:
            ref = identity.new_web_ref()
            await identity.register_web_person(
                connection, session_id, ref, name, engine.clock.now()
            )
        elif ref.startswith("web-"):
            await identity.register_web_person(
                connection, session_id, ref, name, engine.clock.now()
            )
        else:
            # A platform person keeps the name their meeting client shows.
            name = await commitments.name_of(connection, session_id, ref) or name
    headers.apply(response.headers)
    response.headers["Cache-Control"] = "no-store"
    return MeOut(
        participant_key=identity.participant_key(services.pages_secret, session_id, ref), name=name
    )


class CommitmentView(BaseModel):
    text: str
    at: datetime
    asynchronous: bool


class ContactView(BaseModel):
    #: masked: the page shows which address, the full one is not sent back
    email: str | None
    source: Literal["companion", "platform"] | None
    consent: bool


class BaselineOut(BaseModel):
    question: str
    options: list[str]
    multiple: bool
    #: the person's answer, once given
    answer: list[str] | None


class PreworkItem(BaseModel):
    index: int
    title: str
    url: str | None
    due: datetime | None
    done: bool
    #: a baseline question answered ahead (answering it marks the item done)
    poll: BaselineOut | None = None


class MyView(BaseModel):
    name: str | None
    commitment: CommitmentView | None
    contact: ContactView
    prework: list[PreworkItem]


async def _session(engine: Engine, session_id: str) -> tuple[store_sessions.SessionRecord, Show]:
    async with reading(engine.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
    if record is None:
        raise not_found(f"no session {session_id}")
    return record, await engine.show_for_version(record.show_version_id)


@router.get("/companion/{session_id}/me", summary="What the page knows of you")
async def my_view(response: Response, engine: EngineDep, person: CompanionPerson) -> MyView:
    record, show = await _session(engine, person.session_id)
    async with reading(engine.db.engine) as connection:
        name = await commitments.name_of(connection, person.session_id, person.ref)
        made = await commitments.commitment_of(connection, person.session_id, person.ref)
        contact = await reach.contact_of(connection, person.session_id, person.ref)
        marks = (await prework.done_by(connection, person.session_id)).get(person.ref, set())
        baseline = {
            key: answer
            for key, ref, answer in await recap.answers_of(
                connection, person.session_id, "baseline"
            )
            if ref == person.ref
        }
    start = record.planned_start
    items = [
        PreworkItem(
            index=i,
            title=item.title,
            url=item.url,
            due=start - timedelta(seconds=item.due_before) if start and item.due_before else None,
            done=i in marks,
            poll=BaselineOut(
                question=item.poll.question,
                options=list(item.poll.options),
                multiple=item.poll.multiple,
                answer=baseline.get(f"{recap.BASELINE_PREFIX}{i}"),
            )
            if item.poll is not None
            else None,
        )
        for i, item in enumerate(show.prework)
    ]
    headers.apply(response.headers)
    response.headers["Cache-Control"] = "no-store"
    return MyView(
        name=name,
        commitment=CommitmentView(
            text=made[0],
            at=made[1],
            asynchronous=record.ended_at is not None and made[1] > record.ended_at,
        )
        if made
        else None,
        contact=ContactView(
            email=reach.mask(contact.email) if contact and contact.email else None,
            source=contact.email_source if contact else None,
            consent=contact.consent if contact else False,
        ),
        prework=items,
    )


class ContactIn(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    consent: bool
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None


@router.post(
    "/companion/{session_id}/contact",
    summary="Your address (optional where the meeting gave one) and your consent to the mails",
)
async def contact(
    body: ContactIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> ContactView:
    if body.email is not None and body.email and not reach.valid_email(body.email):
        raise ApiError(422, "that does not look like an e-mail address (name@example.org)")
    if body.timezone is not None and not timing.known_zone(body.timezone):
        raise ApiError(422, f"unknown time zone {body.timezone!r}")
    _record, show = await _session(engine, person.session_id)
    async with reading(engine.db.engine) as connection:
        known = await reach.contact_of(connection, person.session_id, person.ref)
    if known is None:
        raise ApiError(409, "say who you are first (your name on this page)")
    email = body.email or None
    if body.consent and email is None and known.email is None:
        raise ApiError(422, "give an address to get the mails")
    async with engine.writing() as connection:
        await reach.set_contact(
            connection,
            person.session_id,
            person.ref,
            email=email
            if email is not None
            else (known.email if known.email_source == "companion" else None),
            consent=body.consent,
            timezone=body.timezone,
            at=engine.clock.now(),
        )
        if body.consent:
            await schedule.derive(connection, person.session_id, show)
        else:
            await schedule.cancel_for_person(
                connection, person.session_id, person.ref, "consent withdrawn"
            )
        updated = await reach.contact_of(connection, person.session_id, person.ref)
    assert updated is not None
    engine.hub.publish(person.session_id, {"type": "journey", "what": "contact"})
    headers.apply(response.headers)
    return ContactView(
        email=reach.mask(updated.email) if updated.email else None,
        source=updated.email_source,
        consent=updated.consent,
    )


async def _prework_item(engine: Engine, person: Person, item: int) -> PreworkLink:
    """The show's pre-work item ``item``, while pre-work is still taken (before the end)."""
    record, show = await _session(engine, person.session_id)
    if not 0 <= item < len(show.prework):
        raise ApiError(422, f"no pre-work item {item}; this show has {len(show.prework)}")
    if record.status == "ended":
        raise ApiError(409, "the session has ended; pre-work is for before it")
    return show.prework[item]


async def _known(connection: AsyncConnection, person: Person) -> None:
    """Refuse a write from a key whose person never said their name on the page."""
    if await commitments.name_of(connection, person.session_id, person.ref) is None:
        raise ApiError(409, "say who you are first (your name on this page)")


class PreworkIn(Strict):
    item: int
    done: bool


@router.post("/companion/{session_id}/prework", summary="Mark a pre-work item done (or not)")
async def prework_mark(
    body: PreworkIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> MyView:
    await _prework_item(engine, person, body.item)
    async with engine.writing() as connection:
        await _known(connection, person)
        await prework.mark(
            connection, person.session_id, person.ref, body.item, body.done, engine.clock.now()
        )
    engine.hub.publish(person.session_id, {"type": "journey", "what": "prework"})
    return await my_view(response, engine, person)


Choices = Annotated[
    list[Annotated[str, StringConstraints(max_length=500)]], Field(min_length=1, max_length=20)
]


class BaselineIn(Strict):
    item: int
    choices: Choices


@router.post(
    "/companion/{session_id}/prework/answer",
    summary="Answer a pre-work baseline question (marks the item done)",
)
async def prework_answer(
    body: BaselineIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> MyView:
    question = (await _prework_item(engine, person, body.item)).poll
    if question is None:
        raise ApiError(422, f"pre-work item {body.item} has no question to answer")
    problem = recap.choice_problem(question.options, question.multiple, body.choices)
    if problem is not None:
        raise ApiError(422, problem)
    now = engine.clock.now()
    async with engine.writing() as connection:
        await _known(connection, person)
        await recap.record(
            connection,
            person.session_id,
            "baseline",
            f"{recap.BASELINE_PREFIX}{body.item}",
            person.ref,
            body.choices,
            now,
        )
        await prework.mark(connection, person.session_id, person.ref, body.item, True, now)
    engine.hub.publish(person.session_id, {"type": "journey", "what": "prework"})
    return await my_view(response, engine, person)


# --- the recap ------------------------------------------------------------------------------


class TallyOut(BaseModel):
    counts: dict[str, int]
    answers: int


class RecapPoll(BaseModel):
    key: str
    question: str
    options: list[str]
    multiple: bool
    #: None when the show keeps this poll's results from participants (``show_results: false``)
    live: TallyOut | None
    #: answers given during the recap (asynchronous), counted apart
    asynchronous: TallyOut | None
    #: the caller's answer, and whether it was given live
    mine: list[str] | None
    mine_live: bool
    #: whether the caller may still answer (they did not answer live, the recap is open)
    answerable: bool


class LinkOut(BaseModel):
    #: from the show's ``access:``: true, false, or None when it does not say
    expected: bool | None
    url: str | None


class RecapView(BaseModel):
    state: recap.RecapState
    closes_at: datetime | None
    polls: list[RecapPoll]
    recording: LinkOut
    transcript: LinkOut


async def _recap_view(engine: Engine, session_id: str, ref: str | None) -> RecapView:
    record, show = await _session(engine, session_id)
    now = engine.clock.now()
    state = recap.state(show, record.status, record.ended_at, now)
    closing = recap.closes_at(show, record.ended_at)
    if state != "open":
        nothing = LinkOut(expected=None, url=None)
        return RecapView(
            state=state, closes_at=closing, polls=[], recording=nothing, transcript=nothing
        )
    async with reading(engine.db.engine) as connection:
        figures = await recap.poll_figures(connection, session_id, show)
        links = await recap.links_of(connection, session_id)
        late = {
            key: answer
            for key, who, answer in await recap.answers_of(connection, session_id, "late")
            if who == ref
        }
        live = {
            f.poll.key: await recap.live_answer_of(connection, session_id, f.poll.key, ref)
            for f in figures
            if ref is not None
        }
    polls = []
    for f in figures:
        mine_live = live.get(f.poll.key)
        polls.append(
            RecapPoll(
                key=f.poll.key,
                question=f.poll.question,
                options=f.poll.options,
                multiple=f.poll.multiple,
                live=TallyOut(counts=f.live.counts, answers=f.live.answers)
                if f.poll.show_results
                else None,
                asynchronous=TallyOut(counts=f.late.counts, answers=f.late.answers)
                if f.poll.show_results
                else None,
                mine=mine_live if mine_live is not None else late.get(f.poll.key),
                mine_live=mine_live is not None,
                answerable=mine_live is None,
            )
        )
    return RecapView(
        state=state,
        closes_at=closing,
        polls=polls,
        recording=LinkOut(expected=show.access.recording, url=links.recording),
        transcript=LinkOut(expected=show.access.transcript, url=links.transcript),
    )


@router.get("/companion/{session_id}/recap", summary="The recap after the session")
async def recap_view(
    response: Response,
    services: ServicesDep,
    engine: EngineDep,
    session_id: CompanionSession,
    key: Annotated[
        str | None, Header(alias=identity.PARTICIPANT_KEY_HEADER, max_length=300)
    ] = None,
) -> RecapView:
    """Anyone with the companion link reads the recap; with a participant key it also says
    what that person answered and what they may still answer."""
    ref = identity.ref_of_key(services.pages_secret, session_id, key) if key else None
    if key and ref is None:
        raise ApiError(403, "this participant key is not valid for this session")
    view = await _recap_view(engine, session_id, ref)
    headers.apply(response.headers)
    response.headers["Cache-Control"] = "no-store"
    return view


class LateAnswerIn(Strict):
    poll_key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    choices: Choices


@router.post(
    "/companion/{session_id}/recap/poll",
    summary="Answer a poll of the session during the recap (kept as asynchronous)",
    responses={409: {"description": "the recap is not open, or you answered this poll live"}},
)
async def recap_poll(
    body: LateAnswerIn,
    response: Response,
    engine: EngineDep,
    person: CompanionPerson,
    _json: JsonContent,
) -> RecapView:
    record, show = await _session(engine, person.session_id)
    now = engine.clock.now()
    state = recap.state(show, record.status, record.ended_at, now)
    if state == "before":
        raise ApiError(409, "the recap opens when the session has ended")
    if state == "closed":
        raise ApiError(409, "the recap of this session has closed")
    async with reading(engine.db.engine) as connection:
        polls = {p.key: p for p in await recap.asked(connection, person.session_id, show)}
        live = await recap.live_answer_of(connection, person.session_id, body.poll_key, person.ref)
    poll = polls.get(body.poll_key)
    if poll is None:
        raise ApiError(422, f"no poll {body.poll_key!r} was asked in this session")
    problem = recap.choice_problem(poll.options, poll.multiple, body.choices)
    if problem is not None:
        raise ApiError(422, problem)
    if live is not None:
        raise ApiError(409, "you answered this poll live; that answer stands")
    async with engine.writing() as connection:
        await _known(connection, person)
        await recap.record(
            connection, person.session_id, "late", body.poll_key, person.ref, body.choices, now
        )
    engine.hub.publish(person.session_id, {"type": "journey", "what": "recap"})
    view = await _recap_view(engine, person.session_id, person.ref)
    headers.apply(response.headers)
    return view


# --- the producer's side ----------------------------------------------------------------

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RecapLinksIn(Strict):
    #: null removes a link
    recording: Url | None = None
    transcript: Url | None = None


class RecapLinksOut(BaseModel):
    recording: str | None
    transcript: str | None


def _link(value: str | None, what: str, expected: bool | None) -> str | None:
    if value is None:
        return None
    if expected is False:
        raise ApiError(409, f"the show says there is no {what} (access.{what}: false)")
    parts = urlsplit(value)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or any(ch.isspace() or not ch.isprintable() for ch in value)
    ):
        raise ApiError(422, f"the {what} link must be an http(s) address")
    return value


@router.put(
    "/sessions/{session_id}/recap-links",
    summary="Share the recording and the transcript in the recap (null removes one)",
)
async def put_recap_links(
    body: RecapLinksIn,
    engine: EngineDep,
    caller: Producer,
    _json: JsonContent,
    session_id: SessionId,
) -> RecapLinksOut:
    _record, show = await _session(engine, str(session_id))
    links = recap.Links(
        recording=_link(body.recording, "recording", show.access.recording),
        transcript=_link(body.transcript, "transcript", show.access.transcript),
    )
    async with engine.writing() as connection:
        await recap.set_links(connection, str(session_id), links, engine.clock.now())
    # The companion pages open on the recap show the links as soon as they are set.
    engine.hub.publish(str(session_id), {"type": "journey", "what": recap.LINKS_CHANGED})
    return RecapLinksOut(recording=links.recording, transcript=links.transcript)


class PollFiguresOut(BaseModel):
    key: str
    question: str
    live: TallyOut
    asynchronous: TallyOut


class RecapFiguresOut(BaseModel):
    state: recap.RecapState
    closes_at: datetime | None
    polls: list[PollFiguresOut]
    commitments_live: int
    #: made after the session ended, during the recap
    commitments_asynchronous: int
    recording: str | None
    transcript: str | None
    #: the show's ``access:``: false when it says there is none (a link is then refused)
    recording_expected: bool | None
    transcript_expected: bool | None


@router.get(
    "/sessions/{session_id}/journey/recap",
    summary="The recap's figures: live and asynchronous answers and commitments, apart",
)
async def recap_figures(
    engine: EngineDep, caller: Producer, session_id: SessionId
) -> RecapFiguresOut:
    record, show = await _session(engine, str(session_id))
    async with reading(engine.db.engine) as connection:
        figures = await recap.poll_figures(connection, str(session_id), show)
        links = await recap.links_of(connection, str(session_id))
        made = await activity.commitments_for(connection, str(session_id))
    late = sum(1 for c in made if record.ended_at is not None and c.at > record.ended_at)
    return RecapFiguresOut(
        state=recap.state(show, record.status, record.ended_at, engine.clock.now()),
        closes_at=recap.closes_at(show, record.ended_at),
        polls=[
            PollFiguresOut(
                key=f.poll.key,
                question=f.poll.question,
                live=TallyOut(counts=f.live.counts, answers=f.live.answers),
                asynchronous=TallyOut(counts=f.late.counts, answers=f.late.answers),
            )
            for f in figures
        ],
        commitments_live=len(made) - late,
        commitments_asynchronous=late,
        recording=links.recording,
        transcript=links.transcript,
        recording_expected=show.access.recording,
        transcript_expected=show.access.transcript,
    )


# --- the producer's side ----------------------------------------------------------------


class ReachOut(BaseModel):
    name: str
    participant_ref: str
    email: str | None
    email_source: Literal["companion", "platform"] | None
    consent: bool
    committed: bool
    reason: str


class ReachList(BaseModel):
    reachable: int
    #: people who committed but will get no follow-up, and why: never dropped silently
    unreachable: list[ReachOut]
    #: people who have not committed (yet)
    not_committed: list[str]


@router.get(
    "/sessions/{session_id}/journey/reach",
    summary="Who gets the follow-ups, and who cannot (no address, no consent)",
)
async def reach_list(db: DB, caller: Producer, session_id: SessionId) -> ReachList:
    async with reading(db.engine) as connection:
        if await store_sessions.get_session(connection, str(session_id)) is None:
            raise not_found(f"no session {session_id}")
        people = await reach.reach_for(connection, str(session_id))
    return ReachList(
        reachable=sum(1 for p in people if p.reason == "ok"),
        unreachable=[
            ReachOut(
                name=p.name,
                participant_ref=p.participant_ref,
                email=reach.mask(p.email) if p.email else None,
                email_source=p.email_source,
                consent=p.consent,
                committed=p.committed,
                reason=p.reason,
            )
            for p in people
            if p.reason in ("no_address", "no_consent")
        ],
        not_committed=[p.name for p in people if p.reason == "no_commitment"],
    )


class BaselineFigures(BaseModel):
    item: int
    question: str
    options: list[str]
    counts: dict[str, int]
    answers: int


class PreworkOut(BaseModel):
    items: int
    people: int
    did: int
    #: "7 of 12 did the pre-work"
    summary: str
    who: list[str]
    #: the baseline questions' answers, where the pre-work asks any
    baseline: list[BaselineFigures]


@router.get("/sessions/{session_id}/journey/prework", summary="How many did the pre-work, and who")
async def prework_figures(engine: EngineDep, caller: Producer, session_id: SessionId) -> PreworkOut:
    _record, show = await _session(engine, str(session_id))
    async with reading(engine.db.engine) as connection:
        people = await reach.reach_for(connection, str(session_id))
        marks = await prework.done_by(connection, str(session_id))
        given = await recap.answers_of(connection, str(session_id), "baseline")
    items = len(show.prework)
    who = [p.name for p in people if prework.did_it(marks.get(p.participant_ref, set()), items)]
    return PreworkOut(
        items=items,
        people=len(people),
        did=len(who),
        summary=f"{len(who)} of {len(people)} did the pre-work" if items else "no pre-work",
        who=who,
        baseline=[
            BaselineFigures(
                item=index,
                question=item.poll.question,
                options=list(item.poll.options),
                counts=dict(tally.counts),
                answers=tally.answers,
            )
            for index, item in enumerate(show.prework)
            if item.poll is not None
            for tally in [recap.tally(given, f"{recap.BASELINE_PREFIX}{index}")]
        ],
    )
