"""Who is in a simulated meeting and what they do on their own, from a seed.

Times are seconds after the meeting starts. What people do in answer to the bot's actions (poll
answers, room moves, commitments) is decided by the meeting when the action arrives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from integrations.contract import Participant, Role


@dataclass(frozen=True, slots=True)
class VirtualParticipant:
    participant: Participant
    joins_at: int = 0
    leaves_at: int | None = None  # None: stays to the end
    answers_polls: bool = True
    commits: bool = True
    talkative: bool = False  # answers the facilitator's chat prompts

    @property
    def id(self) -> str:
        return self.participant.id


@dataclass(frozen=True, slots=True)
class ScriptedChat:
    """A line typed in the chat; ``/fb ...`` lines come out as commands."""

    at: int
    participant_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ScriptedAnswer:
    at: int
    participant_id: str
    poll_key: str
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScriptedMove:
    at: int
    participant_id: str
    room: str | None  # None: back to the main room


Scripted = ScriptedChat | ScriptedAnswer | ScriptedMove


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    participants: tuple[VirtualParticipant, ...]
    script: tuple[Scripted, ...] = ()
    ends_after: int | None = None  # seconds; None: ends when told (SimulatedMeeting.end)

    def __post_init__(self) -> None:
        ids = [p.id for p in self.participants]
        if len(set(ids)) != len(ids):
            raise ValueError("participant ids must be unique")
        known = set(ids)
        for item in self.script:
            if item.participant_id not in known:
                raise ValueError(f"script names unknown participant {item.participant_id!r}")
            if item.at < 0:
                raise ValueError("script times are seconds after the start, not negative")

    def participant(self, participant_id: str) -> VirtualParticipant:
        for person in self.participants:
            if person.id == participant_id:
                return person
        raise KeyError(participant_id)


FIRST = (
    "Ana", "Ben", "Chen", "Dita", "Emeka", "Fatima", "Gustavo", "Hana", "Ibrahim", "Jonas",
    "Kavya", "Lars", "Mei", "Noor", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tomoko",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zofia",
)  # fmt: skip
LAST = (
    "Almeida", "Becker", "Costa", "Dubois", "Eze", "Fischer", "García", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Mensah", "Nakamura", "Okafor", "Petrov", "Rossi", "Singh",
    "Tanaka", "Usman", "Varga", "Wong", "Yilmaz", "Zhang",
)  # fmt: skip
DEPARTMENTS = ("Sales", "Finance", "Operations", "People", "Engineering")
TIME_ZONES = (
    "Europe/Berlin", "America/New_York", "Asia/Singapore", "Europe/London",
    "America/Los_Angeles", "Africa/Lagos", "Asia/Kolkata",
)  # fmt: skip
CHATTER = (
    "Can everyone hear the audio ok?",
    "Good point about the stakeholders.",
    "Could you share the slides afterwards?",
    "+1 to that",
    "We had exactly this problem last quarter.",
    "Is the recording going to be shared?",
    "Sorry, my connection dropped for a moment.",
    "Thanks, that framework is helpful.",
)


def default_scenario(
    seed: int,
    size: int = 12,
    *,
    length: int = 90 * 60,
    commands: tuple[tuple[int, str], ...] = ((25 * 60, "/fb extend 5"),),
    overrun: int | None = 60 * 60,
) -> Scenario:
    """A plausible cohort of ``size`` people (host and producer included) for ``length`` seconds.

    A quarter or so join late, a few leave early, some chat now and then, most answer polls and
    commit; the producer (a co-host) types ``commands`` at the given seconds. The host ends the
    meeting ``overrun`` seconds after ``length`` (shows run over: extensions, inserted breaks),
    or never by itself when ``overrun`` is None (call ``SimulatedMeeting.end``).
    """
    if size < 2:
        raise ValueError("a scenario needs at least a host and a producer")
    if size > len(FIRST) * len(LAST):
        raise ValueError(f"at most {len(FIRST) * len(LAST)} simulated participants")
    rng = random.Random(f"scenario:{seed}")
    names = _names(rng, size)
    people: list[VirtualParticipant] = []
    script: list[Scripted] = []
    for index, (first, last) in enumerate(names):
        role = Role.host if index == 0 else Role.cohost if index == 1 else Role.attendee
        staff = index < 2
        guest = not staff and rng.random() < 0.15
        email = None if guest else f"{first}.{last}@example.com".lower()
        participant = Participant(
            id=f"p{index + 1:03d}",
            name=f"{first} {last}",
            email=email,
            role=role,
            attributes={
                "department": "Facilitation" if staff else rng.choice(DEPARTMENTS),
                "timezone": rng.choice(TIME_ZONES),
            },
        )
        late = not staff and rng.random() < 0.25
        early = not staff and rng.random() < 0.1
        people.append(
            VirtualParticipant(
                participant,
                joins_at=rng.randint(60, 8 * 60) if late else 0 if staff else rng.randint(0, 45),
                leaves_at=rng.randint(int(length * 0.6), int(length * 0.9)) if early else None,
                answers_polls=not staff and rng.random() < 0.85,
                commits=not staff and rng.random() < 0.9,
                talkative=not staff and rng.random() < 0.4,
            )
        )
        if not staff and rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                script.append(
                    ScriptedChat(
                        rng.randint(5 * 60, max(5 * 60, length - 60)),
                        participant.id,
                        rng.choice(CHATTER),
                    )
                )
    producer = people[1].id
    script.extend(ScriptedChat(at, producer, text) for at, text in commands)
    script.sort(key=lambda item: (item.at, item.participant_id))
    ends_after = None if overrun is None else length + overrun
    return Scenario(seed, tuple(people), tuple(script), ends_after=ends_after)


def _names(rng: random.Random, size: int) -> list[tuple[str, str]]:
    pairs = [(first, last) for first in FIRST for last in LAST]
    rng.shuffle(pairs)
    chosen: list[tuple[str, str]] = []
    firsts: set[str] = set()
    for first, last in pairs:  # distinct first names while they last, for readable output
        if first not in firsts or len(firsts) == len(FIRST):
            firsts.add(first)
            chosen.append((first, last))
        if len(chosen) == size:
            break
    return chosen
