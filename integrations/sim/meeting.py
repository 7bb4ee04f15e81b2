"""A meeting in-process: deterministic, seeded, and driven by whatever clock the caller has.

The meeting never reads the time. ``start(at)`` starts it, ``advance_to(t)`` returns the events
due up to ``t``, and actions received through ``receive`` (by the simulator's channels) make
people react over the following minutes: poll answers, room moves, commitments. Event ids are
derived from the meeting reference and the order things were scheduled, so the same scenario and
the same actions give the same ids, and ``redeliver`` can replay any event exactly.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from integrations.contract import (
    Action,
    Channel,
    ChatCommand,
    ChatMessage,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    EndBreak,
    InboundEvent,
    MeetingEnded,
    MeetingStarted,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    Platform,
    PollAnswer,
    Say,
    StartBreak,
    parse_command,
)
from integrations.sim.scenario import Scenario, ScriptedAnswer, ScriptedChat, ScriptedMove

REPLIES = (
    "Curious", "Focused", "Tired but here", "Energised", "Hopeful", "Busy week", "Ready",
    "Coffee first", "Excited", "Calm",
)  # fmt: skip
COMMITMENTS = (
    "I will book a 30-minute call with {who} before Friday.",
    "I will rewrite the first slide of my proposal using the stakeholder map.",
    "I will ask {who} for feedback on my draft by Wednesday.",
    "I will run a two-minute check-in at the start of my next team meeting.",
    "I will list the three objections I expect and draft an answer to each tomorrow.",
    "I will share today's notes with {who} this afternoon.",
)


class Status(StrEnum):
    created = "created"
    running = "running"
    ended = "ended"


@dataclass(frozen=True, slots=True)
class Received:
    """An action that reached the meeting, and through which channel."""

    at: datetime
    channel: Channel
    action: Action

    @property
    def kind(self) -> str:
        return self.action.kind


# What is scheduled: rendered into an event only when due, against the state at that moment.
@dataclass(frozen=True, slots=True)
class _Start:
    """The meeting starts."""


@dataclass(frozen=True, slots=True)
class _End:
    """The host ends the meeting for everyone."""


@dataclass(frozen=True, slots=True)
class _Join:
    who: str


@dataclass(frozen=True, slots=True)
class _Leave:
    who: str


@dataclass(frozen=True, slots=True)
class _Chat:
    who: str
    text: str


@dataclass(frozen=True, slots=True)
class _Answer:
    who: str
    poll_key: str
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Move:
    who: str
    room: str | None


_Intent = _Start | _End | _Join | _Leave | _Chat | _Answer | _Move


@dataclass(order=True, slots=True)
class _Pending:
    at: datetime
    seq: int
    event_id: str = field(compare=False)
    intent: _Intent = field(compare=False)
    tag: str = field(default="", compare=False)  # lets a later action cancel what is pending


class SimulatedMeeting:
    def __init__(self, scenario: Scenario, meeting_ref: str) -> None:
        self.scenario = scenario
        self.meeting_ref = meeting_ref
        self.status = Status.created
        self.started_at: datetime | None = None
        self.now: datetime | None = None
        self.present: dict[str, Participant] = {}
        self.rooms: dict[str, str] = {}  # participant id -> breakout room
        self.open_polls: dict[str, OpenPoll] = {}
        self.answers: dict[str, dict[str, tuple[str, ...]]] = {}  # poll key -> who -> choices
        self.commitments: dict[str, str] = {}  # participant id -> text
        self.collecting_commitments = False
        self.on_break = False
        self.received: list[Received] = []
        self.delivered: list[InboundEvent] = []
        self._pending: list[_Pending] = []
        self._outbox: list[InboundEvent] = []  # happened in catch_up, not yet handed out
        self._seq = 0
        self._actions = 0

    # -- the clock ------------------------------------------------------------------------

    def start(self, at: datetime) -> None:
        """Start the meeting at ``at``: schedules the start, the joins, the scenario's script."""
        if self.status is not Status.created:
            raise RuntimeError(f"meeting {self.meeting_ref} already {self.status}")
        at = _utc(at)
        self.status = Status.running
        self.started_at = self.now = at
        self._schedule(at, _Start(), "s0")
        for person in self.scenario.participants:
            self._schedule(
                at + timedelta(seconds=person.joins_at), _Join(person.id), f"j:{person.id}"
            )
            if person.leaves_at is not None:
                leave_at = at + timedelta(seconds=max(person.leaves_at, person.joins_at))
                self._schedule(leave_at, _Leave(person.id), f"l:{person.id}")
        for number, item in enumerate(self.scenario.script):
            when = at + timedelta(seconds=item.at)
            match item:
                case ScriptedChat():
                    intent: _Intent = _Chat(item.participant_id, item.text)
                case ScriptedAnswer():
                    intent = _Answer(item.participant_id, item.poll_key, item.choices)
                case ScriptedMove():
                    intent = _Move(item.participant_id, item.room)
            self._schedule(when, intent, f"c{number}")
        if self.scenario.ends_after is not None:
            self._schedule(at + timedelta(seconds=self.scenario.ends_after), _End(), "end")

    def end(self, at: datetime) -> None:
        """End the meeting at ``at`` (the host ends it for everyone)."""
        if self.status is Status.created:
            raise RuntimeError(f"meeting {self.meeting_ref} has not started")
        at = _utc(at)
        self._pending = [p for p in self._pending if not isinstance(p.intent, _End)]
        heapq.heapify(self._pending)
        self._schedule(at, _End(), "end")

    def advance_to(self, t: datetime) -> list[InboundEvent]:
        """The events that happened up to ``t``, in order. Time never goes back."""
        self.catch_up(t)
        events, self._outbox = self._outbox, []
        self.delivered.extend(events)
        return events

    def catch_up(self, t: datetime) -> None:
        """Let time pass up to ``t`` without handing the events out yet (the next
        ``advance_to`` returns them). Channels call it so reactions start from the present."""
        t = _utc(t)
        if self.status is Status.created:
            return
        if self.now is not None and t < self.now:
            t = self.now
        events = self._outbox
        while self._pending and self._pending[0].at <= t and self.status is Status.running:
            due = heapq.heappop(self._pending)
            self.now = due.at
            event = self._happen(due)
            if event is not None:
                events.append(event)
        if self.status is Status.ended:
            self._pending.clear()
        self.now = t

    def next_due(self) -> datetime | None:
        """When the next scheduled thing may happen (a caller's clock can sleep until then)."""
        if self._outbox:
            return self.now
        return self._pending[0].at if self._pending else None

    def redeliver(self, event_id: str | None = None) -> InboundEvent:
        """An event already delivered, again (the last one by default), as platforms retry."""
        if not self.delivered:
            raise LookupError("nothing delivered yet")
        if event_id is None:
            return self.delivered[-1]
        for event in self.delivered:
            if event.event_id == event_id:
                return event
        raise LookupError(event_id)

    # -- actions --------------------------------------------------------------------------

    def receive(self, action: Action, channel: Channel) -> str:
        """Apply ``action`` now; returns an id for what was done. The meeting must be running."""
        if self.status is not Status.running or self.now is None:
            raise RuntimeError(f"meeting {self.meeting_ref} is {self.status}")
        self._actions += 1
        number = self._actions
        self.received.append(Received(self.now, channel, action))
        rng = random.Random(f"{self.scenario.seed}:{self.meeting_ref}:{number}")
        prefix = f"a{number}"
        people = [self.scenario.participant(pid) for pid in sorted(self.present)]
        match action:
            case Say():
                for i, person in enumerate(p for p in people if p.talkative):
                    when = self._later(rng, 10, 90)
                    self._schedule(when, _Chat(person.id, rng.choice(REPLIES)), f"{prefix}.{i}")
            case OpenPoll():
                self.open_polls[action.poll_key] = action
                self.answers.setdefault(action.poll_key, {})
                window = max(10, min(action.open_for - 5, 90))
                for i, person in enumerate(p for p in people if p.answers_polls):
                    choices = _choose(rng, action)
                    self._schedule(
                        self._later(rng, 5, window),
                        _Answer(person.id, action.poll_key, choices),
                        f"{prefix}.{i}",
                        tag=f"poll:{action.poll_key}",
                    )
            case ClosePoll():
                self.open_polls.pop(action.poll_key, None)
                self._cancel(f"poll:{action.poll_key}")
            case OpenBreakouts():
                self._cancel("rooms")
                i = 0
                for room in action.rooms:
                    for pid in room.participant_ids:
                        if pid in self.present:
                            self._schedule(
                                self._later(rng, 5, 25),
                                _Move(pid, room.name),
                                f"{prefix}.{i}",
                                "rooms",
                            )
                            i += 1
                # Rooms close on their own when their time is up, as Zoom's option does.
                closing = self.now + timedelta(seconds=action.duration)
                for pid in sorted({p for r in action.rooms for p in r.participant_ids}):
                    if pid in self.present:
                        self._schedule(
                            closing + timedelta(seconds=rng.randint(5, 45)),
                            _Move(pid, None),
                            f"{prefix}.r{pid}",
                            "rooms",
                        )
            case CloseBreakouts():
                self._cancel("rooms")
                for i, pid in enumerate(sorted(self.rooms)):
                    self._schedule(
                        self._later(rng, 5, 45), _Move(pid, None), f"{prefix}.{i}", "rooms"
                    )
            case StartBreak():
                self.on_break = True
            case EndBreak():
                self.on_break = False
            case OpenCommitments():
                self.collecting_commitments = True
                window = max(20, min(action.collect_for - 10, 240))
                names = [p.participant.name.split()[0] for p in self.scenario.participants[:2]]
                for i, person in enumerate(p for p in people if p.commits):
                    text = rng.choice(COMMITMENTS).format(who=rng.choice(names))
                    self._schedule(
                        self._later(rng, 15, window),
                        _Chat(person.id, text),
                        f"{prefix}.{i}",
                        "commit",
                    )
            case CloseCommitments():
                self.collecting_commitments = False
                self._cancel("commit")
            case _:  # warnings and producer cues change nothing in the room
                pass
        return f"{self.meeting_ref}:{prefix}"

    # -- inside ---------------------------------------------------------------------------

    def _schedule(self, at: datetime, intent: _Intent, key: str, tag: str = "") -> None:
        self._seq += 1
        heapq.heappush(
            self._pending, _Pending(at, self._seq, f"{self.meeting_ref}:{key}", intent, tag)
        )

    def _cancel(self, tag: str) -> None:
        self._pending = [p for p in self._pending if p.tag != tag]
        heapq.heapify(self._pending)

    def _later(self, rng: random.Random, low: int, high: int) -> datetime:
        assert self.now is not None
        return self.now + timedelta(seconds=rng.randint(low, max(low, high)))

    def _happen(self, due: _Pending) -> InboundEvent | None:
        ref, eid, at, sim = self.meeting_ref, due.event_id, due.at, Platform.sim
        intent = due.intent
        match intent:
            case _Start():
                return MeetingStarted(platform=sim, meeting_ref=ref, event_id=eid, occurred_at=at)
            case _End():
                self.status = Status.ended
                self.present.clear()
                self.rooms.clear()
                return MeetingEnded(platform=sim, meeting_ref=ref, event_id=eid, occurred_at=at)
            case _Join(who=who):
                if who in self.present:
                    return None
                person = self.scenario.participant(who).participant
                self.present[who] = person
                return ParticipantJoined(
                    platform=sim, meeting_ref=ref, event_id=eid, occurred_at=at, participant=person
                )
        if intent.who not in self.present:  # only people in the meeting act
            return None
        person = self.present[intent.who]
        match intent:
            case _Leave(who=who):
                del self.present[who]
                return ParticipantLeft(
                    platform=sim,
                    meeting_ref=ref,
                    event_id=eid,
                    occurred_at=at,
                    participant_id=who,
                    room=self.rooms.pop(who, None),
                )
            case _Move(who=who, room=room):
                if self.rooms.get(who) == room:
                    return None
                if room is None:
                    del self.rooms[who]
                else:
                    self.rooms[who] = room
                return ParticipantMovedToRoom(
                    platform=sim,
                    meeting_ref=ref,
                    event_id=eid,
                    occurred_at=at,
                    participant_id=who,
                    room=room,
                )
            case _Answer(who=who, poll_key=key, choices=choices):
                self.answers.setdefault(key, {})[who] = choices
                return PollAnswer(
                    platform=sim,
                    meeting_ref=ref,
                    event_id=eid,
                    occurred_at=at,
                    poll_key=key,
                    participant_id=who,
                    choices=choices,
                )
            case _Chat(who=who, text=text):
                command = parse_command(text)
                if command is not None:
                    return ChatCommand(
                        platform=sim,
                        meeting_ref=ref,
                        event_id=eid,
                        occurred_at=at,
                        sender_id=who,
                        sender_name=person.name,
                        sender_email=person.email,
                        sender_role=person.role,
                        verb=command[0],
                        args=command[1],
                    )
                if self.collecting_commitments and due.tag == "commit":
                    self.commitments[who] = text
                return ChatMessage(
                    platform=sim,
                    meeting_ref=ref,
                    event_id=eid,
                    occurred_at=at,
                    sender_id=who,
                    sender_name=person.name,
                    sender_email=person.email,
                    sender_role=person.role,
                    text=text,
                )
        return None


def _choose(rng: random.Random, poll: OpenPoll) -> tuple[str, ...]:
    if not poll.options:
        return ()
    if poll.multiple:
        count = rng.randint(1, min(2, len(poll.options)))
        picked = set(rng.sample(range(len(poll.options)), count))
        return tuple(o for i, o in enumerate(poll.options) if i in picked)
    # A mild favourite, so results look like a real room rather than a flat line.
    weights = [len(poll.options) - i for i in range(len(poll.options))]
    return (rng.choices(poll.options, weights=weights)[0],)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("simulated meeting times must be timezone-aware")
    return at.astimezone(UTC)
