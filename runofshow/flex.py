"""Flexible time: how far a live re-plan may shrink or grow each segment.

A segment may declare ``flex: {min: 20m, max: 30m}``; what it leaves out comes from its kind:

* commitments never shrink: the close is what the session is for;
* a break keeps the rest its rule needs (the longest rule rest it meets as planned);
* a breakout keeps its warning before close plus a working minimum;
* other kinds may lose up to a third, never their last cue.

No segment grows by default. Durations are whole seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from runofshow.basics import SegmentKind
from runofshow.durationtext import format_duration

if TYPE_CHECKING:
    from runofshow.shapes import AnyBreakRule, AnySegment, AnyShow

#: A breakout keeps at least this much working time besides its warning before close.
WORKING_MINIMUM = 5 * 60
#: Without a declared minimum, a segment may lose at most this share of its length.
DEFAULT_SHRINK = 1 / 3
#: The overrun a show's flex should be able to absorb (the FB207 advice).
PLAUSIBLE_OVERRUN = 10 * 60
#: The order in which a re-plan takes time: talk first, the connection and breaks last;
#: commitments never.
SHRINK_ORDER: tuple[SegmentKind, ...] = (
    SegmentKind.talk,
    SegmentKind.discussion,
    SegmentKind.activity,
    SegmentKind.breakout,
    SegmentKind.connection,
    SegmentKind.break_,
)


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class FlexRange(NamedTuple):
    min: int
    max: int
    declared: bool  # the show says so, rather than the kind's default

    def shrink(self, duration: int) -> int:
        return max(0, duration - self.min)


def break_floor(duration: int, rules: Sequence[AnyBreakRule]) -> int:
    """The rest a break of ``duration`` must keep: the longest rule rest it meets as planned."""
    met = [r.rest for r in rules if r.rest <= duration]
    return max(met) if met else duration


def floor(segment: AnySegment, rules: Sequence[AnyBreakRule]) -> int:
    """The shortest a segment may ever become, whatever it declares."""
    if segment.kind == SegmentKind.commitments:
        return segment.duration
    if segment.kind == SegmentKind.break_:
        return break_floor(segment.duration, rules)
    if segment.kind == SegmentKind.breakout:
        warn = segment.breakout.warn_before_close if segment.breakout else 120
        return min(segment.duration, warn + WORKING_MINIMUM)
    return 0


def flex_range(segment: AnySegment, rules: Sequence[AnyBreakRule]) -> FlexRange:
    """The segment's flex: the declared bounds, or its kind's defaults."""
    declared = segment.flex
    low = declared.min if declared is not None else None
    high = declared.max if declared is not None else None
    hard = floor(segment, rules)
    if low is None:
        low = hard
        if segment.kind not in (SegmentKind.commitments, SegmentKind.break_):
            last_cue = max((c.at for c in segment.cues), default=-60) + 60
            default = segment.duration - int(segment.duration * DEFAULT_SHRINK) // 60 * 60
            low = min(segment.duration, max(hard, default, last_cue))
    else:
        low = max(low, hard)
    return FlexRange(low, segment.duration if high is None else high, declared is not None)


def shrinkable(show: AnyShow) -> int:
    """Seconds a re-plan could take out of the whole show."""
    rules = show.rules.breaks
    return sum(flex_range(s, rules).shrink(s.duration) for s in show.segments)


def describe(segment: AnySegment, rules: Sequence[AnyBreakRule]) -> str:
    """``25m → 17m`` style text for ``facilbot plan``; ``fixed`` when it cannot move."""
    r = flex_range(segment, rules)
    if r.min == segment.duration == r.max:
        return "fixed"
    text = f"min {format_duration(r.min)}"
    if r.max != segment.duration:
        text += f", max {format_duration(r.max)}"
    return text if r.declared else text + " (default)"
