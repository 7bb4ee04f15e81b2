"""The simulator's harness: the standard scenario as a seeded scenario, once per profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from integrations.contract import InboundEvent, Participant, Platform, Role
from integrations.sim import (
    PROFILES,
    Profile,
    Scenario,
    ScriptedAnswer,
    ScriptedChat,
    ScriptedMove,
    SimAdapter,
    SimulatedMeeting,
    SimWorld,
    VirtualParticipant,
)

from .harness import (
    CHAT_TEXT,
    COMMAND_TEXT,
    GUEST_NAME,
    HOST_EMAIL,
    HOST_NAME,
    POLL_ANSWERS,
    POLL_CHOICE,
    ROOM_MOVES,
    ROOM_NAME,
)

VARIANTS: tuple[str, ...] = PROFILES
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOST = Participant("host-1", HOST_NAME, HOST_EMAIL, Role.host, {"department": "Facilitation"})
GUEST = Participant("guest-1", GUEST_NAME, None, Role.attendee, {"department": "Sales"})


def standard_scenario() -> Scenario:
    return Scenario(
        seed=7,
        participants=(
            VirtualParticipant(HOST, joins_at=0, answers_polls=False, commits=False),
            VirtualParticipant(GUEST, joins_at=10, leaves_at=100, answers_polls=False),
        ),
        script=(
            ScriptedChat(30, GUEST.id, CHAT_TEXT),
            ScriptedChat(40, HOST.id, COMMAND_TEXT),
            ScriptedAnswer(50, GUEST.id, "poll-1", (POLL_CHOICE,)),
            ScriptedMove(60, GUEST.id, ROOM_NAME),
        ),
        ends_after=120,
    )


class SimHarness:
    platform = Platform.sim
    supports = frozenset({POLL_ANSWERS, ROOM_MOVES})
    secrets: tuple[str, ...] = ()  # the simulator holds none
    meeting_ref = "sim-contract"

    def __init__(self, profile: Profile) -> None:
        self.world = SimWorld()
        self.adapter = SimAdapter(self.world, profile)
        self.meeting: SimulatedMeeting = self.world.create(standard_scenario(), self.meeting_ref)

    async def __aenter__(self) -> Self:
        self.meeting.start(START)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def play_standard_scenario(self) -> list[InboundEvent]:
        return self.meeting.advance_to(START + timedelta(minutes=10))

    async def replay_last(self) -> list[InboundEvent]:
        return [self.meeting.redeliver()]

    async def reached_platform(self) -> list[str]:
        return [received.kind for received in self.meeting.received]


def make_harness(variant: str) -> SimHarness:
    for profile in PROFILES:
        if profile == variant:
            return SimHarness(profile)
    raise ValueError(f"unknown simulator profile {variant!r}")
