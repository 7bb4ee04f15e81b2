from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.contract import (
    ACTION_KINDS,
    Channel,
    ChannelError,
    ChatCommand,
    ChatMessage,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    InboundEvent,
    MeetingEnded,
    MeetingStarted,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Outcome,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    PollAnswer,
    Role,
    Say,
    StartBreak,
)
from integrations.rooms import assign_rooms
from integrations.sim import (
    CAPABILITIES,
    Scenario,
    ScriptedChat,
    SimAdapter,
    SimulatedMeeting,
    SimWorld,
    Status,
    VirtualParticipant,
    default_scenario,
)

T0 = datetime(2026, 4, 7, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def started(seed: int = 5, size: int = 12, ref: str = "m1") -> tuple[SimWorld, SimulatedMeeting]:
    world = SimWorld()
    meeting = world.create(default_scenario(seed, size), ref)
    meeting.start(T0)
    return world, meeting


def present_after(meeting: SimulatedMeeting, at: datetime) -> list[Participant]:
    meeting.advance_to(at)
    return list(meeting.present.values())


# -- the scenario ----------------------------------------------------------------------------


def test_default_scenario_is_a_plausible_cohort() -> None:
    scenario = default_scenario(11, 30)
    people = [v.participant for v in scenario.participants]
    assert len(people) == 30 and len({p.id for p in people}) == 30
    assert [p.role for p in people[:2]] == [Role.host, Role.cohost]
    assert all(p.role is Role.attendee for p in people[2:])
    assert all({"department", "timezone"} <= set(p.attributes) for p in people)
    assert len({p.attributes["department"] for p in people[2:]}) >= 3
    assert any(p.email is None for p in people), "some guests come without an email"
    assert any(v.joins_at >= 60 for v in scenario.participants), "somebody joins late"
    assert any(v.leaves_at is not None for v in scenario.participants), "somebody leaves early"
    assert default_scenario(11, 30) == scenario
    assert default_scenario(12, 30) != scenario


def test_scenario_refuses_unknown_people_and_duplicates() -> None:
    person = VirtualParticipant(Participant("a", "A"))
    with pytest.raises(ValueError, match="unique"):
        Scenario(1, (person, person))
    with pytest.raises(ValueError, match="unknown participant"):
        Scenario(1, (person,), (ScriptedChat(5, "nobody", "hi"),))
    with pytest.raises(ValueError, match="at least"):
        default_scenario(1, 1)


# -- the clock -------------------------------------------------------------------------------


def test_events_come_in_order_once_each_with_aware_utc_times() -> None:
    _, meeting = started()
    seen: list[InboundEvent] = []
    for step in range(0, 160, 3):
        batch = meeting.advance_to(minutes(step))
        assert all(e.occurred_at <= minutes(step) for e in batch)
        seen += batch
    assert meeting.advance_to(minutes(300)) == []
    assert isinstance(seen[0], MeetingStarted)
    assert isinstance(seen[-1], MeetingEnded)
    assert [e.occurred_at for e in seen] == sorted(e.occurred_at for e in seen)
    assert all(e.occurred_at.utcoffset() == timedelta(0) for e in seen)
    assert len({e.event_id for e in seen}) == len(seen)
    assert meeting.status is Status.ended


def test_producer_command_arrives_as_a_command_from_the_cohost() -> None:
    _, meeting = started()
    events = meeting.advance_to(minutes(30))
    [command] = [e for e in events if isinstance(e, ChatCommand)]
    assert (command.verb, command.args, command.sender_role) == ("extend", ("5",), Role.cohost)
    assert command.occurred_at == minutes(25)
    assert not any(isinstance(e, ChatMessage) and e.text.startswith("/fb") for e in events)


def test_nothing_before_start_and_time_never_goes_back() -> None:
    meeting = SimWorld().create(default_scenario(1, 5), "x")
    assert meeting.advance_to(minutes(5)) == []
    meeting.start(T0)
    first = meeting.advance_to(minutes(10))
    assert first
    assert meeting.advance_to(minutes(2)) == []  # earlier than now: nothing new, nothing again


def test_local_times_are_accepted_naive_refused() -> None:
    meeting = SimWorld().create(default_scenario(1, 4), "x")
    meeting.start(datetime(2026, 4, 7, 11, 0, tzinfo=timezone(timedelta(hours=2))))
    assert meeting.started_at == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        meeting.advance_to(datetime(2026, 4, 7, 9, 5))


def test_start_twice_and_end_before_start_refused() -> None:
    meeting = SimWorld().create(default_scenario(1, 4), "x")
    with pytest.raises(RuntimeError, match="not started"):
        meeting.end(T0)
    meeting.start(T0)
    with pytest.raises(RuntimeError, match="already"):
        meeting.start(T0)


def test_end_now_ends_it_and_drops_the_rest() -> None:
    _, meeting = started()
    meeting.advance_to(minutes(10))
    meeting.end(minutes(12))
    events = meeting.advance_to(minutes(200))
    assert isinstance(events[-1], MeetingEnded) and events[-1].occurred_at == minutes(12)
    assert meeting.next_due() is None and meeting.present == {}


def test_redeliver_gives_the_same_event() -> None:
    _, meeting = started()
    events = meeting.advance_to(minutes(5))
    assert meeting.redeliver() is events[-1]
    assert meeting.redeliver(events[0].event_id) == events[0]
    with pytest.raises(LookupError):
        meeting.redeliver("nope")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.lists(st.integers(1, 20), min_size=1, max_size=12))
