"""FB4xx: the balance of the session: who talks, and how varied the activity is."""

from __future__ import annotations

from collections.abc import Iterator

from runofshow.basics import INTERACTIVE_KINDS, SegmentKind, Severity
from runofshow.durationtext import format_duration
from runofshow.lint.core import Hit, LintContext, Rule

THREE_HOURS = 3 * 3600
#: Fewest activity segments expected of any show (a connection and the commitments).
VARIETY_FLOOR = 2


def _non_break(ctx: LintContext) -> int:
    return sum(s.duration for s in ctx.schedule.spans if s.kind != SegmentKind.break_)


def _percent(value: float, limit: float) -> str:
    text = f"{value:.0f}"
    if float(text) <= limit < value:  # never print "20 % (limit 20 %)"
        text = f"{value:.1f}"
    return f"{text} %"


def _talk_share(ctx: LintContext) -> Iterator[Hit]:
    limit = ctx.rules.talk_share_max
    talks = [s for s in ctx.schedule.spans if s.kind == SegmentKind.talk]
    total = _non_break(ctx)
    talk = sum(s.duration for s in talks)
    if not total or not talks:
        return
    share = 100 * talk / total
    if share <= limit:
        return
    longest = max(talks, key=lambda s: s.duration)
    yield Hit(
        f"facilitator talk is {_percent(share, limit)} of non-break time "
        f"({format_duration(talk)} of {format_duration(total)}; limit {limit:g} %): turn part "
        f"of '{longest.segment_id}' ({format_duration(longest.duration)}) into an activity",
        longest.path,
    )


def _variety(ctx: LintContext) -> Iterator[Hit]:
    per_3h = ctx.rules.segments_per_3h
    total = _non_break(ctx)
    expected = max(VARIETY_FLOOR, per_3h * total // THREE_HOURS)
    count = sum(1 for s in ctx.schedule.spans if s.kind in INTERACTIVE_KINDS)
    if count >= expected:
        return
    yield Hit(
        f"{count} activity segment{'s' if count != 1 else ''} in {format_duration(total)} of "
        f"non-break time; expected at least {expected} (about {per_3h} per 3 hours): vary the "
        "format with activities, discussions and breakouts",
        ("segments",),
        key=True,
    )


RULES = (
    Rule(
        "FB401",
        "talk-share",
        Severity.warning,
        "No more than 20 % facilitator talk, 80 % participant activity: people learn by doing, "
        "and a virtual audience drifts during broadcast.",
        _talk_share,
    ),
    Rule(
        "FB402",
        "variety",
        Severity.warning,
        "Variety keeps energy up: a 3-hour workshop has about six distinct activity segments "
        "(connection, activity, discussion, breakout, commitments).",
        _variety,
    ),
)
