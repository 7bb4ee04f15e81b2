"""FB5xx: timing and the details of cues (cues outside their segment are a loader error)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from runofshow.basics import DEFAULT_WARN_BEFORE_CLOSE, SegmentKind, Severity, cues_of, segments_of
from runofshow.durationtext import format_duration
from runofshow.lint.core import Hit, LintContext, Rule
from runofshow.schedule import Path

POLL_OPTIONS_MIN = 2
POLL_OPTIONS_MAX = 10

if TYPE_CHECKING:
    from runofshow.shapes import AnyBreakout, AnySegment


def _duration_sum(ctx: LintContext) -> Iterator[Hit]:
    declared = ctx.show.duration
    planned = ctx.end
    if planned == declared:
        return
    diff = abs(declared - planned)
    how = "unplanned" if planned < declared else "too much"
    yield Hit(
        f"the segments add up to {format_duration(planned)}, but the show lasts "
        f"{format_duration(declared)} ({format_duration(diff)} {how})",
        ("duration",),
    )


def _breakouts(
    segment: AnySegment, index: int
) -> Iterator[tuple[AnyBreakout | None, Path, int, int]]:
    """Each breakout of a segment: settings, path, opening offset, offset the rooms close."""
    base: Path = ("segments", index)
    if segment.kind == SegmentKind.breakout:
        close = segment.duration
        if segment.breakout and segment.breakout.duration:
            close = min(close, segment.breakout.duration)
        yield segment.breakout, (*base, "breakout"), 0, close
    for i, cue in enumerate(cues_of(segment)):
        if cue.breakout is not None:
            close = segment.duration
            if cue.breakout.duration:
                close = min(close, cue.at + cue.breakout.duration)
            yield cue.breakout, (*base, "cues", i, "breakout"), cue.at, close


def _breakout_warning(ctx: LintContext) -> Iterator[Hit]:
    for index, segment in enumerate(segments_of(ctx.show)):
        for breakout, path, opens, closes in _breakouts(segment, index):
            warn = breakout.warn_before_close if breakout else DEFAULT_WARN_BEFORE_CLOSE
            if 0 < warn and warn >= closes - opens:
                yield Hit(
                    f"the warning {format_duration(warn)} before close falls outside the "
                    f"breakout, which is open for {format_duration(closes - opens)}: warn less "
                    "than that before close, or write warn_before_close: 0s for no warning",
                    (*path, "warn_before_close") if breakout else ("segments", index, "duration"),
                )


def _fits(ctx: LintContext) -> Iterator[Hit]:
    for index, segment in enumerate(segments_of(ctx.show)):
        base: Path = ("segments", index)
        if segment.breakout and segment.breakout.duration:
            if segment.breakout.duration > segment.duration:
                path: Path = (*base, "breakout", "duration")
                yield _cut("the breakout", segment.breakout.duration, segment.duration, path)
        for i, cue in enumerate(cues_of(segment)):
            left = segment.duration - cue.at
            at: Path = (*base, "cues", i)
            wanted: tuple[str, int | None, Path] | None = None
            if cue.poll:
                wanted = ("the poll", cue.poll.open_for, (*at, "poll", "open_for"))
            elif cue.breakout:
                wanted = ("the breakout", cue.breakout.duration, (*at, "breakout", "duration"))
            elif cue.break_:
                wanted = ("the break", cue.break_.duration, (*at, "break", "duration"))
            elif cue.commitments:
                wanted = (
                    "collecting commitments",
                    cue.commitments.collect_for,
                    (*at, "commitments", "collect_for"),
                )
            if wanted and wanted[1] and wanted[1] > left:
                yield _cut(wanted[0], wanted[1], left, wanted[2])


def _cut(what: str, wanted: int, left: int, path: Path) -> Hit:
    return Hit(
        f"{what} is set to last {format_duration(wanted)}, but only {format_duration(left)} of "
        "its segment is left: it will be cut short when the segment ends",
        path,
    )


def _poll_options(ctx: LintContext) -> Iterator[Hit]:
    for index, segment in enumerate(segments_of(ctx.show)):
        for i, cue in enumerate(cues_of(segment)):
            if cue.poll is None:
                continue
            path: Path = ("segments", index, "cues", i, "poll", "options")
            seen: dict[str, int] = {}
            for n, option in enumerate(cue.poll.options):
                norm = " ".join(option.split()).casefold()
                if not norm:
                    yield Hit("an empty poll option", (*path, n))
                elif norm in seen:
                    yield Hit(
                        f"poll option {option.strip()!r} repeats option {seen[norm] + 1}",
                        (*path, n),
                    )
                else:
                    seen[norm] = n
            count = len(cue.poll.options)
            if not POLL_OPTIONS_MIN <= count <= POLL_OPTIONS_MAX:
                yield Hit(
                    f"the poll has {count} option{'s' if count != 1 else ''}; give "
                    f"{POLL_OPTIONS_MIN} to {POLL_OPTIONS_MAX} distinct options",
                    path,
                )


RULES = (
    Rule(
        "FB501",
        "duration-sum",
        Severity.error,
        "The plan is the clock: when the segments do not add up to the announced duration, "
        "the session either overruns or ends early, and the live guards work from a wrong plan.",
        _duration_sum,
    ),
    Rule(
        "FB502",
        "breakout-warning",
        Severity.warning,
        "Rooms are warned before they close so groups can finish a thought; a warning set "
        "longer than the breakout never fires.",
        _breakout_warning,
    ),
    Rule(
        "FB503",
        "fits-segment",
        Severity.warning,
        "A poll, breakout, break or commitment collection that outlasts its segment is cut "
        "short on the live clock, so the written plan and the session disagree.",
        _fits,
    ),
    Rule(
        "FB504",
        "poll-options",
        Severity.error,
        "A poll is a quick decision: one option is no choice, a repeated option splits the "
        "vote, and more than 10 cannot be read at a glance during a live session.",
        _poll_options,
    ),
)