def test_same_seed_same_actions_same_events_whatever_the_steps(seed: int, steps: list[int]) -> None:
    """Determinism: how often the clock ticks changes nothing about what happens."""

    def run(ticks: list[int]) -> list[InboundEvent]:
        world = SimWorld()
        meeting = world.create(default_scenario(seed, 10), "det")
        meeting.start(T0)
        events: list[InboundEvent] = []
        now = 0
        for tick in ticks:
            now += tick
            events += meeting.advance_to(minutes(now))
            if now >= 10 and not meeting.open_polls and not meeting.received:
                meeting.receive(OpenPoll("k", "Q?", ("A", "B")), Channel.server_api)
        events += meeting.advance_to(minutes(200))
        return events

    one_go = run([10, 190])
    stepped = run([*steps, 10])

    # The poll goes out at a different moment when stepping differently, so compare
    # the part of the meeting that does not depend on it.
    def scripted(events: list[InboundEvent]) -> list[InboundEvent]:
        return [e for e in events if not isinstance(e, PollAnswer) and ":a" not in e.event_id]

    assert scripted(one_go) == scripted(stepped)
    assert run([10, 190]) == one_go


# -- reactions to actions ---------------------------------------------------------------------


async def test_poll_answers_come_from_present_people_within_the_window_until_closed() -> None:
    world, meeting = started(seed=2, size=20)
    meeting.advance_to(minutes(10))
    adapter = SimAdapter(world)
    await adapter.carry(
        "m1", OpenPoll("p1", "Which?", ("CFO", "Plant", "Procurement"), open_for=120)
    )
    answers = [e for e in meeting.advance_to(minutes(11)) if isinstance(e, PollAnswer)]
    assert answers and all(e.poll_key == "p1" for e in answers)
    assert all(
        len(e.choices) == 1 and e.choices[0] in ("CFO", "Plant", "Procurement") for e in answers
    )
    await adapter.carry("m1", ClosePoll("p1"))
    later = [e for e in meeting.advance_to(minutes(20)) if isinstance(e, PollAnswer)]
    assert later == []
    voters = {e.participant_id for e in answers}
    assert voters <= {p for p in meeting.present} | {p for p in meeting.answers["p1"]}
    assert len(voters) == len(answers)  # one answer each


async def test_everyone_who_answers_polls_answers_when_left_alone() -> None:
    world, meeting = started(seed=4, size=15)
    present = present_after(meeting, minutes(10))
    adapter = SimAdapter(world)
    await adapter.carry("m1", OpenPoll("p", "Q", ("A", "B"), multiple=True, open_for=120))
    answers = [e for e in meeting.advance_to(minutes(12)) if isinstance(e, PollAnswer)]
    expected = {p.id for p in present if meeting.scenario.participant(p.id).answers_polls}
    assert {a.participant_id for a in answers} == expected
    assert all(1 <= len(a.choices) <= 2 for a in answers)


async def test_breakouts_move_people_then_bring_them_back() -> None:
    world, meeting = started(seed=3, size=14)
    present = present_after(meeting, minutes(10))
    rooms = assign_rooms(present, size=3, method="mix_by", mix_by="department", seed=1)
    adapter = SimAdapter(world)
    await adapter.carry("m1", OpenBreakouts(rooms, duration=600))
    moves = [e for e in meeting.advance_to(minutes(11)) if isinstance(e, ParticipantMovedToRoom)]
    expected = {pid: room.name for room in rooms for pid in room.participant_ids}
    assert {m.participant_id: m.room for m in moves} == expected
    assert meeting.rooms == expected
    await adapter.carry("m1", CloseBreakouts())
    back = [e for e in meeting.advance_to(minutes(12)) if isinstance(e, ParticipantMovedToRoom)]
    assert {m.participant_id for m in back} == set(expected)
    assert all(m.room is None for m in back) and meeting.rooms == {}


