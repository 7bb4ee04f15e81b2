"""TeamsAdapter beyond the contract suite: live poll results, break notifications, cues."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.contract import (
    Channel,
    ChannelError,
    ClosePoll,
    OpenBreakouts,
    OpenPoll,
    Platform,
    PollAnswer,
    Room,
    Say,
    StartBreak,
)
from integrations.teams.adapter import TeamsAdapter
from integrations.teams.connector import BotConnectorClient
from integrations.teams.entra import BOT_FRAMEWORK_SCOPE, EntraTokenProvider
from tests.support.clock import FakeClock

from .fakes import APP_ID, APP_PASSWORD, SERVICE_URL, TENANT, FakeMicrosoft

MEETING = "19:meeting_abc@thread.v2"


def make(**kwargs: object) -> tuple[FakeMicrosoft, FakeClock, TeamsAdapter]:
    clock = FakeClock(1_700_000_000.0)
    fake = FakeMicrosoft(clock=clock)
    http = fake.client()
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=APP_PASSWORD,
        tenant=TENANT,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        clock=clock,
    )
    connector = BotConnectorClient(tokens, http=http, clock=clock, sleep=clock.sleep)
    adapter = TeamsAdapter(connector, clock=clock, **kwargs)  # type: ignore[arg-type]
    adapter.attach(MEETING, SERVICE_URL, "MCMxOTptZWV0aW5n")
    return fake, clock, adapter


def answer(person: str, *choices: str) -> PollAnswer:
    return PollAnswer(
        platform=Platform.teams,
        meeting_ref=MEETING,
        event_id=f"e-{person}-{choices}",
        occurred_at=datetime.now(UTC),
        poll_key="p1",
        participant_id=person,
        choices=choices,
    )


def card_text(body: dict) -> str:  # type: ignore[type-arg]
    return " ".join(
        str(item.get("text", ""))
        + " ".join(str(i.get("text", "")) for col in item.get("columns", []) for i in col["items"])
        for item in body["attachments"][0]["content"]["body"]
    )


async def test_unknown_meeting_is_a_channel_error() -> None:
    _, _, adapter = make()
    with pytest.raises(ChannelError, match="no Bot Framework conversation"):
        await adapter.carry("19:other@thread.v2", Say("hi"))


async def test_live_results_are_throttled_and_final_on_close() -> None:
    fake, clock, adapter = make(results_interval=5.0)
    delivery = await adapter.carry(MEETING, OpenPoll("p1", "Ready?", ("Yes", "No")))
    assert delivery.channel is Channel.server_api and delivery.external_id
    await adapter.record_answer(answer("a", "Yes"))  # first answer: results card posted
    await adapter.record_answer(answer("b", "No"))  # within 5 s: held back
    await adapter.record_answer(answer("a", "No"))  # a changes their mind
    assert len(fake.sent()) == 2 and fake.sent("PUT") == []
    clock.now += 5
    await adapter.record_answer(answer("c", "Yes"))
    [live] = fake.sent("PUT")
    assert "Yes 1 (33 %)" in card_text(live.body) and "No 2 (67 %)" in card_text(live.body)
    await adapter.carry(MEETING, ClosePoll("p1"))
    puts = fake.sent("PUT")
    poll_card_id = delivery.external_id
    assert puts[-2].path.endswith(f"/activities/{poll_card_id}")
    assert "Poll closed" in card_text(puts[-2].body)
    await adapter.record_answer(answer("d", "Yes"))  # closed: ignored
    assert len(fake.sent("PUT")) == len(puts)


async def test_close_unknown_poll_falls_back() -> None:
    _, _, adapter = make()
    with pytest.raises(ChannelError, match="not opened"):
        await adapter.carry(MEETING, ClosePoll("never-opened"))


async def test_break_also_notifies_when_permitted() -> None:
    fake, _, adapter = make(notify_breaks=True, companion_url=lambda ref: "https://fb.example/c/1")
    adapter.observe_activity(
        {
            "type": "message",
            "serviceUrl": SERVICE_URL,
            "conversation": {"id": MEETING},
            "from": {"id": "29:ana", "aadObjectId": "aad-ana"},
            "channelData": {"meeting": {"id": "MCMxOTptZWV0aW5n"}},
        }
    )
    delivery = await adapter.carry(MEETING, StartBreak(600, "Break: back at 10:40."))
    assert "notification sent" in delivery.detail
    notification = fake.sent()[-1]
    assert notification.path.endswith("/v1/meetings/MCMxOTptZWV0aW5n/notification")
    assert notification.body["value"]["recipients"] == ["29:ana"]


async def test_break_without_permission_is_chat_only() -> None:
    fake, _, adapter = make()
    await adapter.carry(MEETING, StartBreak(600, "Break"))
    assert [r.path.rsplit("/", 1)[1] for r in fake.sent()] == ["activities"]


async def test_breakouts_are_producer_work() -> None:
    _, _, adapter = make()
    action = OpenBreakouts((Room("Room 1", ("p1", "p2"), ("Ana", "Ben")),), duration=600)
    with pytest.raises(ChannelError, match="breakout"):
        await adapter.carry(MEETING, action)
    cue = adapter.breakout_cue(MEETING, action)
    assert "10-minute" in cue.text and cue.paste == "Room 1: Ana, Ben"
