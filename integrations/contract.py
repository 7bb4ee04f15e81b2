"""The contract between the engine and the platforms, in one place.

* **Events** come in: each platform adapter verifies its own wire format and turns it into
  these normalised, typed events. ``event_id`` is stable across redelivery, so the service can
  de-duplicate on (platform, event_id).
* **Actions** go out: the engine decides *what* should happen; routing decides *which channel*
  carries it (DESIGN §2): the platform's server API, the in-client bridge (the producer console
  running as a Zoom App), the participants' companion page, and finally a producer cue. A
  producer cue can always be shown, so no action is ever silently dropped.
* **Capabilities** say, per platform and per action, which channels can carry it, in the order
  they are tried.

This module imports nothing from the rest of facilbot and nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol


class Platform(StrEnum):
    zoom = "zoom"
    teams = "teams"
    sim = "sim"


class Channel(StrEnum):
    server_api = "server_api"  # Zoom REST, Microsoft Graph, Bot Connector, the simulator
    bridge = "bridge"  # the producer console inside the host's client (Zoom Apps SDK)
    companion = "companion"  # the participants' companion page
    producer_cue = "producer_cue"  # shown to the producer with text to paste and a done button


class Role(StrEnum):
    host = "host"
    cohost = "cohost"
    attendee = "attendee"


# ---------------------------------------------------------------------------------------------
# Events in


@dataclass(frozen=True, slots=True)
class Participant:
    id: str  # the platform's stable id for this person in this meeting
    name: str
    email: str | None = None
    role: Role = Role.attendee
    attributes: Mapping[str, str] = field(default_factory=dict)  # e.g. department, timezone


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    platform: Platform
    meeting_ref: str  # the platform's meeting id (Zoom meeting id, Teams chat thread id, sim id)
    event_id: str  # stable across redelivery: the de-duplication key with the platform
    occurred_at: datetime  # aware, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingStarted(Event):
    """The meeting began (Zoom ``meeting.started``, Teams ``meetingStart``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingEnded(Event):
    """The meeting ended for everyone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantJoined(Event):
    participant: Participant
    room: str | None = None  # a breakout room's name when joined into a room


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantLeft(Event):
    participant_id: str
    room: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantMovedToRoom(Event):
    participant_id: str
    room: str | None  # None: back in the main room


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage(Event):
    sender_id: str
    sender_name: str
    text: str
    sender_email: str | None = None
    sender_role: Role | None = None  # when the platform tells us


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCommand(Event):
    """A producer command typed into the chat, e.g. ``/fb extend 5``. Authorisation is the
    engine's job (host or named producer); the adapter only recognises the syntax."""

    sender_id: str
    sender_name: str
    verb: str
    args: tuple[str, ...]
    sender_email: str | None = None
    sender_role: Role | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PollAnswer(Event):
    poll_key: str  # the instant key of the poll cue
    participant_id: str
    choices: tuple[str, ...]


InboundEvent = (
    MeetingStarted
    | MeetingEnded
    | ParticipantJoined
    | ParticipantLeft
    | ParticipantMovedToRoom
    | ChatMessage
    | ChatCommand
    | PollAnswer
)

COMMAND_PREFIX = "/fb"
_COMMAND = re.compile(r"^\s*/fb(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


def parse_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """``/fb extend 5`` -> ("extend", ("5",)); anything not starting with /fb -> None."""
    match = _COMMAND.match(text)
    if not match:
        return None
    words = (match[1] or "").split()
    if not words:
        return ("help", ())
    return (words[0].lower(), tuple(words[1:]))


# ---------------------------------------------------------------------------------------------
# Actions out


@dataclass(frozen=True, slots=True)
class Room:
    name: str
    participant_ids: tuple[str, ...]
    #: display names aligned with ``participant_ids`` (for producer cues and pages); may be empty
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    kind: Literal["say"] = "say"


@dataclass(frozen=True, slots=True)
class OpenPoll:
    poll_key: str
    question: str
    options: tuple[str, ...]
    multiple: bool = False
    anonymous: bool = False
    open_for: int = 120  # seconds
    kind: Literal["open_poll"] = "open_poll"


@dataclass(frozen=True, slots=True)
class ClosePoll:
    poll_key: str
    kind: Literal["close_poll"] = "close_poll"


@dataclass(frozen=True, slots=True)
class OpenBreakouts:
    """Create the rooms, assign people and open them (one step for the producer)."""

    rooms: tuple[Room, ...]
    duration: int  # seconds until they close
    kind: Literal["open_breakouts"] = "open_breakouts"


@dataclass(frozen=True, slots=True)
class WarnBreakouts:
    seconds_left: int
    text: str
    kind: Literal["warn_breakouts"] = "warn_breakouts"


@dataclass(frozen=True, slots=True)
class CloseBreakouts:
    kind: Literal["close_breakouts"] = "close_breakouts"


@dataclass(frozen=True, slots=True)
class StartBreak:
    duration: int  # seconds
    text: str
    kind: Literal["start_break"] = "start_break"


@dataclass(frozen=True, slots=True)
class EndBreak:
    text: str
    kind: Literal["end_break"] = "end_break"


@dataclass(frozen=True, slots=True)
class OpenCommitments:
    prompt: str
    collect_for: int  # seconds
    kind: Literal["open_commitments"] = "open_commitments"


@dataclass(frozen=True, slots=True)
class CloseCommitments:
    kind: Literal["close_commitments"] = "close_commitments"


@dataclass(frozen=True, slots=True)
class ProducerCue:
    """Something only the producer sees; ``paste`` is ready-made text for the meeting."""

    text: str
    paste: str | None = None
    kind: Literal["producer_cue"] = "producer_cue"


Action = (
    Say
    | OpenPoll
    | ClosePoll
    | OpenBreakouts
    | WarnBreakouts
    | CloseBreakouts
    | StartBreak
    | EndBreak
    | OpenCommitments
    | CloseCommitments
    | ProducerCue
)
ActionKind = Literal[
    "say",
    "open_poll",
    "close_poll",
    "open_breakouts",
    "warn_breakouts",
    "close_breakouts",
    "start_break",
    "end_break",
    "open_commitments",
    "close_commitments",
    "producer_cue",
]
ACTION_KINDS: tuple[ActionKind, ...] = (
    "say",
    "open_poll",
    "close_poll",
    "open_breakouts",
    "warn_breakouts",
    "close_breakouts",
    "start_break",
    "end_break",
    "open_commitments",
    "close_commitments",
    "producer_cue",
)

#: For each action, the channels that can carry it on one platform, in the order tried.
#: ``producer_cue`` is implicit at the end of every list and need not be written.
Capabilities = Mapping[ActionKind, tuple[Channel, ...]]


class Outcome(StrEnum):
    delivered = "delivered"  # the channel accepted it
    acknowledged = "acknowledged"  # a person or the bridge confirmed it happened
    pending = "pending"  # handed to an asynchronous channel (bridge, producer) awaiting ack
    failed = "failed"
    missed = "missed"  # a producer cue nobody marked done before its moment passed


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: Channel
    outcome: Outcome
    detail: str = ""  # a short reason; never a token or a full payload
    external_id: str | None = None  # the platform's id for what was created (message id, poll id)


class ChannelError(Exception):
    """A channel could not carry an action; routing falls back to the next channel.

    ``retry_after`` is set when the platform asked us to wait (HTTP 429).
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Carrier(Protocol):
    """Something that can carry actions on one channel for one meeting."""

    async def carry(self, meeting_ref: str, action: Action) -> Delivery: ...


class MeetingAdapter(Carrier, Protocol):
    """A platform adapter: its capabilities and its server-API channel."""

    platform: Platform

    def capabilities(self) -> Capabilities: ...

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        """Carry ``action`` through the platform's server API, or raise ChannelError."""
        ...