async def test_rooms_close_on_their_own_when_time_is_up() -> None:
    world, meeting = started(seed=3, size=8)
    present = present_after(meeting, minutes(10))
    rooms = assign_rooms(present, rooms=2, seed=1)
    await SimAdapter(world).carry("m1", OpenBreakouts(rooms, duration=300))
    meeting.advance_to(minutes(14))
    assert meeting.rooms
    meeting.advance_to(minutes(16))
    assert meeting.rooms == {}


async def test_commitments_are_typed_in_chat_until_closed() -> None:
    world, meeting = started(seed=8, size=16)
    present = present_after(meeting, minutes(80))
    adapter = SimAdapter(world)
    await adapter.carry("m1", OpenCommitments("One action in 48 hours?", collect_for=300))
    events = meeting.advance_to(minutes(81))
    await adapter.carry("m1", CloseCommitments())
    events += meeting.advance_to(minutes(90))
    commitments = [e for e in events if isinstance(e, ChatMessage) and e.text.startswith("I will")]
    committers = {p.id for p in present if meeting.scenario.participant(p.id).commits}
    assert commitments
    assert {c.sender_id for c in commitments} <= committers
    assert len({c.sender_id for c in commitments}) < len(committers)  # closing cut some off
    assert set(meeting.commitments) == {c.sender_id for c in commitments}


async def test_a_prompt_gets_replies_from_talkative_people() -> None:
    world, meeting = started(seed=9, size=20)
    present = present_after(meeting, minutes(10))
    await SimAdapter(world).carry("m1", Say("In one word, how are you arriving?"))
    replies = [e for e in meeting.advance_to(minutes(12)) if isinstance(e, ChatMessage)]
    talkative = {p.id for p in present if meeting.scenario.participant(p.id).talkative}
    assert talkative and talkative <= {r.sender_id for r in replies}


def test_people_who_left_do_not_act() -> None:
    guest = Participant("g", "Guest")
    scenario = Scenario(
        1,
        (
            VirtualParticipant(Participant("h", "Host", role=Role.host)),
            VirtualParticipant(guest, leaves_at=60),
        ),
        (ScriptedChat(120, "g", "still here?"),),
    )
    meeting = SimWorld().create(scenario, "x")
    meeting.start(T0)
    events = meeting.advance_to(minutes(5))
    assert [type(e) for e in events] == [
        MeetingStarted,
        ParticipantJoined,
        ParticipantJoined,
        ParticipantLeft,
    ]
    meeting.receive(OpenPoll("k", "Q", ("A",)), Channel.server_api)
    answers = [e for e in meeting.advance_to(minutes(10)) if isinstance(e, PollAnswer)]
    assert [a.participant_id for a in answers] == ["h"]  # the guest has gone


# -- the adapter -----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["full", "zoom", "teams"])
async def test_adapter_carries_exactly_what_its_profile_declares(profile: str) -> None:
    world, meeting = started()
    meeting.advance_to(minutes(10))
    adapter = SimAdapter(world, profile)  # type: ignore[arg-type]
    from tests.integrations.contract.test_contract import SAMPLES

    for kind in ACTION_KINDS:
        if Channel.server_api in adapter.capabilities()[kind]:
            delivery = await adapter.carry("m1", SAMPLES[kind])
            assert (delivery.channel, delivery.outcome) == (Channel.server_api, Outcome.delivered)
        else:
            with pytest.raises(ChannelError, match=profile):
                await adapter.carry("m1", SAMPLES[kind])
    declared = [k for k in ACTION_KINDS if Channel.server_api in CAPABILITIES[profile][k]]  # type: ignore[index]
    assert [r.kind for r in meeting.received] == declared


def test_profiles_match_the_platform_facts() -> None:
    zoom, teams = CAPABILITIES["zoom"], CAPABILITIES["teams"]
    # Zoom: no server API for chat, polls or live breakout rooms; breaks pause the recording.
    assert [k for k in ACTION_KINDS if Channel.server_api in zoom[k]] == [
        "start_break",
        "end_break",
    ]
    assert zoom["open_breakouts"] == (Channel.bridge,)
    # Teams: breakout rooms cannot be automated at all.
    assert teams["open_breakouts"] == teams["close_breakouts"] == ()
    assert teams["say"] == (Channel.server_api, Channel.companion)


