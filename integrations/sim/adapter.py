"""The simulator as a platform: a registry of simulated meetings and an adapter for them.

A profile makes the simulator behave like a platform's channels (DESIGN §2): ``full`` carries
everything through its server API; ``zoom`` carries only breaks server-side, the rest through
the in-client bridge and the companion page; ``teams`` carries chat, polls, breaks and
commitments through the bot, and breakout rooms only through the producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import count
from typing import Literal

from integrations.contract import (
    ACTION_KINDS,
    Action,
    ActionKind,
    Capabilities,
    Carrier,
    Channel,
    ChannelError,
    Delivery,
    Outcome,
    Platform,
)
from integrations.sim.meeting import SimulatedMeeting, Status
from integrations.sim.scenario import Scenario

Profile = Literal["full", "zoom", "teams"]
PROFILES: tuple[Profile, ...] = ("full", "zoom", "teams")

S, B, C = Channel.server_api, Channel.bridge, Channel.companion
# These mirror the real adapters' tables (integrations/zoom, integrations/teams) by value, so
# the simulator does not import the platform packages.
_ZOOM: dict[ActionKind, tuple[Channel, ...]] = {
    "say": (B, C),  # Zoom Apps SDK in the host's client, else the companion page
    "open_poll": (B, C),
    "close_poll": (B, C),
    # Only the bridge can open rooms; showing the assignment on the companion page would not
    # open them, so without a bridge the producer is cued.
    "open_breakouts": (B,),
    "warn_breakouts": (B, C),
    "close_breakouts": (B,),
    "start_break": (S, C),  # REST: pause the recording; the page shows the countdown
    "end_break": (S, C),
    "open_commitments": (C, B),
    "close_commitments": (C,),
    "producer_cue": (),
}
_TEAMS: dict[ActionKind, tuple[Channel, ...]] = {
    "say": (S, C),  # the bot's proactive message
    "open_poll": (S, C),  # an Adaptive Card from the bot
    "close_poll": (S, C),
    "open_breakouts": (),  # no API at all: the producer does it
    "warn_breakouts": (),
    "close_breakouts": (),
    "start_break": (S, C),
    "end_break": (S, C),
    "open_commitments": (S, C),
    "close_commitments": (S, C),
    "producer_cue": (),
}
_FULL: dict[ActionKind, tuple[Channel, ...]] = {
    kind: () if kind == "producer_cue" else (S,) for kind in ACTION_KINDS
}
CAPABILITIES: dict[Profile, Capabilities] = {"full": _FULL, "zoom": _ZOOM, "teams": _TEAMS}


class SimWorld:
    """The simulated meetings of one process, by meeting reference."""

    def __init__(self) -> None:
        self._meetings: dict[str, SimulatedMeeting] = {}
        self._numbers = count(1)

    def create(self, scenario: Scenario, meeting_ref: str | None = None) -> SimulatedMeeting:
        ref = meeting_ref or f"sim-{next(self._numbers)}"
        if ref in self._meetings:
            raise ValueError(f"a simulated meeting {ref!r} already exists")
        meeting = SimulatedMeeting(scenario, ref)
        self._meetings[ref] = meeting
        return meeting

    def get(self, meeting_ref: str) -> SimulatedMeeting:
        try:
            return self._meetings[meeting_ref]
        except KeyError:
            raise LookupError(f"no simulated meeting {meeting_ref!r}") from None

    def __contains__(self, meeting_ref: object) -> bool:
        return meeting_ref in self._meetings

    def meetings(self) -> list[SimulatedMeeting]:
        return list(self._meetings.values())


class SimAdapter:
    """The simulator's server-API channel for every meeting of ``world``.

    ``fail`` makes channels refuse with ChannelError: True for everything, or a set of action
    kinds (``"say"``), channels (``"bridge"``) or both (``"bridge/say"``);
    ``delay`` (seconds) makes it slow; ``stall`` makes it hang until cancelled. They exist to
    exercise fallbacks and timeouts. With a ``clock``, the meeting catches up to the clock's
    present before an action lands, so people react from the moment it was carried rather than
    from the last time the caller advanced the meeting.
    """

    platform = Platform.sim

    def __init__(
        self,
        world: SimWorld,
        profile: Profile = "full",
        *,
        fail: bool | Iterable[str] = (),
        delay: float = 0.0,
        stall: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if profile not in CAPABILITIES:
            raise ValueError(f"unknown simulator profile {profile!r}; choose from {PROFILES}")
        self.world = world
        self.profile: Profile = profile
        self.fail: bool | frozenset[str] = fail if isinstance(fail, bool) else frozenset(fail)
        self.delay = delay
        self.stall = stall
        self.clock = clock

    def capabilities(self) -> Capabilities:
        return CAPABILITIES[self.profile]

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        if Channel.server_api not in self.capabilities().get(action.kind, ()):
            raise ChannelError(
                f"{action.kind} is not possible through the {self.profile} server API"
            )
        return await _apply(self, meeting_ref, action, Channel.server_api, Outcome.delivered)

    def carriers(self, channels: Iterable[Channel] = (S, B, C)) -> dict[Channel, Carrier]:
        """Carriers for the simulator's other channels too: the bridge (the host's client) and
        the companion page both act on the simulated meeting. The producer cue is the caller's."""
        made: dict[Channel, Carrier] = {}
        for channel in channels:
            if channel is S:
                made[channel] = self
            elif channel in (B, C):
                made[channel] = _SimChannel(self, channel)
        return made


class _SimChannel:
    """The bridge or the companion page of a simulated meeting."""

    def __init__(self, adapter: SimAdapter, channel: Channel) -> None:
        self.adapter = adapter
        self.channel = channel

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        if self.channel not in self.adapter.capabilities().get(action.kind, ()):
            raise ChannelError(f"{action.kind} is not carried by the {self.channel}")
        # The bridge acknowledges what the host's client did; the page only shows it.
        outcome = Outcome.acknowledged if self.channel is B else Outcome.delivered
        return await _apply(self.adapter, meeting_ref, action, self.channel, outcome)


async def _apply(
    adapter: SimAdapter, meeting_ref: str, action: Action, channel: Channel, outcome: Outcome
) -> Delivery:
    if adapter.stall:
        await asyncio.Event().wait()
    if adapter.delay:
        await asyncio.sleep(adapter.delay)
    if adapter.fail is True or (
        adapter.fail and {action.kind, channel, f"{channel}/{action.kind}"} & adapter.fail
    ):
        raise ChannelError(f"simulated failure of {action.kind} on {channel}")
    try:
        meeting = adapter.world.get(meeting_ref)
    except LookupError as error:
        raise ChannelError(str(error)) from None
    if adapter.clock is not None:
        meeting.catch_up(adapter.clock())
    if meeting.status is not Status.running:
        raise ChannelError(f"meeting {meeting_ref} is {meeting.status}")
    external_id = meeting.receive(action, channel)
    return Delivery(
        channel, outcome, detail="applied to the simulated meeting", external_id=external_id
    )
