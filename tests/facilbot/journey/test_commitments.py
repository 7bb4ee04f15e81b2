"""Commitments from the chat: only in the commitments window, the first substantive message."""

from __future__ import annotations

import pytest

from facilbot.journey.commitments import substantive
from facilbot.store import activity
from facilbot.store.db import Database, reading
from integrations.contract import ChatMessage, Platform
from tests.facilbot.engine.harness import (
    SMALL_SHOW,
    T0,
    attach,
    deliver,
    make_rig,
    minutes,
    run_until,
)

MEETING = "sim-journey-commit"
_ids = iter(range(1, 10_000))


def chat(sender: str, text: str) -> ChatMessage:
    return ChatMessage(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id=f"chat-{next(_ids)}",
        occurred_at=T0,
        sender_id=f"u-{sender}",
        sender_name=sender,
        text=text,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Curious", False),
        ("Tired but here", True),  # substantive: the window, not the words, rules it out
        ("ok", False),
        ("Thanks!", False),
        ("+1", False),
        ("/fb extend 5", False),
        ("I will call Ana on Monday.", True),
        ("   ", False),
    ],
)
def test_what_counts_as_substantive(text: str, expected: bool) -> None:
    assert substantive(text) is expected


async def test_the_first_substantive_message_in_the_window_is_the_commitment(
    store: Database,
) -> None:
    rig = make_rig(store)
    engine = rig.engine()
    try:
        session_id = await attach(engine, SMALL_SHOW, MEETING)
        await engine.start()
        await engine.control(session_id, "start", {}, "test")
        await run_until(rig, engine, [], T0 + minutes(1))
        # check-in answers before the window are never commitments
        await deliver(engine, [chat("Ana", "Tired but here"), chat("Bo", "Curious")])
        await run_until(rig, engine, [], T0 + minutes(41))  # commitments 40–60m
        await deliver(
            engine,
            [
                chat("Ana", "ok"),
                chat("Ana", "I will send the stakeholder map to my team."),
                chat("Ana", "Thanks everyone, great session!"),
                chat("Bo", "I will book a call with Cy before Friday."),
            ],
        )
        async with reading(store.engine) as connection:
            made = await activity.commitments_for(connection, session_id)
        assert {c.participant_ref: c.text for c in made} == {
            "u-Ana": "I will send the stakeholder map to my team.",
            "u-Bo": "I will book a call with Cy before Friday.",
        }
    finally:
        await rig.close()
