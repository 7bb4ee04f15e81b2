"""What both validations of a show share: kinds, severities, ids and the cross-field checks.

A show is validated into the pydantic model (``runofshow.model``) or, for ``facilbot lint``,
into plain classes of the same shape (``runofshow.plain``). Both take from here every rule
that spans several fields and every message it gives, so the two cannot drift apart; this
module imports no pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NamedTuple

from runofshow.durationtext import format_duration

if TYPE_CHECKING:
    from runofshow.shapes import (
        AnyAssign,
        AnyBreakout,
        AnyBreakRule,
        AnyCue,
        AnyRules,
        AnySegment,
        AnyShow,
    )

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

#: A location relative to the model that reports it (same shape as ``schedule.Path``).
RelPath = tuple[str | int, ...]

#: The error type of a cross-field check (its ``ctx["violations"]`` lists them all).
SHOW_RULE = "show_rule"


# Records on facilbot lint's path are NamedTuples, not dataclasses: importing dataclasses
# (it imports inspect) cost the command ~50 M instructions and each class ~3.5 M to build,
# ~85 M of its 380 M (bench/lint_speed.py). They are immutable, hashable and compare by
# value as before; they are also tuples, which nothing here relies on.
class RuleViolation(NamedTuple):
    """One cross-field problem, at ``where`` relative to the model that found it."""

    where: RelPath
    message: str
    on_key: bool = False  # point at the key rather than its value
    first: RelPath | None = None  # for duplicates: where the first one is


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


CueAction = Literal["say", "poll", "breakout", "break", "commitments", "producer"]
CUE_ACTIONS: tuple[CueAction, ...] = ("say", "poll", "breakout", "break", "commitments", "producer")
#: Cue actions that ask the participants to do something.
INTERACTIVE_CUE_ACTIONS = frozenset({"say", "poll", "breakout", "commitments"})

#: What a commitments cue asks, when it does not say.
COMMITMENT_PROMPT = "Type one specific action you will take in the next 48 hours."
#: A breakout's warning before its rooms close, when it does not say.
DEFAULT_WARN_BEFORE_CLOSE = 120

BREAK_RULE = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]+)\s*$")


def break_rule_fields(value: object) -> object:
    """``"50/10"`` as the fields of a break rule; anything else unchanged."""
    if isinstance(value, str):
        match = BREAK_RULE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a break rule; write WORK/REST minutes, e.g. 50/10")
        return {"work": f"{match[1]}m", "rest": f"{match[2]}m"}
    return value


def format_break_rule(work: int, rest: int) -> str:
    return f"{work // 60}/{rest // 60}"


def percent(value: object) -> object:
    """``"20%"`` as the number 20.0; anything else unchanged."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write e.g. 20%") from None
    return value


def known_zone(value: str | None) -> str | None:
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


def distinct_options(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("the options must differ from each other")
    return value


# Either validation's lists, typed as one sequence: the type checker joins a union of list types
# to list[object] when it is passed on (to enumerate, sorted, ...).


def segments_of(show: AnyShow) -> Sequence[AnySegment]:
    return show.segments


def cues_of(segment: AnySegment) -> Sequence[AnyCue]:
    return segment.cues


def breaks_of(rules: AnyRules) -> Sequence[AnyBreakRule]:
    return rules.breaks


PREWORK_NEEDS = "a pre-work item needs a url, a poll, or both"


def assign_violations(assign: AnyAssign) -> list[RuleViolation]:
    chosen = [n for n in ("random", "mix_by", "rooms") if getattr(assign, n) not in (None, False)]
    if len(chosen) > 1:
        message = f"choose one assignment method, not {' and '.join(chosen)}"
        return [RuleViolation((chosen[1],), message, on_key=True)]
    return []


def assign_method(assign: AnyAssign) -> Literal["random", "mix_by", "rooms"]:
    if assign.mix_by:
        return "mix_by"
    if assign.rooms:
        return "rooms"
    return "random"


def breakout_violations(breakout: AnyBreakout) -> list[RuleViolation]:
    if breakout.size is not None and breakout.rooms is not None:
        message = "give either size (people per room) or rooms (number of rooms), not both"
        return [RuleViolation(("rooms",), message, on_key=True)]
    return []


def cue_payload(cue: AnyCue, action: CueAction) -> object | None:
    return cue.break_ if action == "break" else getattr(cue, action)


def cue_action(cue: AnyCue) -> CueAction:
    return next(a for a in CUE_ACTIONS if cue_payload(cue, a) is not None)


def cue_violations(cue: AnyCue) -> list[RuleViolation]:
    present = [a for a in CUE_ACTIONS if cue_payload(cue, a) is not None]
    if not present:
        message = f"a cue needs exactly one action: one of {', '.join(CUE_ACTIONS)}"
        return [RuleViolation((), message)]
    if len(present) > 1:
        message = f"a cue has exactly one action, this one has {' and '.join(present)}"
        return [RuleViolation((present[1],), message, on_key=True)]
    return []


def cue_id(segment: AnySegment, index: int) -> str:
    cue = segment.cues[index]
    return cue.id if cue.id else f"{segment.id}-{index + 1}"


def segment_violations(segment: AnySegment) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    if segment.flex is not None:
        low, high = segment.flex.min, segment.flex.max
        if low is not None and low > segment.duration:
            message = (
                f"flex min {format_duration(low)} is longer than the segment's "
                f"{format_duration(segment.duration)}"
            )
            found.append(RuleViolation(("flex", "min"), message))
        if high is not None and high < segment.duration:
            message = (
                f"flex max {format_duration(high)} is shorter than the segment's "
                f"{format_duration(segment.duration)}"
            )
            found.append(RuleViolation(("flex", "max"), message))
    if segment.breakout is not None and segment.kind != SegmentKind.breakout:
        message = "'breakout' settings belong on a segment of kind breakout"
        found.append(RuleViolation(("breakout",), message, on_key=True))
    if segment.prompt is not None and segment.kind != SegmentKind.commitments:
        message = "'prompt' belongs on a segment of kind commitments"
        found.append(RuleViolation(("prompt",), message, on_key=True))
    for index, cue in enumerate(cues_of(segment)):
        if cue.at >= segment.duration:
            message = (
                f"cue at {format_duration(cue.at)} is outside its segment, "
                f"which lasts {format_duration(segment.duration)}"
            )
            found.append(RuleViolation(("cues", index, "at"), message))
    return found


def show_violations(show: AnyShow) -> list[RuleViolation]:
    seen: dict[str, RelPath] = {}
    found: list[RuleViolation] = []
    for s_index, segment in enumerate(segments_of(show)):
        named: list[tuple[str, RelPath]] = [(segment.id, ("segments", s_index, "id"))]
        for c_index, cue in enumerate(cues_of(segment)):
            cue_path: RelPath = ("segments", s_index, "cues", c_index)
            # A cue without an id gets <segment>-<n>; point at the cue itself then.
            named.append((cue_id(segment, c_index), (*cue_path, "id") if cue.id else cue_path))
        for ident, path in named:
            if ident in seen:
                message = f"duplicate id {ident!r}: segment and cue ids must be unique"
                found.append(RuleViolation(path, message, first=seen[ident]))
            else:
                seen[ident] = path
    return found
