"""FB2xx: breaks (50/10 and 90/20)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from runofshow.basics import SegmentKind, Severity, breaks_of
from runofshow.durationtext import format_duration
from runofshow.lint.core import Hit, LintContext, Rule, clock
from runofshow.schedule import Stretch, continuous_stretches, rest_spans, stretch_ok

if TYPE_CHECKING:
    from runofshow.shapes import AnyBreakRule


def _breaks(ctx: LintContext) -> Iterator[Hit]:
    rules = sorted(breaks_of(ctx.rules), key=lambda r: (r.work, r.rest))
    # A break cue inside a segment ends a stretch just as a break segment does.
    spans = rest_spans(ctx.schedule)
    for stretch in continuous_stretches(spans):
        if stretch_ok(stretch, rules):
            continue
        what = (
            f"{format_duration(stretch.length)} of continuous time, "
            f"{clock(stretch.start)}–{clock(stretch.end)},"
        )
        allowed = [r for r in rules if stretch.length <= r.work]
        if allowed:
            # Short enough for some rule, but the break after it is too short for all of them.
            need = min(r.rest for r in allowed)
            rule = next(r for r in allowed if r.rest == need)
            brk = next(s for s in spans if s.start == stretch.end and s.kind == SegmentKind.break_)
            yield Hit(
                f"{what} is followed by a break of only "
                f"{format_duration(stretch.following_break or 0)}; it needs at least "
                f"{format_duration(need)} ({rule})",
                brk.path,
            )
        else:
            longest = max(r.work for r in rules)
            yield Hit(
                f"{what} is longer than the break rules allow: put in {_options(stretch, rules)}",
                ctx.span_at(stretch.start + longest).path,
            )


def _options(stretch: Stretch, rules: list[AnyBreakRule]) -> str:
    return " or ".join(
        f"a break of at least {format_duration(r.rest)} by {clock(stretch.start + r.work)} ({r})"
        for r in rules
    )


RULES = (
    Rule(
        "FB201",
        "breaks",
        Severity.error,
        "50/10 and 90/20: no more than 50 minutes without a 10-minute break, or 90 minutes "
        "without a 20-minute break. Screen fatigue sets in sooner than in a room.",
        _breaks,
    ),
)
