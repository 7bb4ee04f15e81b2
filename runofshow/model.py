"""The typed model of a run-of-show.

Every model forbids unknown keys (the loader turns pydantic's complaint into a "did you mean"
message with the file position). Durations are whole seconds (see ``durations``).

Checks that span several fields (a cue outside its segment, duplicate ids, two actions on one
cue) raise a ``show_rule`` error carrying every :class:`RuleViolation` found, each with the
path *inside the model that found it*, so the loader can point at the exact key or value.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from runofshow import basics
from runofshow.basics import (
    CUE_ACTIONS,
    ID_PATTERN,
    INTERACTIVE_CUE_ACTIONS,
    INTERACTIVE_KINDS,
    SHOW_RULE,
    CueAction,
    RelPath,
    RuleViolation,
    SegmentKind,
    Severity,
)
from runofshow.durations import DURATION_JSON_SCHEMA, Duration, Offset

__all__ = [
    "CUE_ACTIONS",
    "ID_PATTERN",
    "INTERACTIVE_KINDS",
    "SHOW_RULE",
    "CueAction",
    "RelPath",
    "RuleViolation",
    "SegmentKind",
    "Severity",
]

Identifier = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="lower-case letters, digits, '-' and '_'; unique in the show",
    ),
]


def _refuse(violations: list[RuleViolation]) -> PydanticCustomError:
    summary = "; ".join(v.message for v in violations)
    return PydanticCustomError(
        SHOW_RULE, "{summary}", {"summary": summary, "violations": tuple(violations)}
    )


def _check(violations: list[RuleViolation]) -> None:
    if violations:
        raise _refuse(violations)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_BREAK_RULE_SCHEMA = {
    "anyOf": [
        {
            "type": "string",
            "pattern": basics.BREAK_RULE.pattern,
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

    _from_text = model_validator(mode="before")(basics.break_rule_fields)

    def __str__(self) -> str:
        return basics.format_break_rule(self.work, self.rest)


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

    _pct = field_validator("talk_share_max", mode="before")(basics.percent)


class Access(Strict):
    """Accessibility and the asynchronous alternative for people who could not attend."""

    recording: bool | None = Field(
        None, description="whether a recording will be shared in the recap (false: there is none)"
    )
    captions: bool | None = None
    transcript: bool | None = Field(
        None, description="whether a transcript will be shared in the recap (false: there is none)"
    )
    recap_for: Duration = Field(
        604800,
        description="how long after the session its companion page stays the recap "
        "(late poll answers and commitments, marked asynchronous)",
    )


class BaselineQuestion(Strict):
    """A question answered ahead on the companion page: where people start from."""

    question: str = Field(min_length=1)
    options: list[str] = Field(min_length=2)
    multiple: bool = Field(False, description="participants may pick more than one option")

    _distinct = field_validator("options")(basics.distinct_options)


class PreworkLink(Strict):
    """A pre-work item: something to read or watch (``url``), a baseline question answered
    ahead (``poll``), or both."""

    title: str
    url: str | None = None
    poll: BaselineQuestion | None = Field(
        None, description="a baseline question answered ahead on the companion page"
    )
    due_before: Duration | None = Field(None, description="how long before the session it is due")

    @model_validator(mode="after")
    def _something_to_do(self) -> PreworkLink:
        if self.url is None and self.poll is None:
            raise ValueError(basics.PREWORK_NEEDS)
        return self


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
    show_results: bool = Field(
        True, description="show participants the results on the companion page once it closes"
    )


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
        _check(basics.assign_violations(self))
        return self

    @property
    def method(self) -> Literal["random", "mix_by", "rooms"]:
        return basics.assign_method(self)


class Breakout(Strict):
    size: int | None = Field(None, ge=2, le=50, description="people per room")
    rooms: int | None = Field(None, ge=1, le=100, description="number of rooms")
    assign: Assign = Field(default_factory=Assign)
    duration: Duration | None = Field(None, description="defaults to the rest of the segment")
    warn_before_close: Offset = Field(
        basics.DEFAULT_WARN_BEFORE_CLOSE, description="warn the rooms this long before they close"
    )

    @model_validator(mode="after")
    def _size_or_rooms(self) -> Breakout:
        _check(basics.breakout_violations(self))
        return self


class BreakCue(Strict):
    duration: Duration


class Commitments(Strict):
    prompt: str = Field(basics.COMMITMENT_PROMPT, min_length=1)
    collect_for: Duration | None = Field(None, description="defaults to the rest of the segment")


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
        _check(basics.cue_violations(self))
        return self

    def payload_for(self, action: CueAction) -> object | None:
        return basics.cue_payload(self, action)

    @property
    def action(self) -> CueAction:
        return basics.cue_action(self)

    @property
    def interactive(self) -> bool:
        """Does this cue ask the participants to do something?"""
        return self.action in INTERACTIVE_CUE_ACTIONS


class Flex(Strict):
    """How far a live re-plan may shrink (``min``) or grow (``max``) a segment.

    Omitted bounds take the kind's default (``runofshow.flex.flex_range``): commitments never
    shrink, a break keeps the rest its rule needs, a breakout keeps its warning plus a working
    minimum, other kinds may lose a third (never their last cue).
    """

    min: Duration | None = Field(None, description="the shortest this segment may become")
    max: Duration | None = Field(None, description="the longest this segment may become")


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
    flex: Flex | None = Field(None, description="how far a live re-plan may shrink or grow it")

    @model_validator(mode="after")
    def _kind_specific(self) -> Segment:
        _check(basics.segment_violations(self))
        return self

    def cue_id(self, index: int) -> str:
        return basics.cue_id(self, index)


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

    _known_zone = field_validator("timezone")(basics.known_zone)

    @model_validator(mode="after")
    def _unique_ids(self) -> Show:
        _check(basics.show_violations(self))
        return self

    def segment(self, segment_id: str) -> Segment:
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)
