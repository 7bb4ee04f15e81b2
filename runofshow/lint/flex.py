"""FB2xx: flexible time, the room a live re-plan has to land the session on time."""

from __future__ import annotations

from collections.abc import Iterator

from runofshow.basics import SegmentKind, Severity, segments_of
from runofshow.durationtext import format_duration
from runofshow.flex import PLAUSIBLE_OVERRUN, WORKING_MINIMUM, break_floor, flex_range, shrinkable
from runofshow.lint.core import Hit, LintContext, Rule


def _floors(ctx: LintContext) -> Iterator[Hit]:
    rules = ctx.rules.breaks
    for index, segment in enumerate(segments_of(ctx.show)):
        declared = segment.flex.min if segment.flex is not None else None
        if declared is None:
            continue
        path = ("segments", index, "flex", "min")
        if segment.kind == SegmentKind.commitments and declared < segment.duration:
            yield Hit("commitments never shrink: the close is what the session is for", path)
        elif segment.kind == SegmentKind.break_:
            need = break_floor(segment.duration, rules)
            if declared < need:
                yield Hit(
                    f"a break shrunk to {format_duration(declared)} no longer gives the "
                    f"{format_duration(need)} of rest its rule needs",
                    path,
                )
        elif segment.kind == SegmentKind.breakout:
            warn = segment.breakout.warn_before_close if segment.breakout else 120
            need = min(segment.duration, warn + WORKING_MINIMUM)
            if declared < need:
                yield Hit(
                    f"a breakout needs its {format_duration(warn)} warning plus "
                    f"{format_duration(WORKING_MINIMUM)} of work: at least {format_duration(need)}",
                    path,
                )


def _reserve(ctx: LintContext) -> Iterator[Hit]:
    show = ctx.show
    room = shrinkable(show)
    if room >= min(PLAUSIBLE_OVERRUN, show.duration // 6):
        return
    rules = show.rules.breaks
    tight = [s for s in show.segments if flex_range(s, rules).shrink(s.duration) == 0]
    names = ", ".join(s.id for s in tight[:4]) + (" …" if len(tight) > 4 else "")
    yield Hit(
        f"the declared flex can absorb only {format_duration(room)} of a "
        f"{format_duration(PLAUSIBLE_OVERRUN)} overrun: a late start or an extension will make "
        f"the session end late; declare flex (e.g. flex: {{min: …}}) on segments that can give "
        f"time ({names or 'none'} cannot)",
        ("segments",),
        key=True,
    )


RULES = (
    Rule(
        "FB202",
        "flex-floor",
        Severity.error,
        "A live re-plan may shrink a segment only as far as the practice allows: commitments "
        "never shrink, a break keeps the rest its rule needs, a breakout keeps its warning plus "
        "a working minimum.",
        _floors,
    ),
    Rule(
        "FB203",
        "flex-reserve",
        Severity.advice,
        "Sessions run late: a late start, a long answer, an extension. Good facilitators know "
        "in advance where they can give time back so the close and the breaks are protected.",
        _reserve,
    ),
)
