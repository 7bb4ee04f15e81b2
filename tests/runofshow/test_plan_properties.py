"""Planner invariants over random shows and random control logs (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runofshow.controls import (
    CallBreak,
    Control,
    End,
    Extend,
    FireNow,
    Jump,
    Pause,
    Resume,
    Skip,
    Start,
)
from runofshow.durations import parse_duration
from runofshow.model import Show
from runofshow.plan import CLOSERS, LivePlan, live_plan, plan
from runofshow.schedule import (
    Stretch,
    continuous_stretches,
    interaction_gaps,
    static_schedule,
    stretch_ok,
)
from tests.support.breaks import live_ok

T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
KINDS = ["connection", "talk", "talk", "activity", "discussion", "breakout", "break", "commitments"]
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def shows(draw: st.DrawFn, guards: bool = True) -> Show:
    segments: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(KINDS))
        minutes = draw(st.integers(1, 60))
        cues: list[dict[str, Any]] = []
        if kind != "break":
            offsets = sorted(draw(st.sets(st.integers(0, minutes - 1), max_size=3)))
            for n, offset in enumerate(offsets):
                action = draw(st.sampled_from(["say", "poll", "producer"]))
                cue: dict[str, Any] = {"at": offset * 60}
                if action == "poll":
                    open_for = draw(st.integers(30, 900))
                    cue["poll"] = {"question": "q", "options": ["a", "b"], "open_for": open_for}
                else:
                    cue[action] = f"{action} {index}.{n}"
                cues.append(cue)
        segments.append({"id": f"s{index}", "kind": kind, "duration": minutes * 60, "cues": cues})
    rules: dict[str, Any] = {}
    if not guards:
        rules = {"breaks": [], "interaction_gap": 24 * 3600}
    else:
        rules["breaks"] = draw(st.sampled_from([["50/10", "90/20"], ["50/10"], ["90/20"]]))
    return Show.model_validate(
        {
            "title": "t",
            "duration": sum(s["duration"] for s in segments),
            "segments": segments,
            "rules": rules,
            "prompt_bank": draw(st.lists(st.sampled_from(["x?", "y?", "z?"]), max_size=3)),
        }
    )


@st.composite
def logs(draw: st.DrawFn, show: Show, kinds: tuple[str, ...]) -> tuple[list[Control], datetime]:
    """A Start at T0, then controls at non-decreasing times, and a `now` after them."""
    keys = [i.key for i in static_schedule(show).instants]
    ids = [s.id for s in show.segments]
    moment = T0
    controls: list[Control] = [Start(T0)]
    for _ in range(draw(st.integers(0, 12))):
        moment += timedelta(
            seconds=draw(st.integers(0, 20 * 60)),
            microseconds=draw(st.sampled_from([0, 0, 1, 500_000])),
        )
        kind = draw(st.sampled_from(kinds))
        if kind == "pause":
            controls.append(Pause(moment))
        elif kind == "resume":
            controls.append(Resume(moment))
        elif kind == "extend":
            controls.append(Extend(moment, draw(st.integers(-20, 30).filter(bool)) * 60))
        elif kind == "extend+":
            controls.append(Extend(moment, draw(st.integers(1, 40)) * 60))
        elif kind == "skip":
            controls.append(Skip(moment))
        elif kind == "jump":
            controls.append(Jump(moment, draw(st.sampled_from(ids))))
        elif kind == "fire" and keys:
            suffix = draw(st.sampled_from(["", "", "#2"]))
            controls.append(FireNow(moment, draw(st.sampled_from(keys)) + suffix))
        elif kind == "break":
            controls.append(CallBreak(moment, draw(st.integers(1, 20)) * 60))
        elif kind == "end":
            controls.append(End(moment))
    now = moment + timedelta(seconds=draw(st.integers(0, 6 * 3600)))
    return controls, now


ALL = ("pause", "resume", "extend", "skip", "jump", "fire", "break", "end")


def pauses(p: LivePlan, controls: list[Control]) -> list[tuple[datetime, datetime]]:
    """The pauses that took effect, as (from, to); an open pause runs to now."""
    ignored = {i.index for i in p.ignored}
    out: list[tuple[datetime, datetime]] = []
    opened: datetime | None = None
    last = T0
    for index, control in enumerate(controls):
        moment = max(control.at, last)
        last = moment
        if index in ignored:
            continue
        if isinstance(control, Pause):
            opened = moment
        elif isinstance(control, (Resume, End)) and opened is not None:
            out.append((opened, moment))
            opened = None
    if opened is not None:
        out.append((opened, max(p.now, opened)))
    return out


@PROPS
@given(st.data())
def test_random_logs_keep_every_invariant(data: st.DataObject) -> None:
    show = data.draw(shows())
    controls, now = data.draw(logs(show, ALL))
    p = live_plan(show, controls, now)
    assert p == live_plan(show, controls, now)  # deterministic
    keys = [i.key for i in p.items]
    assert len(keys) == len(set(keys)), "a key appears twice"
    dues = [i.due for i in p.items]
    assert dues == sorted(dues)
    for a, b in zip(p.segments, p.segments[1:], strict=False):
        assert a.end == b.start, (a, b)
        assert a.start <= a.end
    for start, end in pauses(p, controls):
        inside = [i for i in p.items if start < i.due < end and i.origin != "control"]
        inside = [i for i in inside if i.state != "skipped"]
        assert inside == [], f"due while paused {start}-{end}: {inside}"
    if p.status == "paused":
        since = pauses(p, controls)[-1][0]
        assert not [
            i for i in p.items if i.state == "due" and i.due > since and i.origin != "control"
        ]


@PROPS
@given(st.data())
def test_the_past_never_changes_when_a_control_is_appended(data: st.DataObject) -> None:
    """What was due before a control stays due, at the same moment, under the same key."""
    show = data.draw(shows())
    controls, now = data.draw(logs(show, ALL))
    final = {i.key: i for i in live_plan(show, controls, now).items}
    for k in range(1, len(controls)):
        before = live_plan(show, controls[:k], controls[k].at)
        for item in before.due_items():
            after = final.get(item.key)
            assert after is not None, item
            assert (after.due, after.action, after.state) == (item.due, item.action, "due"), (
                item,
                after,
            )


@PROPS
@given(st.data())
def test_end_makes_nothing_new_due_but_closers(data: st.DataObject) -> None:
    """After an End at T only closers (of what is open) are newly due; a pause's hold is dropped."""
    show = data.draw(shows())
    kinds = ("pause", "pause", "resume", "jump", "skip", "extend", "fire", "break")
    controls, _ = data.draw(logs(show, kinds))
    end = controls[-1].at + timedelta(seconds=data.draw(st.integers(0, 20 * 60)))
    later = end + timedelta(seconds=data.draw(st.integers(0, 6 * 3600)))
    ended = live_plan(show, [*controls, End(end)], later)
    before = {i.key: i.due for i in live_plan(show, controls, end).due_items()}
    for item in ended.due_items():
        if item.due >= end and item.action not in CLOSERS:
            assert before.get(item.key) == item.due, (item, ended.items)


