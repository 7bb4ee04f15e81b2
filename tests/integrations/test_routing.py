from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.contract import (
    ACTION_KINDS,
    Action,
    ActionKind,
    Carrier,
    Channel,
    ChannelError,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    Delivery,
    EndBreak,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Outcome,
    ProducerCue,
    Room,
    Say,
    StartBreak,
    WarnBreakouts,
)
from integrations.routing import CueLog, channels_for, route, to_producer_cue
from integrations.sim import SimAdapter, SimWorld, default_scenario

S, B, C, P = Channel.server_api, Channel.bridge, Channel.companion, Channel.producer_cue
SECRET_PAYLOAD = "token=abc123 full payload"


class Fake:
    """A carrier that does what it is told: deliver, refuse, hang, fail, or blow up."""

    def __init__(self, channel: Channel, behaviour: str = "ok") -> None:
        self.channel = channel
        self.behaviour = behaviour
        self.carried: list[Action] = []

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        self.carried.append(action)
        match self.behaviour:
            case "refuse":
                raise ChannelError("not today", retry_after=30)
            case "hang":
                await asyncio.Event().wait()
            case "failed":
                return Delivery(self.channel, Outcome.failed, detail="bridge said no")
            case "bug":
                raise KeyError(SECRET_PAYLOAD)
        return Delivery(self.channel, Outcome.delivered, external_id="x1")


# -- channels_for ------------------------------------------------------------------------------


def test_channels_for_keeps_declared_order_filters_and_ends_with_producer_cue() -> None:
    capabilities: Mapping[ActionKind, tuple[Channel, ...]] = {"say": (B, S, C)}
    assert channels_for(capabilities, "say", {S, B, C, P}) == (B, S, C, P)
    assert channels_for(capabilities, "say", {S, C}) == (S, C, P)  # no bridge connected
    assert channels_for(capabilities, "say", set()) == (P,)
    assert channels_for(capabilities, "open_poll", {S, B, C}) == (P,)  # undeclared


def test_channels_for_never_repeats_or_misplaces_the_producer_cue() -> None:
    capabilities: Mapping[ActionKind, tuple[Channel, ...]] = {"say": (P, S, S, B)}
    assert channels_for(capabilities, "say", [S, B]) == (S, B, P)


# -- route -------------------------------------------------------------------------------------


async def test_first_channel_that_works_carries_it() -> None:
    server, cues = Fake(S), CueLog()
    result = await route("m1", Say("hi"), (S, P), {S: server, P: cues}, timeout=1)
    assert result.delivery.channel is S and result.delivery.outcome is Outcome.delivered
    assert [(a.channel, a.ok) for a in result.attempts] == [(S, True)]
    assert not result.fell_back
    assert server.carried == [Say("hi")] and cues.cues == []


async def test_channel_error_falls_back_with_the_reason_and_retry_after() -> None:
    bridge, companion = Fake(B, "refuse"), Fake(C)
    result = await route("m1", Say("hi"), (B, C, P), {B: bridge, C: companion}, timeout=1)
    assert result.delivery.channel is C
    assert result.fell_back
    first = result.attempts[0]
    assert (first.channel, first.ok, first.reason, first.retry_after) == (B, False, "not today", 30)


async def test_timeout_falls_back() -> None:
    cues = CueLog()
    result = await route("m1", Say("hi"), (S, P), {S: Fake(S, "hang"), P: cues}, timeout=0.01)
    assert result.delivery.channel is P
    assert result.attempts[0].reason == "timed out after 0.01s"
    assert cues.cues == [("m1", ProducerCue("Post this in the meeting chat now.", paste="hi"))]


async def test_missing_carrier_and_failed_delivery_fall_back() -> None:
    cues = CueLog()
    result = await route("m1", Say("hi"), (S, B, P), {B: Fake(B, "failed"), P: cues}, timeout=1)
    assert [(a.channel, a.reason) for a in result.attempts] == [
        (S, "no carrier connected"),
        (B, "bridge said no"),
        (P, ""),
    ]
    assert result.delivery.channel is P and result.delivery.outcome is Outcome.pending


