"""The journey's figures for the reports: per person, and the 90-day comparison."""

from __future__ import annotations

from datetime import timedelta

from facilbot.journey import figures, links, prework
from facilbot.store.db import reading
from tests.facilbot.journey.conftest import Inbox, ended_session
from tests.facilbot.journey.test_followups import CHECK_INS, REMINDER
from tests.support.api import ApiHarness


async def ninety_days_on(api: ApiHarness, answers: dict[str, str]) -> str:
    """Ana did the pre-work; Ana and Cy consented; every follow-up went out; ``answers`` are
    the 90-day check-in answers given through their links."""
    session_id = await ended_session(api, consent=("p-ana", "p-cy"))
    async with api.engine.writing() as connection:
        await prework.mark(connection, session_id, "p-ana", 0, True, api.clock.now())
    assert api.services.followups is not None
    for when in (REMINDER, *CHECK_INS):
        await api.clock.advance_to(when)
        await api.services.followups.run_once()
    async with reading(api.db.engine) as connection:
        rows = {(r.participant_ref, r.key): r.id for r in await figures.schedule.rows(connection)}
    secret = api.services.pages_secret
    for ref, answer in answers.items():
        token = links.make(secret, rows[(ref, "check_in:7776000")], "check_in", CHECK_INS[2])
        answered = await api.client.post(f"/f/{token}", content=f"answer={answer}".encode())
        assert answered.status_code == 200, answered.text
    return session_id


async def test_per_person_figures_and_the_ninety_day_comparison(
    api: ApiHarness, smtp: Inbox
) -> None:
    session_id = await ninety_days_on(api, {"p-ana": "done", "p-cy": "not_yet"})
    assert len(smtp.received) == 8
    await api.clock.advance(timedelta(days=1).total_seconds())

    state = await api.engine.state(session_id)
    version = await api.engine.show_for_version(state.show_version_id)
    async with reading(api.db.engine) as connection:
        people = {p.name: p for p in await figures.people(connection, session_id, version)}
    ana = people["Ana Alves"]
    assert (ana.prework_done, ana.attended, ana.committed, ana.reminder_sent) == (
        True,
        True,
        True,
        True,
    )
    assert ana.check_ins == {"check-in 30d": None, "check-in 60d": None, "check-in 90d": "done"}
    assert people["Bo Berg"].reminder_sent is False and people["Bo Berg"].check_ins == {}
    comparison = figures.compare(list(people.values()))
    assert comparison.prework_and_live == figures.Group(people=1, answered=1, applied=1)
    assert comparison.everyone_else == figures.Group(people=2, answered=1, applied=0)
    assert comparison.prework_and_live.rate == 1.0 and comparison.everyone_else.rate == 0.0


async def test_the_reports_carry_the_journey(api: ApiHarness, smtp: Inbox) -> None:
    session_id = await ninety_days_on(api, {"p-ana": "partly"})

    report = await api.client.get(f"/sessions/{session_id}/report", headers=api.auth())
    assert report.status_code == 200, report.text
    people = {p["name"]: p for p in report.json()["participants"]}
    ana = people["Ana Alves"]["journey"]
    assert (ana["prework_done"], ana["attended"], ana["committed"], ana["reminder_sent"]) == (
        True,
        True,
        True,
        True,
    )
    assert ana["minutes_attended"] == people["Ana Alves"]["minutes_present"] > 0
    assert ana["check_ins"]["check-in 90d"] == "partly"
    assert people["Bo Berg"]["journey"]["reminder_sent"] is False  # no address

    cohort = await api.client.get("/shows/journey/report", headers=api.auth())
    assert cohort.status_code == 200, cohort.text
    journey = cohort.json()["journey"]
    assert (journey["people"], journey["prework_done"], journey["committed"]) == (3, 1, 3)
    assert journey["reminder_sent"] == 2
    assert journey["check_ins"]["check-in 90d"] == {"done": 0, "partly": 1, "not_yet": 0, "none": 1}
    assert journey["application_at_90_days"] == {
        "prework_and_live": {"people": 1, "answered": 1, "applied": 1, "rate": 1.0},
        "everyone_else": {"people": 2, "answered": 0, "applied": 0, "rate": None},
        "ratio": None,
    }
