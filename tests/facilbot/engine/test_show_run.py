"""A whole example show on the simulator, on a virtual clock, over SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from facilbot.engine.engine import RESERVE_AHEAD
from facilbot.journey.commitments import substantive
from facilbot.store import activity
from facilbot.store.db import Database, reading
from integrations.contract import Channel, ChatMessage, Outcome
from runofshow.loader import load_show_text
from tests.facilbot.engine.harness import (
    attach,
    control_rows,
    example,
    final_plan,
    firings,
    make_rig,
    minutes,
    run_until,
    scenario,
)

AHEAD = timedelta(seconds=RESERVE_AHEAD)


@pytest.mark.parametrize("profile", ["zoom", "teams", "full"])
async def test_a_whole_show_fires_every_item_once_in_order(store: Database, profile: str) -> None:
    text = example()
    show = load_show_text(text).show
    rig = make_rig(store, profile)  # type: ignore[arg-type]
    engine = rig.engine()
    people = scenario(show.duration)
    producer = people.participants[1].participant
    meeting = rig.world.create(people, "sim-whole")
    session_id = await attach(engine, text, meeting.meeting_ref)
    await engine.start()
    try:
        meeting.start(rig.clock.now())
        await run_until(rig, engine, [meeting], rig.clock.now() + minutes(show.duration / 60 + 40))
        state = await engine.state(session_id)
    finally:
        await rig.close()

    assert state.status == "ended"
    plan = await final_plan(store, show, session_id, rig.clock.now())
    assert plan.status == "ended"
    expected = [i for i in plan.items if i.state != "skipped"]
    fired = await firings(store, session_id)
    # Exactly once (the keys are distinct) and claimed in plan order.
    assert [f.key for f in fired] == [i.key for i in expected]
    for record, item in zip(fired, expected, strict=True):
        assert record.action == item.action
        assert record.planned_at == item.due
        # On the virtual clock every wake is exact: each cue is reserved at most RESERVE_AHEAD
        # before its moment (at it, when a control made it due at once) and sent at it.
        assert record.planned_at - AHEAD <= record.claimed_at <= record.planned_at, record
        assert record.sent_at == record.planned_at, record
        assert record.status == "sent", record
        assert record.channel in {str(c) for c in Channel}
        assert record.outcome in {str(o) for o in Outcome}
        assert record.sent_at is not None and record.sent_at >= record.claimed_at
    assert rig.fired and [f.key for f in rig.fired] == [i.key for i in expected]
    # The producer's "/fb extend 5" typed in the chat at 25m was applied, once.
    rows = await control_rows(store, session_id)
    extends = [(r.kind, dict(r.payload), r.by) for r in rows if r.kind == "extend"]
    assert extends == [("extend", {"seconds": 300}, f"chat:{producer.name}")]

    # Commitments: recorded from chat while the commitments window was open, and only then.
    opened = next(f for f in fired if f.action == "commitments_open")
    closed = next(f for f in fired if f.action == "commitments_close")
    assert opened.sent_at is not None and closed.sent_at is not None
    window = (opened.sent_at, closed.sent_at)
    chats = [e for e in meeting.delivered if isinstance(e, ChatMessage)]
    inside = [e for e in chats if window[0] <= e.occurred_at < window[1]]
    outside = [e for e in chats if not window[0] <= e.occurred_at < window[1]]
    assert inside and outside  # the scenario exercises both sides
    async with reading(store.engine) as connection:
        commitments = await activity.commitments_for(connection, session_id)
    assert commitments
    for commitment in commitments:
        assert window[0] <= commitment.at <= window[1], commitment
    # Each person's first substantive message in the window is their commitment.
    first_inside: dict[str, str] = {}
    for e in inside:
        if substantive(e.text):
            first_inside.setdefault(e.sender_id, e.text.strip())
    assert {c.participant_ref: c.text for c in commitments} == first_inside
    last_inside = first_inside
    # Who has not committed: the attendees in the meeting now who typed nothing in the window.
    present = meeting.present
    not_committed = sorted(
        p.name for pid, p in present.items() if p.role == "attendee" and pid not in last_inside
    )
    assert sorted(state.not_committed) == not_committed

    # Poll answers: counted as the people in the meeting gave them.
    assert len(state.polls) == sum(1 for i in expected if i.action == "poll_open")
    for poll in state.polls:
        given = meeting.answers[poll.key]
        assert poll.answers == len(given)
        assert poll.counts == dict(Counter(c for choices in given.values() for c in choices))
