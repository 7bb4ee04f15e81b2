"""The re-planner: how a late session can still land on its planned end. Pure.

``propose(show, controls, now)`` looks at the live plan and, when the session is heading past
its planned end (a late start, an extension, a long break or pause), proposes new lengths for
the segments still ahead, within their flex (``runofshow.flex``), in ``SHRINK_ORDER``: talk
first, then discussion, activity, breakout, the connection and breaks; commitments never.
Breaks keep the rest their rule needs; a guard break near a planned break takes its place
(``runofshow.guards``), so a re-plan never adds a break the show did not need.

When flex cannot absorb the overrun, the proposal says what must give: the first option ends
N minutes late; another drops a named segment and lands on time. The producer chooses. An
accepted option becomes a ``Replan`` control in the log, so a restart derives the same plan.

``lateness(show, controls, now)`` says how late the session ends (or will end) and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from runofshow.controls import CallBreak, Control, Extend, Pause, Replan, ReplanPolicy, Resume
from runofshow.durations import format_duration
from runofshow.flex import SHRINK_ORDER, flex_range
from runofshow.model import SegmentKind, Show
from runofshow.plan import LivePlan, live_plan

#: Lateness under this is noise, not worth a re-plan (seconds).
THRESHOLD = 60
_NEVER_DROP = frozenset({SegmentKind.commitments, SegmentKind.break_, SegmentKind.connection})


@dataclass(frozen=True, slots=True)
class Change:
    segment_id: str
    before: int  # seconds
    after: int  # seconds; 0 drops it


@dataclass(frozen=True, slots=True)
class Option:
    label: str  # what the producer reads: "shrink debrief 25m → 20m: ends on time"
    changes: tuple[Change, ...]
    end: datetime  # the session's end if taken
    late_by: int  # seconds past the planned end if taken (0: on time)

    @property
    def durations(self) -> dict[str, int]:
        return {c.segment_id: c.after for c in self.changes}

    def control(self, at: datetime) -> Replan:
        return Replan(at, tuple(self.durations.items()), self.label[:500])


@dataclass(frozen=True, slots=True)
class Proposal:
    planned_end: datetime
    end: datetime  # as things stand, without a re-plan
    late_by: int  # seconds, as things stand
    reasons: tuple[str, ...]
    options: tuple[Option, ...]  # the first is the recommended one
    auto: bool  # the producer chose to accept every proposal for this session

    @property
    def lands(self) -> bool:
        return self.options[0].late_by == 0


@dataclass(frozen=True, slots=True)
class Lateness:
    planned_end: datetime
    end: datetime
    late_by: int  # seconds; negative when early
    reasons: tuple[str, ...]

    def summary(self) -> str:
        if abs(self.late_by) < THRESHOLD:
            return "on time"
        if self.late_by < 0:
            return f"{format_duration(-self.late_by)} early"
        why = "; ".join(self.reasons) if self.reasons else "the live run took longer"
        return f"{format_duration(self.late_by)} late: {why}"


def planned_end(show: Show, p: LivePlan) -> datetime:
    return p.start + timedelta(seconds=show.duration)


def _seconds(delta: timedelta) -> int:
    return round(delta.total_seconds())


def lateness(show: Show, controls: Sequence[Control], now: datetime) -> Lateness:
    """How late the session ends (or will end, as things stand) against the plan, and why."""
    p = live_plan(show, controls, now)
    end = planned_end(show, p)
    return Lateness(end, p.end, _seconds(p.end - end), _reasons(show, controls, p))


def _reasons(show: Show, controls: Sequence[Control], p: LivePlan) -> tuple[str, ...]:
    ignored = {i.index for i in p.ignored}
    extended: dict[str, int] = {}
    paused = timedelta(0)
    opened: datetime | None = None
    called = 0
    replanned = 0
    for index, control in enumerate(controls):
        if index in ignored:
            continue
        if isinstance(control, Extend):
            where = _segment_at(p, control.at)
            extended[where] = extended.get(where, 0) + control.seconds
        elif isinstance(control, Pause):
            opened = control.at
        elif isinstance(control, Resume) and opened is not None:
            paused += control.at - opened
            opened = None
        elif isinstance(control, CallBreak):
            called += control.seconds
        elif isinstance(control, Replan):
            replanned += 1
    if opened is not None:
        paused += max(timedelta(0), p.now - opened)
    out = [
        f"{'extended' if seconds > 0 else 'shortened'} {where} by {format_duration(abs(seconds))}"
        for where, seconds in extended.items()
        if seconds
    ]
    if paused >= timedelta(seconds=THRESHOLD):
        out.append(f"paused for {format_duration(_seconds(paused))}")
    if called:
        out.append(f"breaks called by the producer: {format_duration(called)}")
    guards = [s for s in p.segments if s.origin == "guard" and s.state != "skipped"]
    replaced = {key for s in guards for key in s.replaces}
    # A guard break in place of a planned one adds only what it is longer than that break.
    added = sum((s.duration for s in guards), timedelta(0)) - timedelta(
        seconds=sum(show.segment(key).duration for key in replaced if _is_segment(show, key))
    )
    if added > timedelta(0):
        out.append(f"breaks added to keep the break rules: {format_duration(_seconds(added))}")
    if replaced:
        out.append(f"a break moved to keep the break rules ({', '.join(sorted(replaced))})")
    if replanned:
        out.append(f"{replanned} re-plan(s) accepted")
    return tuple(out)


def _is_segment(show: Show, key: str) -> bool:
    return any(s.id == key for s in show.segments)


def _segment_at(p: LivePlan, at: datetime) -> str:
    for s in p.segments:
        if s.start <= at < s.end and s.state != "skipped":
            return s.segment_id
    return "the session"


def _policy(controls: Sequence[Control]) -> tuple[bool, datetime | None]:
    """(always accept?, when the producer last dismissed a proposal)."""
    auto = False
    dismissed: datetime | None = None
    for control in controls:
        if isinstance(control, ReplanPolicy):
            if control.auto:
                auto, dismissed = True, None
            else:  # a dismissal also ends "always accept"
                auto, dismissed = False, control.at
    return auto, dismissed


def propose(show: Show, controls: Sequence[Control], now: datetime) -> Proposal | None:
    """A way to land the running session on its planned end, or None when none is needed.

    None too while the producer's dismissal stands: until a control changes the plan again.
    """
    p = live_plan(show, controls, now)
    if p.status not in ("running", "paused"):
        return None
    target = planned_end(show, p)
    late = _seconds(p.end - target)
    if late < THRESHOLD:
        return None
    auto, dismissed = _policy(controls)
    if dismissed is not None and not any(
        c.at > dismissed and not isinstance(c, ReplanPolicy) for c in controls
    ):
        return None
    room = _room(show, p, now)
    options: list[Option] = []
    shrink = _shrink(room, late)
    if shrink:
        options.append(_option(show, controls, now, target, shrink, "shrink"))
    drop = _drop(show, p, late, room)
    if drop is not None and (not options or options[0].late_by > 0):
        options.append(_option(show, controls, now, target, (drop,), "drop"))
    if not options or options[0].changes == (drop,) or options[0].late_by > 0:
        # Unless shrinking lands, "end late" is a choice too: what happens when nobody acts.
        options.append(Option(f"end {format_duration(late)} late", (), p.end, late))
    options.sort(key=lambda o: (o.late_by, len(o.changes)))
    return Proposal(target, p.end, late, _reasons(show, controls, p), tuple(options), auto)


@dataclass(frozen=True, slots=True)
class _Room:
    segment_id: str
    kind: SegmentKind
    length: int  # its length now (seconds)
    lowest: int  # the shortest it may become now
    ahead: bool  # not started yet (may be dropped)


def _room(show: Show, p: LivePlan, now: datetime) -> list[_Room]:
    """The segments a re-plan may still change, in show order, each once."""
    rules = show.rules.breaks
    pieces: dict[str, list[int]] = {}
    for n, s in enumerate(p.segments):
        pieces.setdefault(s.key, []).append(n)
    # A segment that has begun is the producer's to steer (it may just have been extended).
    seen = {s.key for s in p.segments if s.state in ("current", "done")}
    out: list[_Room] = []
    for s in p.segments:
        # The segments ahead: the current one is the producer's to steer (and may just have
        # been extended on purpose).
        if s.inserted or s.state != "upcoming" or s.key in seen:
            continue
        seen.add(s.key)
        if s.key != s.segment_id:  # a re-run after a jump back: leave it as it is
            continue
        parts = [p.segments[n] for n in pieces[s.key]]
        if any(part.state == "done" for part in parts) and s.state == "upcoming":
            continue  # the rest of a segment a break interrupted
        segment = show.segment(s.segment_id)
        length = s.offset + _seconds(sum((part.duration for part in parts), timedelta(0)))
        flex = flex_range(segment, rules)
        lowest = min(length, flex.min)
        out.append(_Room(s.segment_id, segment.kind, length, lowest, s.offset == 0))
    return out


def _shrink(room: Sequence[_Room], late: int) -> tuple[Change, ...]:
    rank = {kind: n for n, kind in enumerate(SHRINK_ORDER)}
    order = sorted(
        (r for r in room if r.kind in rank and r.length > r.lowest),
        key=lambda r: rank[r.kind],  # stable: show order within a kind
    )
    changes: list[Change] = []
    left = late
    for r in order:
        if left <= 0:
            break
        take = min(left, r.length - r.lowest)
        changes.append(Change(r.segment_id, r.length, r.length - take))
        left -= take
    return tuple(changes)


def _drop(show: Show, p: LivePlan, late: int, room: Sequence[_Room]) -> Change | None:
    """The shortest droppable segment ahead whose time covers the overrun."""
    fits = [r for r in room if r.ahead and r.kind not in _NEVER_DROP and r.length >= late]
    if not fits:
        return None
    best = min(fits, key=lambda r: (r.length, r.segment_id))
    return Change(best.segment_id, best.length, 0)


def _option(
    show: Show,
    controls: Sequence[Control],
    now: datetime,
    target: datetime,
    changes: tuple[Change, ...],
    how: str,
) -> Option:
    durations = tuple((c.segment_id, c.after) for c in changes)
    after = live_plan(show, [*controls, Replan(now, durations)], now)
    late_by = max(0, _seconds(after.end - target))
    if how == "drop":
        words = f"drop {changes[0].segment_id} ({format_duration(changes[0].before)})"
    else:
        words = "shrink " + ", ".join(
            f"{c.segment_id} {format_duration(c.before)} → {format_duration(c.after)}"
            for c in changes
        )
    outcome = "ends on time" if late_by < THRESHOLD else f"ends {format_duration(late_by)} late"
    return Option(f"{words}: {outcome}", changes, after.end, late_by if late_by >= THRESHOLD else 0)
