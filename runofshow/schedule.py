"""The static schedule of a show: where each segment and action sits, in seconds from the start.

This is the shared core under both the linter (which checks the practices against it) and the
planner (which applies live controls and guards on top of it). Offsets are seconds of *show time*
from the start of the first segment, before any pause or extension.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from runofshow.basics import INTERACTIVE_KINDS, SegmentKind, cues_of, segments_of

if TYPE_CHECKING:
    from runofshow.shapes import AnyBreakRule, AnySegment, AnyShow

#: A location inside the show document, as a path of keys and indexes, e.g.
#: ("segments", 2, "cues", 0, "at"). The loader maps paths to file:line:col.
Path = tuple[str | int, ...]

#: The kinds of action an instant performs. The implicit ones come from segment kinds.
ACTIONS = (
    "say",
    "poll_open",
    "poll_close",
    "breakout_open",
    "breakout_warn",
    "breakout_close",
    "break_start",
    "break_end",
    "commitments_open",
    "commitments_close",
    "producer",
)
INTERACTIVE_ACTIONS = frozenset({"say", "poll_open", "breakout_open", "commitments_open"})


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class Span(NamedTuple):
    """A segment placed on the show clock: [start, end) seconds."""

    segment_id: str
    kind: SegmentKind
    start: int
    end: int
    path: Path

    @property
    def duration(self) -> int:
        return self.end - self.start


class Instant(NamedTuple):
    """One action at one moment of show time.

    ``key`` is unique within the show and stable across edits that do not touch the cue: the
    engine uses it (with the session) as the exactly-once key of a firing.
    """

    key: str
    segment_id: str
    at: int
    action: str
    path: Path
    cue_index: int | None = None  # index into the segment's cues; None for implicit actions

    @property
    def interactive(self) -> bool:
        return self.action in INTERACTIVE_ACTIONS


class Schedule(NamedTuple):
    spans: tuple[Span, ...]
    instants: tuple[Instant, ...]  # sorted by (at, order of appearance)

    @property
    def end(self) -> int:
        return self.spans[-1].end if self.spans else 0


def segment_instants(segment: AnySegment, index: int, start: int) -> list[Instant]:
    """The actions of one segment placed at ``start``: explicit cues plus implicit ones by kind."""
    base: Path = ("segments", index)
    out: list[Instant] = []
    end = start + segment.duration
    if segment.kind == SegmentKind.breakout:
        close = end
        if segment.breakout is not None and segment.breakout.duration is not None:
            close = min(end, start + segment.breakout.duration)
        out.append(
            Instant(f"{segment.id}@open", segment.id, start, "breakout_open", (*base, "kind"))
        )
        warn = segment.breakout.warn_before_close if segment.breakout else 120
        if 0 < warn < close - start:
            path: Path = (
                (*base, "breakout", "warn_before_close") if segment.breakout else (*base, "kind")
            )
            out.append(
                Instant(f"{segment.id}@warn", segment.id, close - warn, "breakout_warn", path)
            )
        out.append(
            Instant(f"{segment.id}@close", segment.id, close, "breakout_close", (*base, "kind"))
        )
    elif segment.kind == SegmentKind.break_:
        out.append(
            Instant(f"{segment.id}@start", segment.id, start, "break_start", (*base, "kind"))
        )
        out.append(Instant(f"{segment.id}@end", segment.id, end, "break_end", (*base, "kind")))
    elif segment.kind == SegmentKind.commitments:
        out.append(
            Instant(f"{segment.id}@open", segment.id, start, "commitments_open", (*base, "kind"))
        )
        out.append(
            Instant(f"{segment.id}@close", segment.id, end, "commitments_close", (*base, "kind"))
        )
    for i, cue in enumerate(cues_of(segment)):
        key = segment.cue_id(i)
        path = (*base, "cues", i)
        at = start + cue.at
        action = cue.action
        if action == "poll":
            assert cue.poll is not None
            out.append(Instant(key, segment.id, at, "poll_open", path, i))
            close_at = min(at + cue.poll.open_for, end)
            out.append(Instant(f"{key}@close", segment.id, close_at, "poll_close", path, i))
        elif action == "breakout":
            assert cue.breakout is not None
            out.append(Instant(key, segment.id, at, "breakout_open", path, i))
            close_at = min(end, at + cue.breakout.duration) if cue.breakout.duration else end
            warn = cue.breakout.warn_before_close
            if 0 < warn < close_at - at:
                out.append(
                    Instant(f"{key}@warn", segment.id, close_at - warn, "breakout_warn", path, i)
                )
            out.append(Instant(f"{key}@close", segment.id, close_at, "breakout_close", path, i))
        elif action == "break":
            assert cue.break_ is not None
            out.append(Instant(key, segment.id, at, "break_start", path, i))
            out.append(
                Instant(
                    f"{key}@end",
                    segment.id,
                    min(end, at + cue.break_.duration),
                    "break_end",
                    path,
                    i,
                )
            )
        elif action == "commitments":
            assert cue.commitments is not None
            out.append(Instant(key, segment.id, at, "commitments_open", path, i))
            close_at = (
                min(end, at + cue.commitments.collect_for) if cue.commitments.collect_for else end
            )
            out.append(Instant(f"{key}@close", segment.id, close_at, "commitments_close", path, i))
        else:
            out.append(Instant(key, segment.id, at, action, path, i))
    return out


def static_schedule(show: AnyShow) -> Schedule:
    spans: list[Span] = []
    instants: list[Instant] = []
    clock = 0
    for index, segment in enumerate(segments_of(show)):
        spans.append(
            Span(segment.id, segment.kind, clock, clock + segment.duration, ("segments", index))
        )
        instants.extend(segment_instants(segment, index, clock))
        clock += segment.duration
    order = {id(inst): n for n, inst in enumerate(instants)}
    instants.sort(key=lambda inst: (inst.at, order[id(inst)]))
    return Schedule(tuple(spans), tuple(instants))


def interaction_gaps(spans: Sequence[Span], instants: Iterable[Instant]) -> list[tuple[int, int]]:
    """Stretches [start, end) of non-break time with no interaction in them.

    Interactive segments count as interaction throughout; in other segments, an interactive
    instant is a point of interaction. Break segments reset the stretch (nobody needs a prompt
    during a break). The end of the show closes the last stretch.
    """
    points = sorted({i.at for i in instants if i.interactive})
    gaps: list[tuple[int, int]] = []
    for span in spans:
        if span.kind == SegmentKind.break_ or span.kind in INTERACTIVE_KINDS:
            continue
        marks = [span.start] + [p for p in points if span.start < p < span.end] + [span.end]
        gaps.extend((a, b) for a, b in pairwise(marks) if b > a)
    return _merge_adjacent(gaps, spans, set(points))


def _merge_adjacent(
    gaps: list[tuple[int, int]], spans: Sequence[Span], points: set[int]
) -> list[tuple[int, int]]:
    """Join gaps that touch at a plain segment boundary (two talk segments in a row are one
    stretch), but not at a point of interaction."""
    boundaries = {s.start for s in spans}
    merged: list[tuple[int, int]] = []
    for start, end in gaps:
        if merged and merged[-1][1] == start and start in boundaries and start not in points:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class Stretch(NamedTuple):
    """Continuous non-break time [start, end) and the break that follows it (None: the end)."""

    start: int
    end: int
    following_break: int | None  # seconds of break after it; None when the session ends

    @property
    def length(self) -> int:
        return self.end - self.start


def rest_spans(schedule: Schedule) -> list[Span]:
    """The spans with every ``break:`` cue carved out as a break span of its own.

    A break cue inside a segment rests people as much as a break segment does, so it ends a
    continuous stretch; the carved span's path is the cue's.
    """
    cue_breaks: dict[str, list[tuple[int, int, Path]]] = {}
    opened: dict[str, Instant] = {}
    for inst in schedule.instants:
        if inst.cue_index is None:
            continue
        if inst.action == "break_start":
            opened[inst.key] = inst
        elif inst.action == "break_end":
            began = opened.pop(inst.key.rsplit("@", 1)[0], None)
            if began is not None and inst.at > began.at:
                cue_breaks.setdefault(inst.segment_id, []).append((began.at, inst.at, began.path))
    out: list[Span] = []
    for span in schedule.spans:
        cursor = span.start
        for start, end, path in sorted(cue_breaks.get(span.segment_id, [])):
            start, end = max(start, cursor), min(end, span.end)
            if end <= start:
                continue
            if start > cursor:
                out.append(Span(span.segment_id, span.kind, cursor, start, span.path))
            out.append(Span(span.segment_id, SegmentKind.break_, start, end, path))
            cursor = end
        if span.end > cursor or cursor == span.start:
            out.append(Span(span.segment_id, span.kind, cursor, span.end, span.path))
    return out


def continuous_stretches(spans: Sequence[Span]) -> list[Stretch]:
    """Stretches of non-break time, each with the length of the break that ends it."""
    out: list[Stretch] = []
    start: int | None = None
    end = 0
    i = 0
    while i < len(spans):
        span = spans[i]
        if span.kind == SegmentKind.break_:
            rest = 0
            while i < len(spans) and spans[i].kind == SegmentKind.break_:
                rest += spans[i].duration
                i += 1
            if start is not None:
                out.append(Stretch(start, end, rest))
                start = None
            continue
        if start is None:
            start = span.start
        end = span.end
        i += 1
    if start is not None:
        out.append(Stretch(start, end, None))
    return out


def stretch_ok(stretch: Stretch, rules: Sequence[AnyBreakRule]) -> bool:
    """True when some rule allows this stretch with the break that follows it.

    The end of the session counts as a break long enough for every rule.
    """
    if not rules:
        return True
    for rule in rules:
        if stretch.length <= rule.work and (
            stretch.following_break is None or stretch.following_break >= rule.rest
        ):
            return True
    return False