async def test_bridge_and_companion_carriers_act_on_the_meeting() -> None:
    world, meeting = started()
    meeting.advance_to(minutes(10))
    carriers = SimAdapter(world, "zoom").carriers()
    bridge = await carriers[Channel.bridge].carry("m1", Say("hi"))
    page = await carriers[Channel.companion].carry("m1", StartBreak(600, "Break"))
    assert bridge.outcome is Outcome.acknowledged and page.outcome is Outcome.delivered
    assert [(r.channel, r.kind) for r in meeting.received] == [
        (Channel.bridge, "say"),
        (Channel.companion, "start_break"),
    ]
    assert meeting.on_break
    with pytest.raises(ChannelError, match="companion"):
        await carriers[Channel.companion].carry("m1", CloseBreakouts())


async def test_adapter_fails_on_request_and_for_unknown_or_ended_meetings() -> None:
    world, meeting = started()
    with pytest.raises(ChannelError, match="simulated failure"):
        await SimAdapter(world, fail={"say"}).carry("m1", Say("x"))
    with pytest.raises(ChannelError, match="simulated failure"):
        await SimAdapter(world, fail=True).carry("m1", CloseBreakouts())
    await SimAdapter(world, fail={"bridge"}).carry("m1", Say("x"))  # server_api unaffected
    with pytest.raises(ChannelError, match="no simulated meeting"):
        await SimAdapter(world).carry("elsewhere", Say("x"))
    meeting.end(minutes(1))
    meeting.advance_to(minutes(2))
    with pytest.raises(ChannelError, match="ended"):
        await SimAdapter(world).carry("m1", Say("x"))
    assert [r.kind for r in meeting.received] == ["say"]


async def test_with_a_clock_people_react_from_when_the_action_landed() -> None:
    world, meeting = started(seed=2, size=10)
    before = meeting.advance_to(minutes(10))
    now = [minutes(40)]
    adapter = SimAdapter(world, clock=lambda: now[0])
    await adapter.carry("m1", OpenPoll("p", "Q", ("A", "B"), open_for=60))
    assert meeting.next_due() == minutes(40)  # what happened meanwhile waits to be handed out
    events = meeting.advance_to(minutes(41))
    answers = [e for e in events if isinstance(e, PollAnswer)]
    assert answers and all(minutes(40) < a.occurred_at <= minutes(41) for a in answers)
    between = [e for e in events if minutes(10) < e.occurred_at <= minutes(40)]
    assert between, "the scenario's own events between 10 and 40 minutes are not lost"
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert not {e.event_id for e in before} & {e.event_id for e in events}
    # Without a clock the same action lands at the meeting's last known time.
    world2, meeting2 = started(seed=2, size=10)
    meeting2.advance_to(minutes(10))
    await SimAdapter(world2).carry("m1", OpenPoll("p", "Q", ("A", "B"), open_for=60))
    late = [e for e in meeting2.advance_to(minutes(41)) if isinstance(e, PollAnswer)]
    assert all(a.occurred_at <= minutes(11) for a in late)


async def test_an_action_after_the_meeting_ended_meanwhile_is_refused() -> None:
    world, meeting = started(seed=2, size=4)
    adapter = SimAdapter(world, clock=lambda: minutes(500))
    with pytest.raises(ChannelError, match="ended"):
        await adapter.carry("m1", Say("anyone?"))
    assert isinstance(meeting.advance_to(minutes(501))[-1], MeetingEnded)


def test_world_registry() -> None:
    world = SimWorld()
    first = world.create(default_scenario(1, 3))
    second = world.create(default_scenario(2, 3))
    assert (first.meeting_ref, second.meeting_ref) == ("sim-1", "sim-2")
    assert world.get("sim-2") is second and "sim-1" in world
    assert world.meetings() == [first, second]
    with pytest.raises(ValueError, match="already exists"):
        world.create(default_scenario(1, 3), "sim-1")
    with pytest.raises(ValueError, match="unknown simulator profile"):
        SimAdapter(world, "webex")  # type: ignore[arg-type]


def test_a_whole_default_show_is_busy_but_sane() -> None:
    """A 90-minute cohort: counts, not times, so the demo has something to show."""
    _, meeting = started(seed=21, size=12)
    events = meeting.advance_to(minutes(10))
    meeting.receive(OpenPoll("k", "Q", ("A", "B", "C")), Channel.server_api)
    events += meeting.advance_to(minutes(200))
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["MeetingStarted"] == kinds["MeetingEnded"] == 1
    assert kinds["ParticipantJoined"] == 12
    assert kinds["PollAnswer"] >= 5 and kinds["ChatMessage"] >= 3