@PROPS
@given(st.data())
def test_extend_shifts_everything_after_it_by_exactly_that_much(data: st.DataObject) -> None:
    show = data.draw(shows(guards=False))
    base = plan(show, T0)
    total = show.duration
    moment_s = data.draw(st.integers(0, total - 1))
    seconds = data.draw(st.integers(1, 3600))
    moment = T0 + timedelta(seconds=moment_s)
    p = live_plan(show, [Start(T0), Extend(moment, seconds)], moment)
    current = next(s for s in base.segments if s.start <= moment < s.end)
    shift = timedelta(seconds=seconds)
    for item in base.items:
        after = p.item(item.key)
        assert after is not None
        if item.due <= moment:
            assert after.due == item.due
        elif item.segment_id != current.segment_id:
            assert after.due == item.due + shift, item
    assert p.end - p.start == timedelta(seconds=total + seconds)
    later = [s for s in base.segments if s.start > current.start]
    for planned in later:
        moved = next(s for s in p.segments if s.key == planned.key)
        assert (moved.start, moved.end) == (planned.start + shift, planned.end + shift)


def show_clock(p: LivePlan, controls: list[Control]) -> Callable[[datetime], int]:
    """Show time in seconds (pauses taken out) of a wall-clock moment."""
    gaps = pauses(p, controls)

    def show_time(moment: datetime) -> int:
        paused = sum(
            ((min(moment, end) - start) for start, end in gaps if start < moment),
            timedelta(0),
        )
        return round((moment - p.start - paused).total_seconds())

    return show_time


