"""Inbound events: producer commands typed in the chat, and duplicates absorbed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from facilbot.engine.engine import Engine
from facilbot.store import activity
from facilbot.store.db import Database, reading
from integrations.contract import ChatCommand, ChatMessage, Platform, Role, parse_command
from tests.facilbot.engine.harness import (
    SMALL_SHOW,
    T0,
    Rig,
    attach,
    control_rows,
    deliver,
    make_rig,
    minutes,
    run_until,
)

MEETING = "sim-inbound"
PRODUCER = {"name": "Pat Producer", "email": "pat@example.com"}


@dataclass
class Live:
    rig: Rig
    engine: Engine
    session_id: str


@pytest.fixture
async def live(store: Database) -> AsyncIterator[Live]:
    rig = make_rig(store)
    engine = rig.engine()
    session_id = await attach(engine, SMALL_SHOW, MEETING, producers=[PRODUCER])
    await engine.start()
    await engine.control(session_id, "start", {}, "test")
    await run_until(rig, engine, [], T0 + minutes(12))
    yield Live(rig, engine, session_id)
    await rig.close()


_ids = iter(range(1, 10_000))


def command(
    text: str, name: str, role: Role | None, email: str | None = None, event_id: str | None = None
) -> ChatCommand:
    parsed = parse_command(text)
    assert parsed is not None, text
    return ChatCommand(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id=event_id or f"cmd-{next(_ids)}",
        occurred_at=T0,
        sender_id=f"u-{name}",
        sender_name=name,
        sender_email=email,
        sender_role=role,
        verb=parsed[0],
        args=parsed[1],
    )


async def extends(live: Live) -> list[tuple[int, str]]:
    rows = await control_rows(live.rig.db, live.session_id)
    return [(int(r.payload["seconds"]), r.by) for r in rows if r.kind == "extend"]


@pytest.mark.parametrize(
    ("name", "role", "email"),
    [
        ("Hana Host", Role.host, None),
        ("Cody Cohost", Role.cohost, None),
        ("Pat Producer", Role.attendee, None),  # named producer, by name
        ("pat producer ", None, None),  # names compare without case and outer spaces
        ("Someone Else", Role.attendee, "PAT@example.com"),  # named producer, by email
    ],
)
async def test_extend_typed_by_the_host_or_a_producer_applies(
    live: Live, name: str, role: Role | None, email: str | None
) -> None:
    await deliver(live.engine, [command("/fb extend 5", name, role, email)])
    assert await extends(live) == [(300, f"chat:{name}")]
    state = await live.engine.state(live.session_id)
    assert state.current_segment is not None and state.current_segment.id == "talk"
    assert state.current_segment.end == T0 + minutes(35)


@pytest.mark.parametrize(
    ("name", "role", "email"),
    [
        ("Ann Attendee", Role.attendee, None),
        ("Ann Attendee", None, None),
        ("Pat Producerx", Role.attendee, "ann@example.com"),
    ],
)
async def test_commands_from_attendees_are_ignored(
    live: Live, name: str, role: Role | None, email: str | None
) -> None:
    before = await control_rows(live.rig.db, live.session_id)
    for text in ("/fb extend 5", "/fb pause", "/fb end", "/fb next"):
        await deliver(live.engine, [command(text, name, role, email)])
    assert await control_rows(live.rig.db, live.session_id) == before
    assert live.engine.counters["command_refused"] == 4
    await run_until(live.rig, live.engine, [], T0 + minutes(20))
    state = await live.engine.state(live.session_id)
    assert not state.paused and state.status == "running"


async def test_a_malformed_or_refused_command_changes_nothing(live: Live) -> None:
    before = await control_rows(live.rig.db, live.session_id)
    for text in ("/fb extend lots", "/fb jump nowhere", "/fb resume", "/fb dance"):
        await deliver(live.engine, [command(text, "Hana Host", Role.host)])
    assert await control_rows(live.rig.db, live.session_id) == before


async def test_a_redelivered_command_applies_once(live: Live) -> None:
    event = command("/fb extend 5", "Hana Host", Role.host, event_id="zoom-retry-1")
    await deliver(live.engine, [event])
    await deliver(live.engine, [event])  # the platform retries the same delivery
    await deliver(live.engine, [event, event])
    assert await extends(live) == [(300, "chat:Hana Host")]
    assert live.engine.counters["duplicate_events"] == 3


async def test_accept_twice_applies_once(live: Live) -> None:
    message = ChatMessage(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id="chat-1",
        occurred_at=T0,
        sender_id="p9",
        sender_name="Ann Attendee",
        text="hello",
    )
    assert await live.engine.accept([message]) == [message]
    assert await live.engine.accept([message]) == []
    assert await live.engine.accept([message, message]) == []
    for event in await live.engine.accept([message]):
        await live.engine.ingest(event)
    await deliver(live.engine, [message])
    async with reading(live.rig.db.engine) as connection:
        chat = await activity.chat_for(connection, live.session_id)
    assert chat == []  # never fresh again, so never applied again
    await live.engine.ingest(message)  # the first (fresh) delivery's processing
    async with reading(live.rig.db.engine) as connection:
        chat = await activity.chat_for(connection, live.session_id)
    assert [(c.sender_name, c.text) for c in chat] == [("Ann Attendee", "hello")]
    # Even processed twice by mistake, the chat line is stored once (platform message id).
    await live.engine.ingest(message)
    async with reading(live.rig.db.engine) as connection:
        assert len(await activity.chat_for(connection, live.session_id)) == 1


async def test_replan_from_the_chat(live: Live) -> None:
    import asyncio
    from typing import Any

    seen: list[dict[str, Any]] = []

    async def follow() -> None:
        async for event in live.engine.hub.subscribe(live.session_id):
            seen.append(event)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    try:
        host = ("Hana Host", Role.host)
        await deliver(live.engine, [command("/fb replan", *host)])
        await deliver(live.engine, [command("/fb extend 5", *host)])
        await deliver(live.engine, [command("/fb replan", *host)])
        # The break keeps its rest and the commitments never shrink: only "end late" is left,
        # and accepting it is refused (nothing to change).
        await deliver(live.engine, [command("/fb replan accept", *host)])
        await deliver(live.engine, [command("/fb replan always", *host)])
        await deliver(live.engine, [command("/fb replan sometimes", *host)])
        await asyncio.sleep(0)
    finally:
        task.cancel()
    texts = [e["text"] for e in seen if e.get("type") == "replan"]
    assert texts == [
        "no re-plan needed: the session is heading for its planned end",
        "running 5m late: 1) end 5m late; /fb replan accept N",
    ]
    refused = [e["reason"] for e in seen if e.get("type") == "command_refused"]
    # answered back in the chat and on the console (facilbot.engine.answer), with the command
    assert refused[0] == (
        "/fb replan accept was not done: option 0 changes nothing (end 5m late); dismiss instead"
    )
    assert "/fb replan, /fb replan accept N" in refused[1]
    rows = await control_rows(live.rig.db, live.session_id)
    assert [(r.kind, dict(r.payload)) for r in rows if r.kind.startswith("replan")] == [
        ("replan_policy", {"auto": True})
    ]