async def test_unexpected_exception_is_recorded_by_type_logged_and_falls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cues = CueLog()
    with caplog.at_level(logging.ERROR, logger="integrations.routing"):
        result = await route("m1", Say("hi"), (S, P), {S: Fake(S, "bug"), P: cues}, timeout=1)
    assert result.attempts[0].reason == "unexpected KeyError"
    assert result.delivery.channel is P
    assert "KeyError" in caplog.text and "test_routing.py" in caplog.text
    assert SECRET_PAYLOAD not in caplog.text  # never the exception's message: it may hold a payload


async def test_everything_failing_gives_a_failed_delivery_naming_each_reason() -> None:
    result = await route("m1", Say("hi"), (S, P), {S: Fake(S, "refuse")}, timeout=1)
    assert result.delivery.outcome is Outcome.failed
    assert result.delivery.detail == "server_api: not today; producer_cue: no carrier connected"
    empty = await route("m1", Say("hi"), (), {}, timeout=1)
    assert empty.delivery.outcome is Outcome.failed and empty.attempts == ()


async def test_cancellation_is_not_swallowed() -> None:
    task = asyncio.create_task(route("m1", Say("hi"), (S, P), {S: Fake(S, "hang")}, timeout=60))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_custom_render_reaches_the_producer() -> None:
    cues = CueLog()
    await route(
        "m1", Say("hi"), (P,), {P: cues}, timeout=1, render=lambda a: ProducerCue(f"do {a.kind}")
    )
    assert cues.cues == [("m1", ProducerCue("do say"))]


behaviours = st.sampled_from(["ok", "refuse", "failed", "bug", "missing"])


@settings(max_examples=100, deadline=None)
@given(
    order=st.lists(st.sampled_from([S, B, C]), unique=True),
    behaviour=st.fixed_dictionaries({S: behaviours, B: behaviours, C: behaviours}),
)
async def test_with_a_producer_cue_every_action_is_carried_exactly_once(
    order: list[Channel], behaviour: dict[Channel, str]
) -> None:
    cues = CueLog()
    fakes = {ch: Fake(ch, how) for ch, how in behaviour.items() if how != "missing"}
    carriers: dict[Channel, Carrier] = {**fakes, P: cues}
    capabilities: Mapping[ActionKind, tuple[Channel, ...]] = {"say": tuple(order)}
    plan = channels_for(capabilities, "say", {S, B, C})
    result = await route("m", Say("x"), plan, carriers, timeout=1)
    assert result.delivery.outcome is not Outcome.failed
    assert sum(a.ok for a in result.attempts) == 1 and result.attempts[-1].ok
    working = [ch for ch in order if behaviour[ch] == "ok"]
    expected = working[0] if working else P
    assert result.delivery.channel is expected
    for channel, fake in fakes.items():  # nothing after the winner was tried
        tried = channel in plan and plan.index(channel) <= plan.index(expected)
        assert len(fake.carried) == (1 if tried else 0)
    assert len(cues.cues) == (1 if expected is P else 0)


# -- routing through the simulator's channels ---------------------------------------------------


async def test_sim_zoom_profile_falls_back_from_bridge_to_companion() -> None:
    world = SimWorld()
    meeting = world.create(default_scenario(1, 6), "z1")
    meeting.start(datetime(2026, 1, 5, 9, tzinfo=UTC))
    adapter = SimAdapter(world, "zoom", fail={"bridge"})
    carriers: dict[Channel, Carrier] = {**adapter.carriers(), P: CueLog()}
    plan = channels_for(adapter.capabilities(), "say", {S, B, C})
    result = await route("z1", Say("hello"), plan, carriers, timeout=1)
    assert plan == (B, C, P)
    assert result.delivery.channel is C and result.fell_back
    assert [(r.channel, r.kind) for r in meeting.received] == [(C, "say")]


