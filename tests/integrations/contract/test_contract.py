"""The contract suite: every platform adapter (the simulator included) must pass it.

``conftest.py`` runs each test once per ``harness_*.py`` module; ``harness.py`` says what a
harness provides. The checks are plain functions of a harness so ``test_meta.py`` can show that
they fail for deliberately broken adapters.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import get_args

import pytest

from integrations.contract import (
    ACTION_KINDS,
    Action,
    ActionKind,
    Carrier,
    Channel,
    ChannelError,
    ChatCommand,
    ChatMessage,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    Delivery,
    EndBreak,
    InboundEvent,
    MeetingEnded,
    MeetingStarted,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Outcome,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    PollAnswer,
    ProducerCue,
    Room,
    Say,
    StartBreak,
    WarnBreakouts,
)
from integrations.routing import CueLog, RouteResult, channels_for, route

from .harness import (
    CHAT_TEXT,
    GUEST_NAME,
    HOST_EMAIL,
    HOST_NAME,
    OPTIONAL_FEATURES,
    POLL_ANSWERS,
    POLL_CHOICE,
    ROOM_MOVES,
    ROOM_NAME,
    PlatformHarness,
)

EVENT_TYPES = get_args(InboundEvent)
TIMEOUT = 10.0  # per channel; generous, nothing here measures time

SAMPLES: dict[ActionKind, Action] = {
    "say": Say("Contract check: in one word, how are you arriving?"),
    "open_poll": OpenPoll("contract-poll", "Ready to start?", ("Yes", "No"), open_for=60),
    "close_poll": ClosePoll("contract-poll"),
    "open_breakouts": OpenBreakouts(
        (
            Room("Room 1", ("contract-p1", "contract-p2"), ("Ana Host", "Ben Guest")),
            Room("Room 2", ("contract-p3", "contract-p4"), ("Chen", "Dita")),
        ),
        duration=600,
    ),
    "warn_breakouts": WarnBreakouts(60, "One minute left in your room."),
    "close_breakouts": CloseBreakouts(),
    "start_break": StartBreak(600, "Break: back in 10 minutes."),
    "end_break": EndBreak("Welcome back."),
    "open_commitments": OpenCommitments("Type one action you will take in 48 hours.", 300),
    "close_commitments": CloseCommitments(),
    "producer_cue": ProducerCue("Contract check: look at the chat.", paste="Thanks!"),
}
#: what must have happened before an action makes sense on a platform
PREREQUISITES: dict[ActionKind, tuple[ActionKind, ...]] = {
    "close_poll": ("open_poll",),
    "warn_breakouts": ("open_breakouts",),
    "close_breakouts": ("open_breakouts",),
    "end_break": ("start_break",),
    "close_commitments": ("open_commitments",),
}
OK_OUTCOMES = {Outcome.delivered, Outcome.acknowledged, Outcome.pending}


def test_samples_cover_every_action_kind() -> None:
    assert set(SAMPLES) == set(ACTION_KINDS)
    assert all(action.kind == kind for kind, action in SAMPLES.items())


# ---------------------------------------------------------------------------------------------
# Checks, one function each, so the meta test can run them against broken adapters


async def check_identity(h: PlatformHarness) -> None:
    assert h.adapter.platform == h.platform
    assert h.meeting_ref, "the harness must name its meeting"
    assert h.supports <= OPTIONAL_FEATURES, f"unknown features {h.supports - OPTIONAL_FEATURES}"


async def check_capabilities(h: PlatformHarness) -> None:
    capabilities = h.adapter.capabilities()
    missing = set(ACTION_KINDS) - set(capabilities)
    assert not missing, f"capabilities must declare every action kind, missing {sorted(missing)}"
    unknown = set(capabilities) - set(ACTION_KINDS)
    assert not unknown, f"capabilities declare unknown action kinds {sorted(unknown)}"
    for kind, channels in capabilities.items():
        assert isinstance(channels, tuple), f"{kind}: channels must be a tuple"
        assert all(isinstance(c, Channel) for c in channels), f"{kind}: not Channel values"
        assert len(set(channels)) == len(channels), f"{kind}: a channel is listed twice"
        if Channel.producer_cue in channels:
            assert channels[-1] is Channel.producer_cue, f"{kind}: producer_cue must be last"


async def check_events_are_contract_types(h: PlatformHarness) -> None:
    events = await h.play_standard_scenario()
    assert events, "the standard scenario produced no events"
    for event in events:
        assert isinstance(event, EVENT_TYPES), f"not a contract event: {type(event).__name__}"
        assert event.platform == h.platform, f"{event.event_id}: platform {event.platform}"
        assert event.meeting_ref == h.meeting_ref, f"{event.event_id}: {event.meeting_ref!r}"
        assert isinstance(event.event_id, str) and event.event_id, "event_id must be non-empty"
        when = event.occurred_at
        assert when.tzinfo is not None, f"{event.event_id}: naive occurred_at"
        assert when.utcoffset() == timedelta(0), f"{event.event_id}: occurred_at not UTC"


async def check_event_ids_unique(h: PlatformHarness) -> None:
    events = await h.play_standard_scenario()
    counts = Counter(event.event_id for event in events)
    doubled = [event_id for event_id, n in counts.items() if n > 1]
    assert not doubled, f"event ids used twice: {doubled}"


async def check_replay_is_stable(h: PlatformHarness) -> None:
    events = await h.play_standard_scenario()
    by_id = {event.event_id: event for event in events}
    replayed = await h.replay_last()
    assert replayed, "redelivering the last message produced no event"
    for event in replayed:
        assert event.event_id in by_id, f"redelivery produced a new event id {event.event_id!r}"
        assert event == by_id[event.event_id], f"redelivered {event.event_id} differs"


async def check_standard_scenario(h: PlatformHarness) -> None:
    events = await h.play_standard_scenario()
    kinds = Counter(type(event) for event in events)
    assert kinds[MeetingStarted] == 1, "one MeetingStarted expected"
    assert kinds[MeetingEnded] == 1, "one MeetingEnded expected"
    assert isinstance(events[0], MeetingStarted), "the meeting starts first"
    assert isinstance(events[-1], MeetingEnded), "the meeting ends last"

    joined = [e for e in events if isinstance(e, ParticipantJoined)]
    names = {e.participant.name: e.participant for e in joined}
    assert {HOST_NAME, GUEST_NAME} <= set(names), f"joined: {sorted(names)}"
    host, guest = names[HOST_NAME], names[GUEST_NAME]
    assert host.email == HOST_EMAIL, f"host email {host.email!r}"
    assert guest.email is None, "the guest joined without an email"
    assert host.id and guest.id and host.id != guest.id, "participants need distinct ids"

    chats = [e for e in events if isinstance(e, ChatMessage)]
    assert [c.text.strip() for c in chats] == [CHAT_TEXT], f"chat: {[c.text for c in chats]}"
    assert chats[0].sender_id == guest.id or chats[0].sender_name == GUEST_NAME

    commands = [e for e in events if isinstance(e, ChatCommand)]
    assert len(commands) == 1, f"one ChatCommand expected, got {len(commands)}"
    command = commands[0]
    assert (command.verb, command.args) == ("extend", ("5",))
    assert command.sender_id == host.id or command.sender_name == HOST_NAME

    answers = [e for e in events if isinstance(e, PollAnswer)]
    if POLL_ANSWERS in h.supports:
        assert len(answers) == 1, f"one PollAnswer expected, got {len(answers)}"
        assert answers[0].poll_key, "a poll answer names its poll"
        assert answers[0].choices == (POLL_CHOICE,)
        assert answers[0].participant_id == guest.id
    else:
        assert not answers, "poll answers produced but not declared in supports"

    moves = [e for e in events if isinstance(e, ParticipantMovedToRoom)]
    if ROOM_MOVES in h.supports:
        assert [(m.participant_id, m.room) for m in moves] == [(guest.id, ROOM_NAME)]
    else:
        assert not moves, "room moves produced but not declared in supports"

    left = [e for e in events if isinstance(e, ParticipantLeft)]
    assert [e.participant_id for e in left] == [guest.id], "the guest leaves, once"


async def check_route(h: PlatformHarness, kind: ActionKind) -> None:
    """Routing through the adapter carries the action exactly once, somewhere."""
    capabilities = h.adapter.capabilities()
    for before in PREREQUISITES.get(kind, ()):
        await _route(h, before, CueLog())
    reached_before = await h.reached_platform()
    cues = CueLog()
    result = await _route(h, kind, cues)
    delivery = result.delivery
    assert delivery.outcome in OK_OUTCOMES, f"{kind} not carried: {delivery.detail}"
    successes = [a for a in result.attempts if a.ok]
    assert len(successes) == 1 and result.attempts[-1].ok, f"{kind}: {result.attempts}"
    assert delivery.channel == successes[0].channel, f"{kind}: delivery names another channel"
    for attempt in result.attempts:
        assert not attempt.reason.startswith("unexpected"), f"{kind}: adapter raised {attempt}"
    _assert_no_secret(h, kind, delivery, *(a.reason for a in result.attempts))

    reached = (await h.reached_platform())[len(reached_before) :]
    if delivery.channel is Channel.server_api:
        assert reached == [kind], f"{kind} delivered by server_api but the platform saw {reached}"
        assert not cues.cues, f"{kind}: carried by the platform and also cued"
    else:
        assert delivery.channel is Channel.producer_cue
        assert reached == [], f"{kind} fell back but reached the platform too: {reached}"
        assert len(cues.cues) == 1, f"{kind}: one producer cue expected"
        if Channel.server_api in capabilities.get(kind, ()):
            assert result.attempts[0].channel is Channel.server_api


async def check_declared_server_api(h: PlatformHarness, kind: ActionKind) -> None:
    """What capabilities say the server API carries really reaches the platform."""
    for before in PREREQUISITES.get(kind, ()):
        await _route(h, before, CueLog())
    reached_before = await h.reached_platform()
    try:
        delivery = await h.adapter.carry(h.meeting_ref, SAMPLES[kind])
    except ChannelError as error:
        pytest.fail(f"{kind}: declared on server_api but refused: {error.reason}")
    assert isinstance(delivery, Delivery)
    assert delivery.channel is Channel.server_api, f"{kind}: adapter delivered on {delivery}"
    assert delivery.outcome in OK_OUTCOMES, f"{kind}: {delivery.outcome}"
    _assert_no_secret(h, kind, delivery)
    reached = (await h.reached_platform())[len(reached_before) :]
    assert reached == [kind], f"{kind}: declared server_api, the platform saw {reached}"


async def check_undeclared_refused(h: PlatformHarness, kind: ActionKind) -> None:
    """An action not declared on server_api is refused with ChannelError, and nothing else."""
    reached_before = await h.reached_platform()
    try:
        delivery = await h.adapter.carry(h.meeting_ref, SAMPLES[kind])
    except ChannelError as error:
        assert error.reason, f"{kind}: a ChannelError needs a reason"
        _assert_no_secret(h, kind, None, error.reason, str(error))
    except Exception as error:
        pytest.fail(f"{kind}: carry raised {type(error).__name__}, not ChannelError")
    else:
        pytest.fail(f"{kind}: carried ({delivery.outcome}) but not declared on server_api")
    reached = (await h.reached_platform())[len(reached_before) :]
    assert reached == [], f"{kind} refused but reached the platform: {reached}"


async def check_server_api(h: PlatformHarness, kind: ActionKind) -> None:
    """Declared on server_api: it reaches the platform. Not declared: ChannelError, nothing else."""
    if Channel.server_api in h.adapter.capabilities().get(kind, ()):
        await check_declared_server_api(h, kind)
    else:
        await check_undeclared_refused(h, kind)


async def _route(h: PlatformHarness, kind: ActionKind, cues: CueLog) -> RouteResult:
    available = {Channel.server_api, Channel.producer_cue}
    order = channels_for(h.adapter.capabilities(), kind, available)
    carriers: dict[Channel, Carrier] = {Channel.server_api: h.adapter, Channel.producer_cue: cues}
    return await route(h.meeting_ref, SAMPLES[kind], order, carriers, timeout=TIMEOUT)


def _assert_no_secret(
    h: PlatformHarness, kind: str, delivery: Delivery | None, *texts: str
) -> None:
    exposed = [*texts]
    if delivery is not None:
        exposed += [delivery.detail, delivery.external_id or ""]
    for secret in h.secrets:
        assert secret, "an empty secret in the harness"
        for text in exposed:
            assert secret not in text, f"{kind}: a secret appears in {text[:20]!r}…"


# ---------------------------------------------------------------------------------------------
# The suite


async def test_identity(harness: PlatformHarness) -> None:
    await check_identity(harness)


async def test_capabilities_declare_every_action_kind(harness: PlatformHarness) -> None:
    await check_capabilities(harness)


async def test_events_are_contract_types(harness: PlatformHarness) -> None:
    await check_events_are_contract_types(harness)


async def test_event_ids_unique(harness: PlatformHarness) -> None:
    await check_event_ids_unique(harness)


async def test_replay_is_stable(harness: PlatformHarness) -> None:
    await check_replay_is_stable(harness)


async def test_standard_scenario(harness: PlatformHarness) -> None:
    await check_standard_scenario(harness)


@pytest.mark.parametrize("kind", ACTION_KINDS)
async def test_route(harness: PlatformHarness, kind: ActionKind) -> None:
    await check_route(harness, kind)


@pytest.mark.parametrize("kind", ACTION_KINDS)
async def test_server_api_keeps_to_capabilities(harness: PlatformHarness, kind: ActionKind) -> None:
    await check_server_api(harness, kind)
