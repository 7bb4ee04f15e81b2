"""After the session the companion page is its recap, for ``access.recap_for`` (7 days unless
the show says otherwise): what was asked with the results, the person's commitment (editable,
and new ones from people who missed the session, asynchronous), the polls still answerable,
and the recording and transcript once the producer adds them.

Answers given outside the live hour live in ``journey_answers``, never in ``poll_answers``:
a late answer is asynchronous by where it is stored, and the live figures (the console, the
session report) stay what happened live. A person who answered a poll live keeps that answer;
the recap takes answers only from those who did not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.journey.tables import answers, recap_links
from facilbot.store import activity
from facilbot.store import firings as store_firings
from facilbot.store._sql import upsert_insert
from runofshow.model import Show

RecapState = Literal["before", "open", "closed"]
AnswerKind = Literal["baseline", "late"]
#: The prefix of a baseline question's poll key: ``prework:<index in prework:>``.
BASELINE_PREFIX = "prework:"
#: What the hub's ``journey`` event says when the producer sets the recording or transcript
#: link: the companion pages on the recap fetch it again.
LINKS_CHANGED = "recap-links"


def closes_at(show: Show, ended_at: datetime | None) -> datetime | None:
    return ended_at + timedelta(seconds=show.access.recap_for) if ended_at else None


def state(show: Show, status: str, ended_at: datetime | None, now: datetime) -> RecapState:
    closing = closes_at(show, ended_at)
    if status != "ended" or closing is None:
        return "before"
    return "open" if now <= closing else "closed"


def choice_problem(options: Sequence[str], multiple: bool, choices: Sequence[str]) -> str | None:
    """Why ``choices`` is not a valid answer to a poll with these options, or None."""
    unknown = [c for c in choices if c not in options]
    if unknown:
        return f"not an option of this poll: {unknown[0]!r}"
    if len(set(choices)) != len(choices):
        return "the same option is chosen twice"
    if not multiple and len(choices) != 1:
        return "this poll takes exactly one choice"
    return None


# --- what was asked -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asked:
    key: str
    question: str
    options: list[str]
    multiple: bool
    show_results: bool


@dataclass(frozen=True, slots=True)
class Tally:
    counts: dict[str, int]
    answers: int


@dataclass(frozen=True, slots=True)
class PollFigures:
    poll: Asked
    live: Tally
    #: answered during the recap (asynchronous), counted apart from the live answers
    late: Tally


def tally(rows: Sequence[tuple[str, str, Sequence[str]]], key: str) -> Tally:
    """The counts of the answers to one poll among (poll key, who, choices) rows."""
    counts: Counter[str] = Counter()
    total = 0
    for poll_key, _who, answer in rows:
        if poll_key == key:
            counts.update(answer)
            total += 1
    return Tally(dict(counts), total)


async def asked(connection: AsyncConnection, session_id: str, show: Show) -> list[Asked]:
    """The show's polls that ran in this session (opened, or answered), in show order."""
    opened = {
        f.key
        for f in await store_firings.firings_for(connection, session_id)
        if f.action == "poll_open" and f.status not in ("skipped", "interrupted")
    }
    answered = {a.poll_key for a in await activity.poll_answers_for(connection, session_id)}
    found = []
    for segment in show.segments:
        for index, cue in enumerate(segment.cues):
            key = segment.cue_id(index)
            if cue.poll is not None and (key in opened or key in answered):
                found.append(
                    Asked(
                        key=key,
                        question=cue.poll.question,
                        options=list(cue.poll.options),
                        multiple=cue.poll.multiple,
                        show_results=cue.poll.show_results,
                    )
                )
    return found


async def poll_figures(
    connection: AsyncConnection, session_id: str, show: Show
) -> list[PollFigures]:
    """Each poll asked, with its live answers and its late (asynchronous) ones apart."""
    live = [
        (a.poll_key, a.participant_ref, a.answer)
        for a in await activity.poll_answers_for(connection, session_id)
    ]
    late = await answers_of(connection, session_id, "late")
    return [
        PollFigures(poll, tally(live, poll.key), tally(late, poll.key))
        for poll in await asked(connection, session_id, show)
    ]


# --- answers outside the live hour ----------------------------------------------------------


async def answers_of(
    connection: AsyncConnection, session_id: str, kind: AnswerKind
) -> list[tuple[str, str, list[str]]]:
    """(poll key, participant ref, choices) of every answer of this kind in the session."""
    rows = await connection.execute(
        select(answers.c.poll_key, answers.c.participant_ref, answers.c.answer)
        .where(answers.c.session_id == session_id, answers.c.kind == kind)
        .order_by(answers.c.poll_key, answers.c.id)
    )
    return [(str(r.poll_key), str(r.participant_ref), list(r.answer)) for r in rows]


async def record(
    connection: AsyncConnection,
    session_id: str,
    kind: AnswerKind,
    poll_key: str,
    participant_ref: str,
    choices: Sequence[str],
    at: datetime,
) -> None:
    """Keep a person's answer; answering again replaces their earlier one of the same kind."""
    statement = upsert_insert(connection, answers).values(
        session_id=session_id,
        kind=kind,
        poll_key=poll_key,
        participant_ref=participant_ref,
        answer=list(choices),
        at=at,
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "poll_key", "participant_ref"],
            set_={"answer": statement.excluded.answer, "at": statement.excluded.at},
        )
    )


async def live_answer_of(
    connection: AsyncConnection, session_id: str, poll_key: str, participant_ref: str
) -> list[str] | None:
    for found in await activity.poll_answers_for(connection, session_id, poll_key):
        if found.participant_ref == participant_ref:
            return list(found.answer)
    return None


# --- the recording and the transcript -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Links:
    recording: str | None
    transcript: str | None


async def links_of(connection: AsyncConnection, session_id: str) -> Links:
    row = (
        await connection.execute(
            select(recap_links.c.recording_url, recap_links.c.transcript_url).where(
                recap_links.c.session_id == session_id
            )
        )
    ).first()
    return Links(row.recording_url, row.transcript_url) if row else Links(None, None)


async def set_links(
    connection: AsyncConnection, session_id: str, links: Links, at: datetime
) -> None:
    statement = upsert_insert(connection, recap_links).values(
        session_id=session_id,
        recording_url=links.recording,
        transcript_url=links.transcript,
        updated_at=at,
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id"],
            set_={
                "recording_url": statement.excluded.recording_url,
                "transcript_url": statement.excluded.transcript_url,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