async def test_sim_teams_breakouts_go_straight_to_the_producer() -> None:
    world = SimWorld()
    world.create(default_scenario(1, 6), "t1").start(datetime(2026, 1, 5, 9, tzinfo=UTC))
    adapter = SimAdapter(world, "teams")
    cues = CueLog()
    action = OpenBreakouts((Room("Room 1", ("p003", "p004"), ("Chen", "Dita")),), 600)
    plan = channels_for(adapter.capabilities(), "open_breakouts", {S, B, C})
    result = await route("t1", action, plan, {**adapter.carriers(), P: cues}, timeout=1)
    assert plan == (P,)
    assert result.delivery.channel is P
    assert cues.cues[0][1].text.startswith("Open 1 breakout room now")


async def test_slow_sim_times_out_to_the_producer() -> None:
    world = SimWorld()
    world.create(default_scenario(1, 4), "s1").start(datetime(2026, 1, 5, 9, tzinfo=UTC))
    adapter = SimAdapter(world, "full", stall=True)
    result = await route("s1", Say("x"), (S, P), {S: adapter, P: CueLog()}, timeout=0.01)
    assert result.delivery.channel is P and "timed out" in result.attempts[0].reason


# -- producer cues -----------------------------------------------------------------------------

ROOMS = (
    Room("Room 1", ("a", "b", "c"), ("Ana", "Ben", "Chen")),
    Room("Room 2", ("d", "e"), ("Dita", "Emeka")),
)


@pytest.mark.parametrize(
    ("action", "text", "paste"),
    [
        (Say("Welcome!"), "Post this in the meeting chat now.", "Welcome!"),
        (
            OpenPoll("k1", "Q?", ("A", "B"), open_for=90),
            "Launch poll 'Q?' (options 'A', 'B'; one answer, open for 1 min 30 s).",
            "Q?\n1. A\n2. B",
        ),
        (ClosePoll("k1"), "End the poll (k1) and share the results.", None),
        (
            OpenBreakouts(ROOMS, 900),
            "Open 2 breakout rooms now for 15 min: Room 1: Ana, Ben, Chen; Room 2: Dita, Emeka",
            "Room 1: Ana, Ben, Chen\nRoom 2: Dita, Emeka",
        ),
        (
            WarnBreakouts(120, "Two minutes"),
            "Broadcast to all breakout rooms (2 min left).",
            "Two minutes",
        ),
        (CloseBreakouts(), "Close all breakout rooms now.", None),
        (
            StartBreak(600, "Back at 10:40"),
            "Start a 10 min break now: pause the recording and post this.",
            "Back at 10:40",
        ),
        (
            EndBreak("Welcome back"),
            "End the break: resume the recording and post this.",
            "Welcome back",
        ),
        (
            OpenCommitments("One action?", 45),
            "Ask everyone for their commitment (collecting for 45 s).",
            "One action?",
        ),
        (CloseCommitments(), "Stop collecting commitments; thank everyone.", None),
        (ProducerCue("Just this", paste="p"), "Just this", "p"),
    ],
)
def test_to_producer_cue(action: Action, text: str, paste: str | None) -> None:
    assert to_producer_cue(action) == ProducerCue(text, paste=paste)


def test_every_action_kind_renders() -> None:
    from tests.integrations.contract.test_contract import SAMPLES

    for kind in ACTION_KINDS:
        cue = to_producer_cue(SAMPLES[kind])
        assert cue.text and cue.kind == "producer_cue"


def test_rooms_without_names_show_ids_and_poll_flags_show() -> None:
    cue = to_producer_cue(OpenBreakouts((Room("R", ("u1", "u2")),), 60))
    assert cue.text == "Open 1 breakout room now for 1 min: R: u1, u2"
    poll = to_producer_cue(OpenPoll("k", "Q", ("A", "B", "C"), multiple=True, anonymous=True))
    assert "multiple answers, anonymous, open for 2 min" in poll.text
