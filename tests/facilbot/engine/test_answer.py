"""Answer back: /fb commands that are refused, malformed, or ask for help or the status get a
reply in the meeting chat (where a channel can post), a console notice, and a record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from facilbot.engine.answer import status_text
from facilbot.platforms.sim import SimPlatform
from facilbot.store import notices
from facilbot.store.db import Database, reading
from integrations.contract import ChatCommand, Platform, Role, Say
from integrations.sim import SimAdapter, SimWorld
from integrations.sim.scenario import Scenario
from tests.support.api import START, ApiHarness, open_api, service_settings


@pytest.fixture
async def harness(store: Database, tmp_path: Path) -> AsyncIterator[tuple[ApiHarness, SimWorld]]:
    world = SimWorld()
    world.create(Scenario(seed=1, participants=()), "sim-1").start(START)
    platform = SimPlatform(SimAdapter(world, "teams"))  # the bot posts in the chat
    async with open_api(service_settings(tmp_path), store, platforms=[platform]) as h:
        yield h, world


async def typed(h: ApiHarness, n: int, who: str, role: Role, verb: str, *args: str) -> None:
    event = ChatCommand(
        platform=Platform.sim,
        meeting_ref="sim-1",
        event_id=f"c{n}",
        occurred_at=h.clock.now(),
        sender_id=who.lower(),
        sender_name=who,
        verb=verb,
        args=args,
        sender_role=role,
    )
    for fresh in await h.engine.accept([event]):
        await h.engine.ingest(fresh)


def chat_replies(world: SimWorld) -> list[str]:
    return [r.action.text for r in world.get("sim-1").received if isinstance(r.action, Say)]


async def test_refusals_help_and_status_are_answered_in_the_chat(
    harness: tuple[ApiHarness, SimWorld],
) -> None:
    h, world = harness
    session_id = await h.attach(await h.upload())
    await h.control(session_id, "start")
    await h.advance(60)
    before = len(chat_replies(world))
    h.listen(session_id)
    await h.settle()

    await typed(h, 1, "Hana", Role.host, "extend", "five")
    await typed(h, 2, "Bob", Role.attendee, "end")
    await typed(h, 3, "Hana", Role.host, "jump", "nowhere")
    await typed(h, 4, "Bob", Role.attendee, "help")
    await typed(h, 5, "Bob", Role.attendee, "status")

    replies = chat_replies(world)[before:]
    assert (
        replies[0]
        == "/fb extend five was not done: /fb extend needs a number of minutes, not 'five'"
    )
    assert replies[1].startswith("Bob: only the host, a co-host or a named producer")
    assert replies[2].startswith("/fb jump nowhere was not done: jump needs 'segment_id'")
    assert replies[3].startswith("Commands: /fb start") and "/fb extend N" in replies[3]
    assert replies[4] == "Now: Arrive, 4:00 left. Next: Talk."
    state = await h.engine.state(session_id)
    assert state.status == "running" and not state.paused  # nothing was done
    async with reading(h.db.engine) as connection:
        kept = await notices.notices_for(connection, session_id)
    assert [(n.command, n.refused, n.replied_via) for n in reversed(kept)] == [
        ("/fb extend five", True, "server_api"),
        ("/fb end", True, "server_api"),
        ("/fb jump nowhere", True, "server_api"),
        ("/fb help", False, "server_api"),
        ("/fb status", False, "server_api"),
    ]
    assert [n.command for n in state.notices] == [n.command for n in kept]
    await h.settle()
    assert len(h.events(session_id, "command_refused")) == 3
    assert len(h.events(session_id, "command_answered")) == 2


async def test_status_text_says_where_the_show_stands(
    harness: tuple[ApiHarness, SimWorld],
) -> None:
    h, _ = harness
    session_id = await h.attach(await h.upload())
    assert status_text(await h.engine.state(session_id)) == "API test show: not started yet."
    await h.control(session_id, "start")
    await h.control(session_id, "pause")
    assert status_text(await h.engine.state(session_id)).startswith("Now: Arrive (paused), 5:00")
    await h.control(session_id, "end")
    await h.advance(1)
    assert status_text(await h.engine.state(session_id)) == "API test show: the show has ended."
