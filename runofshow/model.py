"""The typed model of a run-of-show.

Every model forbids unknown keys (the loader turns pydantic's complaint into a "did you mean"
message with the file position). Durations are whole seconds (see ``durations``).

Checks that span several fields (a cue outside its segment, duplicate ids, two actions on one
cue) raise a ``show_rule`` error carrying every :class:`RuleViolation` found, each with the
path *inside the model that found it*, so the loader can point at the exact key or value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from runofshow.durations import DURATION_JSON_SCHEMA, Duration, Offset, format_duration

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Identifier = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="lower-case letters, digits, '-' and '_'; unique in the show",
    ),
]


#: A location relative to the model that reports it (same shape as ``schedule.Path``).
RelPath = tuple[str | int, ...]

#: The pydantic error type of a cross-field check (its ``ctx["violations"]`` lists them all).
SHOW_RULE = "show_rule"


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """One cross-field problem, at ``where`` relative to the model that found it."""

    where: RelPath
    message: str
    on_key: bool = False  # point at the key rather than its value
    first: RelPath | None = None  # for duplicates: where the first one is


def _refuse(violations: list[RuleViolation]) -> PydanticCustomError:
    summary = "; ".join(v.message for v in violations)
    return PydanticCustomError(
        SHOW_RULE, "{summary}", {"summary": summary, "violations": tuple(violations)}
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SegmentKind(StrEnum):
    connection = "connection"
    talk = "talk"
    activity = "activity"
    discussion = "discussion"
    breakout = "breakout"
    break_ = "break"
    commitments = "commitments"


#: Segment kinds in which participants are active the whole time (count as interaction).
INTERACTIVE_KINDS = frozenset(
    {
        SegmentKind.connection,
        SegmentKind.activity,
        SegmentKind.discussion,
        SegmentKind.breakout,
        SegmentKind.commitments,
    }
)


class Severity(StrEnum):
    off = "off"
    advice = "advice"
    warning = "warning"
    error = "error"


_BREAK_RULE = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]+)\s*$")
_BREAK_RULE_SCHEMA = {
    "anyOf": [
        {
            "type": "string",
            "pattern": _BREAK_RULE.pattern,
            "description": "WORK/REST minutes, e.g. 50/10",
            "examples": ["50/10", "90/20"],
        },
        {
            "type": "object",
            "properties": {"work": DURATION_JSON_SCHEMA, "rest": DURATION_JSON_SCHEMA},
            "required": ["work", "rest"],
            "additionalProperties": False,
        },
    ]
}


class BreakRule(Strict):
    """At most ``work`` minutes of continuous non-break time, then a break of ``rest`` minutes."""

    work: Duration
    rest: Duration

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            match = _BREAK_RULE.match(value)
            if not match:
                raise ValueError(
                    f"{value!r} is not a break rule; write WORK/REST minutes, e.g. 50/10"
                )
            return {"work": f"{match[1]}m", "rest": f"{match[2]}m"}
        return value

    def __str__(self) -> str:
        return f"{self.work // 60}/{self.rest // 60}"


def _percent(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write e.g. 20%") from None
    return value


_PERCENT_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 100},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
    ],
    "examples": ["20%"],
}


class Rules(Strict):
    """The practices the linter checks and the live guards keep."""

    interaction_gap: Duration = Field(420, description="longest stretch without an interaction")
    breaks: list[Annotated[BreakRule, WithJsonSchema(_BREAK_RULE_SCHEMA)]] = Field(
        default_factory=lambda: [BreakRule(work=3000, rest=600), BreakRule(work=5400, rest=1200)],
        description='break rules as "WORK/REST" minutes',
    )
    connection_within: Duration = Field(600, description="a connection activity starts by then")
    commitments_within: Duration = Field(
        600, description="commitments start at most this long before the end"
    )
    talk_share_max: Annotated[float, WithJsonSchema(_PERCENT_SCHEMA)] = Field(
        20.0, ge=0, le=100, description="facilitator talk, % of non-break time"
    )
    segments_per_3h: int = Field(
        6, ge=1, description="distinct activity segments expected per 3 hours"
    )
    late_grace: Duration = Field(
        120, description="a prompt due longer ago than this is skipped, not fired late"
    )

    _pct = field_validator("talk_share_max", mode="before")(_percent)


class Access(Strict):
    """Accessibility and the asynchronous alternative for people who could not attend."""

    recording: bool | None = None
    captions: bool | None = None
    transcript: bool | None = None


class PreworkLink(Strict):
    title: str
    url: str
    due_before: Duration | None = Field(None, description="how long before the session it is due")


class ProducerNotes(Strict):
    """What the producer needs to know to run a segment well."""

    watch_for: str | None = None
    keep_same: str | None = Field(None, description="what must stay the same across cohorts")
    flex: str | None = Field(None, description="where the producer may flex")


class Poll(Strict):
    question: str = Field(min_length=1)
    options: list[str]
    multiple: bool = Field(False, description="participants may pick more than one option")
    anonymous: bool = False
    open_for: Duration = Field(120, description="how long the poll stays open")


class Assign(Strict):
    """How participants are put into rooms: ``random``, mixed by an attribute, or a given list."""

    random: bool | None = None
    mix_by: str | None = Field(
        None, description="participant attribute to spread across rooms, e.g. department"
    )
    rooms: list[list[str]] | None = Field(
        None, description="explicit rooms, by participant name or email"
    )

    @model_validator(mode="after")
    def _one_method(self) -> Assign:
        chosen = [n for n in ("random", "mix_by", "rooms") if getattr(self, n) not in (None, False)]
        if len(chosen) > 1:
            message = f"choose one assignment method, not {' and '.join(chosen)}"
            raise _refuse([RuleViolation((chosen[1],), message, on_key=True)])
        return self

    @property
    def method(self) -> Literal["random", "mix_by", "rooms"]:
        if self.mix_by:
            return "mix_by"
        if self.rooms:
            return "rooms"
        return "random"


class Breakout(Strict):
    size: int | None = Field(None, ge=2, le=50, description="people per room")
    rooms: int | None = Field(None, ge=1, le=100, description="number of rooms")
    assign: Assign = Field(default_factory=Assign)
    duration: Duration | None = Field(None, description="defaults to the rest of the segment")
    warn_before_close: Offset = Field(120, description="warn the rooms this long before they close")

    @model_validator(mode="after")
    def _size_or_rooms(self) -> Breakout:
        if self.size is not None and self.rooms is not None:
            message = "give either size (people per room) or rooms (number of rooms), not both"
            raise _refuse([RuleViolation(("rooms",), message, on_key=True)])
        return self


class BreakCue(Strict):
    duration: Duration


class Commitments(Strict):
    prompt: str = Field(
        "Type one specific action you will take in the next 48 hours.", min_length=1
    )
    collect_for: Duration | None = Field(None, description="defaults to the rest of the segment")


CueAction = Literal["say", "poll", "breakout", "break", "commitments", "producer"]
CUE_ACTIONS: tuple[CueAction, ...] = ("say", "poll", "breakout", "break", "commitments", "producer")


class Cue(Strict):
    """One thing that happens at an offset inside its segment. Exactly one action key."""

    id: Identifier | None = Field(None, description="defaults to <segment id>-<position>")
    at: Offset = Field(description="offset from the start of the segment")
    say: str | None = Field(None, min_length=1, description="chat prompt to everyone")
    poll: Poll | None = None
    breakout: Breakout | None = None
    break_: BreakCue | None = Field(None, alias="break")
    commitments: Commitments | None = None
    producer: str | None = Field(None, min_length=1, description="a cue only the producer sees")
    producer_notes: str | ProducerNotes | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Cue:
        present = [a for a in CUE_ACTIONS if self.payload_for(a) is not None]
        if not present:
            message = f"a cue needs exactly one action: one of {', '.join(CUE_ACTIONS)}"
            raise _refuse([RuleViolation((), message)])
        if len(present) > 1:
            message = f"a cue has exactly one action, this one has {' and '.join(present)}"
            raise _refuse([RuleViolation((present[1],), message, on_key=True)])
        return self

    def payload_for(self, action: CueAction) -> object | None:
        return self.break_ if action == "break" else getattr(self, action)

    @property
    def action(self) -> CueAction:
        return next(a for a in CUE_ACTIONS if self.payload_for(a) is not None)

    @property
    def interactive(self) -> bool:
        """Does this cue ask the participants to do something?"""
        return self.action in ("say", "poll", "breakout", "commitments")


class Segment(Strict):
    id: Identifier
    kind: SegmentKind
    title: str | None = None
    duration: Duration
    lead: str | None = Field(None, description="who leads the segment")
    facilitator_notes: str | None = None
    producer_notes: str | ProducerNotes | None = None
    breakout: Breakout | None = Field(None, description="for breakout segments: the rooms")
    prompt: str | None = Field(None, description="for commitments segments: the prompt")
    cues: list[Cue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_specific(self) -> Segment:
        found: list[RuleViolation] = []
        if self.breakout is not None and self.kind != SegmentKind.breakout:
            message = "'breakout' settings belong on a segment of kind breakout"
            found.append(RuleViolation(("breakout",), message, on_key=True))
        if self.prompt is not None and self.kind != SegmentKind.commitments:
            message = "'prompt' belongs on a segment of kind commitments"
            found.append(RuleViolation(("prompt",), message, on_key=True))
        for index, cue in enumerate(self.cues):
            if cue.at >= self.duration:
                message = (
                    f"cue at {format_duration(cue.at)} is outside its segment, "
                    f"which lasts {format_duration(self.duration)}"
                )
                found.append(RuleViolation(("cues", index, "at"), message))
        if found:
            raise _refuse(found)
        return self

    def cue_id(self, index: int) -> str:
        cue = self.cues[index]
        return cue.id if cue.id else f"{self.id}-{index + 1}"


class FollowUp(Strict):
    reminder_after: Duration | None = Field(
        604800, description="remind each participant of their commitment"
    )
    check_ins: list[Duration] = Field(default_factory=lambda: [2592000, 5184000, 7776000])


class Producers(Strict):
    """Who may steer the show from the meeting chat (``/fb …``), besides the host."""

    names: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)


class Show(Strict):
    title: str = Field(min_length=1)
    duration: Duration
    timezone: str | None = Field(None, description="IANA time zone, e.g. Europe/Berlin")
    rules: Rules = Field(default_factory=Rules)
    lint: dict[str, Severity] = Field(
        default_factory=dict, description="severity per rule code, e.g. {FB101: warning}"
    )
    prework: list[PreworkLink] = Field(default_factory=list)
    access: Access = Field(default_factory=Access)
    producers: Producers = Field(default_factory=Producers)
    prompt_bank: list[str] = Field(
        default_factory=list, description="filler prompts the live cadence guard draws from"
    )
    segments: list[Segment] = Field(min_length=1)
    follow_up: FollowUp | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Show:
        seen: dict[str, RelPath] = {}
        found: list[RuleViolation] = []
        for s_index, segment in enumerate(self.segments):
            named: list[tuple[str, RelPath]] = [(segment.id, ("segments", s_index, "id"))]
            for c_index, cue in enumerate(segment.cues):
                cue_path: RelPath = ("segments", s_index, "cues", c_index)
                # A cue without an id gets <segment>-<n>; point at the cue itself then.
                named.append((segment.cue_id(c_index), (*cue_path, "id") if cue.id else cue_path))
            for ident, path in named:
                if ident in seen:
                    message = f"duplicate id {ident!r}: segment and cue ids must be unique"
                    found.append(RuleViolation(path, message, first=seen[ident]))
                else:
                    seen[ident] = path
        if found:
            raise _refuse(found)
        return self

    def segment(self, segment_id: str) -> Segment:
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)
