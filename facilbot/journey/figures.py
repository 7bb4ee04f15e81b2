"""The journey's figures for the reports (issue 9 plugs these into its report).

Per person: pre-work done, commitment (and whether it came after the session), reminder
sent, check-in answers. Per cohort (one or more sessions): the program's own question —
did people who did the pre-work *and* attended live apply the skill at 90 days more often
than everyone else? "Applied" is a 90-day check-in answered ``done`` or ``partly``; people
who did not answer are counted apart, never as "not applied".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.journey import commitments, prework, reach, schedule
from facilbot.reports.data import JourneyProvider, SessionData
from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from runofshow.model import Show

APPLIED = frozenset({"done", "partly"})
NINETY_DAYS = 90 * 86400


@dataclass(frozen=True, slots=True)
class PersonJourney:
    participant_ref: str
    name: str
    prework_done: bool
    attended: bool
    committed: bool
    asynchronous_commitment: bool
    reminder_sent: bool
    #: by label ("check-in 30d"): the answer, or None when sent and not answered
    check_ins: dict[str, str | None] = field(default_factory=dict)
    #: the 90-day answer (or the last check-in's when the show has no 90-day one)
    final_answer: str | None = None


async def people(connection: AsyncConnection, session_id: str, show: Show) -> list[PersonJourney]:
    record = await store_sessions.get_session(connection, session_id)
    ended_at = record.ended_at if record else None
    marks = await prework.done_by(connection, session_id)
    present = {
        p.participant_id for p in await store_participants.presence_for(connection, session_id)
    }
    ids = {
        p.participant_ref: p.id
        for p in await store_participants.participants_for(connection, session_id)
    }
    sent = await schedule.rows(connection, session_id)
    final_key = _final_key(show)
    found = []
    for person in await reach.reach_for(connection, session_id):
        mine = [r for r in sent if r.participant_ref == person.participant_ref]
        made = await commitments.commitment_of(connection, session_id, person.participant_ref)
        final = next((r for r in mine if r.key == final_key), None)
        found.append(
            PersonJourney(
                participant_ref=person.participant_ref,
                name=person.name,
                prework_done=prework.did_it(
                    marks.get(person.participant_ref, set()), len(show.prework)
                ),
                attended=ids.get(person.participant_ref) in present,
                committed=made is not None,
                asynchronous_commitment=bool(made and ended_at and made[1] > ended_at),
                reminder_sent=any(r.kind == "reminder" and r.status == "sent" for r in mine),
                check_ins={
                    schedule.label(r.key): r.answer
                    for r in mine
                    if r.kind == "check_in" and r.status == "sent"
                },
                final_answer=final.answer if final else None,
            )
        )
    return found


def _final_key(show: Show) -> str | None:
    keys = [p.key for p in schedule.planned(show) if p.kind == "check_in"]
    ninety = f"check_in:{NINETY_DAYS}"
    return ninety if ninety in keys else (keys[-1] if keys else None)


@dataclass(frozen=True, slots=True)
class Group:
    people: int
    answered: int
    applied: int

    @property
    def rate(self) -> float | None:
        return self.applied / self.answered if self.answered else None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Application at 90 days: pre-work *and* live attendance against everyone else."""

    prework_and_live: Group
    everyone_else: Group

    @property
    def ratio(self) -> float | None:
        a, b = self.prework_and_live.rate, self.everyone_else.rate
        return a / b if a is not None and b else None


def compare(cohort: Sequence[PersonJourney]) -> Comparison:
    def group(members: list[PersonJourney]) -> Group:
        answered = [p for p in members if p.final_answer is not None]
        return Group(
            people=len(members),
            answered=len(answered),
            applied=sum(1 for p in answered if p.final_answer in APPLIED),
        )

    both = [p for p in cohort if p.prework_done and p.attended]
    rest = [p for p in cohort if not (p.prework_done and p.attended)]
    return Comparison(prework_and_live=group(both), everyone_else=group(rest))


# --- in the reports ---------------------------------------------------------------------------


def _minutes_attended(data: SessionData) -> dict[str, float]:
    """Minutes each person was in the meeting while the session ran (its start to its end,
    or to the report's time while it runs), by participant ref."""
    record = data.session
    start = record.started_at
    end = record.ended_at or data.now
    if start is None or end is None:
        return {}
    refs = {p.id: p.participant_ref for p in data.participants}
    seconds: dict[str, float] = {}
    for stay in data.presence:
        joined = max(stay.joined_at, start)
        left = min(stay.left_at or end, end)
        if left > joined and stay.participant_id in refs:
            ref = refs[stay.participant_id]
            seconds[ref] = seconds.get(ref, 0.0) + (left - joined).total_seconds()
    return {ref: round(total / 60, 2) for ref, total in seconds.items()}


def _section(person: PersonJourney, minutes: float) -> dict[str, Any]:
    return {**asdict(person), "minutes_attended": minutes}


async def provider(connection: AsyncConnection, data: SessionData) -> JourneyProvider:
    """The report's journey provider for one session: the figures are read here, before the
    report is built, on the connection the report reads with.

    Never in a transaction of its own: :func:`facilbot.reports.service.prune` builds the
    report inside its write transaction (``BEGIN IMMEDIATE`` on SQLite), so a second writer
    there waits out SQLite's 5 s busy timeout and fails with "database is locked"; the prune
    run fails and retries six hours later. That is the retention test's broken timing
    (reproduced by reading these figures under ``engine.begin()``: its prune misses the
    test's window). Reading on the report's own connection takes no second lock at all.
    """
    found = {p.participant_ref: p for p in await people(connection, data.session.id, data.show)}
    minutes = _minutes_attended(data)

    def provide(_data: SessionData, refs: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        return {ref: _section(found[ref], minutes.get(ref, 0.0)) for ref in refs if ref in found}

    return provide


_FIELDS = frozenset(f.name for f in fields(PersonJourney))


def cohort(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The journey across sessions' reports (those not yet pruned): how many did each step,
    the check-in answers, and the 90-day comparison with the counts behind it."""
    sections = [
        person["journey"]
        for report in reports
        for person in report.get("participants", ())
        if person.get("journey")
    ]
    journeys = [PersonJourney(**{k: v for k, v in s.items() if k in _FIELDS}) for s in sections]
    answers: dict[str, dict[str, int]] = {}
    for person in journeys:
        for label, answer in person.check_ins.items():
            counts = answers.setdefault(label, {"done": 0, "partly": 0, "not_yet": 0, "none": 0})
            counts[answer or "none"] += 1
    comparison = compare(journeys)

    def group(found: Group) -> dict[str, Any]:
        return {**asdict(found), "rate": found.rate}

    return {
        "people": len(journeys),
        "prework_done": sum(p.prework_done for p in journeys),
        "attended": sum(p.attended for p in journeys),
        "minutes_attended": round(sum(s["minutes_attended"] for s in sections), 2),
        "committed": sum(p.committed for p in journeys),
        "asynchronous_commitments": sum(p.asynchronous_commitment for p in journeys),
        "reminder_sent": sum(p.reminder_sent for p in journeys),
        "check_ins": dict(sorted(answers.items())),
        "application_at_90_days": {
            "prework_and_live": group(comparison.prework_and_live),
            "everyone_else": group(comparison.everyone_else),
            "ratio": comparison.ratio,
        },
    }
