"""Retention covers the journey: pruning a session deletes its addresses, consent, pre-work
marks, late answers and follow-ups (sent or not), and keeps the unsubscribes' hashes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from facilbot.journey import tables as journey
from facilbot.reports.service import prune
from facilbot.store.models import table_of
from tests.facilbot.journey.conftest import ended_session
from tests.support.api import ApiHarness

PERSONAL = (
    journey.JourneyPerson,
    journey.PreworkMark,
    journey.FollowUpMessage,
    journey.JourneyAnswer,
)


async def counts(api: ApiHarness, session_id: str) -> dict[str, int]:
    found = {}
    async with api.db.engine.connect() as connection:
        for model in PERSONAL:
            table = table_of(model)
            found[table.name] = (
                await connection.execute(
                    select(func.count()).select_from(table).where(table.c.session_id == session_id)
                )
            ).scalar_one()
    return found


async def test_pruning_a_session_prunes_its_journey(api: ApiHarness) -> None:
    session_id = await ended_session(api)
    assert api.services.followups is not None
    await api.services.followups.run_once()  # schedules Ana's reminder and check-ins
    before = await counts(api, session_id)
    assert before["journey_people"] >= 1 and before["journey_followups"] >= 1
    # Not yet: the session ended less than the retention ago.
    assert await prune(api.db.engine, api.clock.now() + timedelta(days=29), 30) == []
    assert await counts(api, session_id) == before
    pruned = await prune(api.db.engine, api.clock.now() + timedelta(days=31), 30)
    assert pruned == [session_id]
    assert set((await counts(api, session_id)).values()) == {0}