def stretches(p: LivePlan, controls: list[Control]) -> list[Stretch]:
    """Continuous non-break stretches in show time (pauses taken out), from the plan's pieces."""
    show_time = show_clock(p, controls)
    out: list[Stretch] = []
    start: int | None = None
    end = 0
    rest = 0
    for piece in p.segments:
        if piece.state == "skipped":
            continue
        a, b = show_time(piece.start), show_time(piece.end)
        if piece.kind == "break":
            rest += b - a
            continue
        if start is not None and rest:
            out.append(Stretch(start, end, rest))
            start = None
        if start is None:
            start, rest = a, 0
        end = b
    if start is not None:
        out.append(Stretch(start, end, rest or None))
    return out


@PROPS
@given(st.data())
def test_no_extension_breaks_the_break_rules_unguarded(data: st.DataObject) -> None:
    show = data.draw(shows())
    # A break the producer calls is as long as the producer says: left out here.
    controls, now = data.draw(logs(show, ("pause", "resume", "extend+", "fire")))
    p = live_plan(show, controls, now)
    show_time = show_clock(p, controls)
    longest = max((r.work for r in show.rules.breaks), default=0)
    for stretch in stretches(p, controls):
        if live_ok(stretch, show.rules.breaks):
            continue
        # Only an extension made once every rule's limit had passed can leave this: no break
        # can come before a moment already gone (the guard then offers one again, warned, or
        # lets the end of the session count when it comes first).
        late = [
            c
            for c in controls
            if isinstance(c, Extend) and stretch.start + longest < show_time(c.at) <= stretch.end
        ]
        assert late, (stretch, p.segments)
    if any(isinstance(c, Extend) for c in controls) and any(
        i.action == "break_start" and i.origin == "guard" for i in p.items
    ):
        warned = {i.key for i in p.items if i.action == "break_warning"}
        for item in p.items:
            if item.origin == "guard" and item.action == "break_start":
                assert f"{item.key}@warn" in warned


@PROPS
@given(shows())
def test_a_show_that_keeps_the_rules_plans_without_guards(show: Show) -> None:
    schedule = static_schedule(show)

    clean = all(stretch_ok(s, show.rules.breaks) for s in continuous_stretches(schedule.spans))
    gaps = interaction_gaps(schedule.spans, schedule.instants)
    cadence_clean = all(b - a <= show.rules.interaction_gap for a, b in gaps)
    p = plan(show, T0)
    breaks = [
        i
        for i in p.items
        if i.origin == "guard" and i.action != "filler" and i.action != "producer"
    ]
    fillers = [i for i in p.items if i.origin == "guard" and i.action in ("filler", "producer")]
    assert (breaks == []) == all(
        live_ok(s, show.rules.breaks) for s in continuous_stretches(schedule.spans)
    )
    if clean:
        assert breaks == []
        assert (fillers == []) == cadence_clean
    for stretch in stretches(p, [Start(T0)]):
        assert live_ok(stretch, show.rules.breaks)


@PROPS
@given(st.data())
def test_the_timeline_adds_up(data: st.DataObject) -> None:
    """Show length + extensions + called and guard breaks + pauses = start to end, no gaps."""
    show = data.draw(shows())
    controls, now = data.draw(logs(show, ("pause", "resume", "extend+", "break")))
    p = live_plan(show, controls, now)
    ignored = {i.index for i in p.ignored}
    added = sum(
        c.seconds
        for n, c in enumerate(controls)
        if isinstance(c, (Extend, CallBreak)) and n not in ignored
    )
    gaps = pauses(p, controls)

    # A guard break is as long as its text says; an Extend during it is counted in `added`.
    guard_breaks = timedelta(
        seconds=sum(
            parse_duration(i.text.split()[2])
            for i in p.items
            if i.origin == "guard" and i.action == "break_start" and i.text
        )
    )
    paused = sum((b - a for a, b in gaps), timedelta(0))
    # A guard break that took a planned break's place: the planned one is not taken.
    replaced = timedelta(
        seconds=sum(
            show.segment(s.segment_id).duration
            for s in p.segments
            if s.state == "skipped" and not s.inserted
        )
    )
    assert (
        p.end - p.start
        == timedelta(seconds=show.duration + added) + guard_breaks + paused - replaced
    )
    assert sum((s.duration for s in p.segments), timedelta(0)) == p.end - p.start
