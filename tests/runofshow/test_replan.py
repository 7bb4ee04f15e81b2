"""The re-planner and the guard fixes: worked examples and properties (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from runofshow.controls import (
    CallBreak,
    Control,
    Extend,
    ReplanPolicy,
    Skip,
    Start,
    control_from_json,
    to_json,
)
from runofshow.flex import flex_range
from runofshow.guards import US, end_allowance, min_rest
from runofshow.lint import lint
from runofshow.loader import load_show, load_show_text
from runofshow.model import Show
from runofshow.plan import LivePlan, live_plan, plan
from runofshow.replan import lateness, propose
from runofshow.schedule import continuous_stretches, rest_spans, static_schedule, stretch_ok
from tests.runofshow.test_plan_properties import PROPS, T0, logs, shows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MIN = 60


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minutes(moment: datetime) -> float:
    return (moment - T0).total_seconds() / 60


def breaks_taken(p: LivePlan) -> list[tuple[str, float, float]]:
    return [
        (s.key, minutes(s.start), minutes(s.end))
        for s in p.segments
        if s.kind == "break" and s.state != "skipped" and s.end > s.start
    ]


# --- worked examples -----------------------------------------------------------------------


def test_the_roleplay_demo_extension_inserts_no_break_and_a_replan_lands_on_time() -> None:
    show = load_show(EXAMPLES / "roleplay-90m.yaml").show
    controls: list[Control] = [Start(T0), Extend(at(25), 5 * MIN)]
    p = live_plan(show, controls, at(25))
    # 95 minutes in one stretch: the end of the session, 5 minutes past 90/20's limit, counts as
    # the break. Nobody is sent on a 20-minute break to come back for a 5-minute close.
    assert breaks_taken(p) == []
    assert minutes(p.end) == 95
    late = lateness(show, controls, at(25))
    assert late.late_by == 5 * MIN and late.summary() == "5m late: extended roleplay by 5m"
    proposal = propose(show, controls, at(25))
    assert proposal is not None and proposal.lands
    best = proposal.options[0]
    assert [(c.segment_id, c.before, c.after) for c in best.changes] == [
        ("debrief", 25 * MIN, 20 * MIN)
    ]
    assert best.label == "shrink debrief 25m → 20m: ends on time"
    accepted = [*controls, best.control(at(25))]
    after = live_plan(show, accepted, at(26))
    assert minutes(after.end) == 90 and breaks_taken(after) == []
    assert lateness(show, accepted, at(26)).summary() == "on time"
    assert propose(show, accepted, at(26)) is None
    # A restart derives the same plan from the log as stored (JSON).
    stored = [control_from_json(to_json(c)) for c in accepted]
    assert live_plan(show, stored, at(26)) == after


def test_the_3h_workshop_extension_merges_the_guard_break_into_the_coffee_break() -> None:
    show = load_show(EXAMPLES / "workshop-3h.yaml").show
    assert plan(show, T0).end == at(180)
    p = live_plan(show, [Start(T0), Extend(at(25), 5 * MIN)], at(25))
    taken = breaks_taken(p)
    # rewrite now runs to 52: 50/10 wants a break by 50, the coffee was due at 52. One break.
    assert taken[0] == ("~break:rewrite+28m", 50, 60)
    assert [s.key for s in p.segments if s.state == "skipped"] == ["coffee"]
    keys = [s.key for s in p.segments if s.state != "skipped"]
    assert keys[:5] == ["welcome", "model", "rewrite", "~break:rewrite+28m", "rewrite"]
    guard = p.item("~break:rewrite+28m")
    assert guard is not None and guard.text == "break of 10m (50/10 rule), in place of coffee"
    for a, b in zip(p.segments, p.segments[1:], strict=False):
        assert not (a.kind == b.kind == "break" and a.state != "skipped" != b.state), (a, b)
    # No break was added: the session is late by the extension only, and a re-plan lands it.
    assert minutes(p.end) == 185
    controls: list[Control] = [Start(T0), Extend(at(25), 5 * MIN)]
    proposal = propose(show, controls, at(25))
    assert proposal is not None and proposal.lands
    after = live_plan(show, [*controls, proposal.options[0].control(at(25))], at(25))
    assert minutes(after.end) == 180 and len(breaks_taken(after)) == 3


def test_a_late_start_is_absorbed_by_the_declared_flex_in_order() -> None:
    show = load_show(EXAMPLES / "workshop-3h.yaml").show
    controls: list[Control] = [Start(T0), Extend(at(5), 14 * MIN)]
    proposal = propose(show, controls, at(5))
    assert proposal is not None and proposal.lands
    # Talk first (model, hard-cases), then discussion, never the commitments or the breaks.
    changed = [c.segment_id for c in proposal.options[0].changes]
    assert changed[:2] == ["model", "hard-cases"]
    assert "commit" not in changed and not {"coffee", "stretch", "tea"} & set(changed)


def test_when_flex_cannot_land_the_producer_chooses_late_or_drop() -> None:
    show = load_show(EXAMPLES / "roleplay-90m.yaml").show
    controls: list[Control] = [Start(T0), Extend(at(25), 15 * MIN)]
    proposal = propose(show, controls, at(25))
    assert proposal is not None and proposal.lands
    # Shrinking the debrief gives 8 minutes of the 15: not enough. Dropping it lands; or end late.
    assert [o.label for o in proposal.options] == [
        "drop debrief (25m): ends on time",
        "shrink debrief 25m → 17m: ends 7m late",
        "end 15m late",
    ]
    assert [o.late_by for o in proposal.options] == [0, 7 * MIN, 15 * MIN]


def test_dismiss_and_always_accept_are_in_the_log() -> None:
    show = load_show(EXAMPLES / "roleplay-90m.yaml").show
    controls: list[Control] = [Start(T0), Extend(at(25), 5 * MIN), ReplanPolicy(at(26))]
    assert propose(show, controls, at(27)) is None  # dismissed
    again = [*controls, Extend(at(30), 2 * MIN)]
    proposal = propose(show, again, at(30))
    assert proposal is not None and not proposal.auto  # a new overrun: proposed again
    auto = propose(show, [*again, ReplanPolicy(at(31), auto=True)], at(31))
    assert auto is not None and auto.auto


def test_a_short_break_does_not_count_and_the_producer_is_warned() -> None:
    show = load_show(EXAMPLES / "roleplay-90m.yaml").show
    p = live_plan(show, [Start(T0), CallBreak(at(20), 3 * MIN)], at(21))
    warning = p.item("~short:~callbreak:1")
    assert warning is not None and minutes(warning.due) == 20
    assert "shorter than the 10m a break needs" in (warning.text or "")


def test_a_skipped_guard_break_is_offered_again_within_its_window() -> None:
    show = load_show(EXAMPLES / "workshop-3h.yaml").show
    controls: list[Control] = [Start(T0), Extend(at(25), 5 * MIN), Skip(at(51))]
    p = live_plan(show, controls, at(51))
    offered = [i for i in p.items if i.action == "break_start" and i.origin == "guard"]
    assert offered[0].key == "~break:rewrite+28m"
    # 50/10's limit is behind; the break comes again within the window 90/20 still leaves, in
    # place of the planned stretch break (no break added back to back), warned ahead.
    again = offered[1]
    assert 51 < minutes(again.due) <= 90
    assert again.text == "break of 20m (90/20 rule), in place of stretch"
    assert p.item(f"{again.key}@warn") is not None
    assert [s.key for s in p.segments if s.state == "skipped"] == ["coffee", "stretch"]


def test_a_break_cue_ends_a_stretch_for_the_linter_and_the_planner() -> None:
    text = """
title: t
duration: 100m
rules: {breaks: ["50/10"], interaction_gap: 60m}
segments:
  - {id: a, kind: activity, duration: 45m}
  - id: b
    kind: activity
    duration: 55m
    cues:
      - {at: 0m, break: {duration: 10m}}
"""
    loaded = load_show_text(text)
    assert [f.code for f in lint(loaded) if f.code == "FB201"] == []
    spans = rest_spans(static_schedule(loaded.show))
    assert [(s.segment_id, s.kind.value, s.start // 60, s.end // 60) for s in spans] == [
        ("a", "activity", 0, 45),
        ("b", "break", 45, 55),
        ("b", "activity", 55, 100),
    ]
    p = plan(loaded.show, T0)
    assert [i for i in p.items if i.origin == "guard"] == []
    # 20 more minutes in b: 75 of work after the break cue (past the end's allowance); the
    # guard counts from the break cue, not from the start: its break is due at 55 + 50.
    p = live_plan(loaded.show, [Start(T0), Extend(at(60), 20 * MIN)], at(60))
    guard = [i for i in p.items if i.origin == "guard" and i.action == "break_start"]
    assert guard and minutes(guard[0].due) == 105


def test_no_guard_break_right_after_a_break_cut_too_short() -> None:
    # Found by hypothesis in CI: the coffee break skipped one second short of its rest does not
    # count, and the guard used to put a whole break at the skip's own moment, right after it.
    text = """
title: t
duration: 105m
rules: {breaks: ["50/10"]}
segments:
  - {id: s0, kind: connection, duration: 15m}
  - {id: s1, kind: talk, duration: 10m}
  - {id: coffee, kind: break, duration: 10m}
  - {id: s3, kind: talk, duration: 15m}
  - {id: s4, kind: talk, duration: 55m}
"""
    show = load_show_text(text).show
    skip_at = T0 + timedelta(minutes=35, seconds=1)
    controls: list[Control] = [
        Start(T0),
        Extend(T0, MIN),
        Skip(T0 + timedelta(minutes=15, seconds=2)),
        Skip(skip_at),
    ]
    p = live_plan(show, controls, skip_at)
    short = p.item("~short:coffee")
    assert short is not None and short.due == skip_at
    guard = [i for i in p.items if i.origin == "guard" and i.action == "break_start"]
    # The stretch runs on from 8:00 (9m59s of rest counts for nothing): the break comes at
    # 50/10's limit, warned five minutes ahead, not at 8:35:01.
    assert [minutes(i.due) for i in guard] == [50]
    assert p.item(f"{guard[0].key}@warn") is not None


def test_a_rule_that_can_still_be_kept_wins_over_one_already_missed() -> None:
    # Found by hypothesis in CI: an extension one second past 50/10's limit used to bring a
    # 10-minute break five minutes later, which keeps neither rule (55 minutes of work before
    # 10 of rest). 90/20 can still be kept: its break comes at 90 minutes, 20 long.
    show = Show.model_validate(
        {
            "title": "t",
            "duration": 3000,
            "segments": [{"id": "s0", "kind": "connection", "duration": 3000}],
            "rules": {"breaks": ["50/10", "90/20"]},
        }
    )
    late = T0 + timedelta(minutes=50, seconds=1)
    controls: list[Control] = [Start(T0), Extend(T0, 31 * MIN), Extend(late, 25 * MIN)]
    p = live_plan(show, controls, late)
    assert breaks_taken(p) == [("~break:s0+1h30m", 90, 110)]
    guard = p.item("~break:s0+1h30m")
    assert guard is not None and guard.text == "break of 20m (90/20 rule)"


def test_flex_defaults_by_kind() -> None:
    show = load_show(EXAMPLES / "roleplay-90m.yaml").show
    rules = show.rules.breaks
    ranges = {s.id: flex_range(s, rules) for s in show.segments}
    assert ranges["commit"].min == 5 * MIN  # commitments never shrink
    assert ranges["debrief"].min == 17 * MIN  # a third, never below its last cue
    assert ranges["roleplay"].min == 41 * MIN  # its last cue is at 40m
    workshop = load_show(EXAMPLES / "workshop-3h.yaml").show
    assert flex_range(workshop.segment("coffee"), workshop.rules.breaks).min == 10 * MIN
    assert flex_range(workshop.segment("model"), workshop.rules.breaks).min == 8 * MIN


def test_flex_is_validated_and_linted() -> None:
    head = "title: t\nduration: 30m\nsegments:\n"
    bad = load_show_text(
        head + "  - {id: a, kind: commitments, duration: 20m}\n"
        "  - {id: c, kind: commitments, duration: 10m, flex: {min: 5m}}\n"
    )
    codes = {f.code: f for f in lint(bad)}
    assert "FB202" in codes and codes["FB202"].line == 5
    assert "FB203" in codes
    import pytest

    from runofshow.source import ShowError

    with pytest.raises(ShowError, match="flex min 40m is longer"):
        load_show_text(head + "  - {id: a, kind: connection, duration: 30m, flex: {min: 40m}}\n")


# --- properties ----------------------------------------------------------------------------


def lint_clean(show: Show) -> bool:
    spans = rest_spans(static_schedule(show))
    return all(stretch_ok(s, show.rules.breaks) for s in continuous_stretches(spans))


def with_replans(show: Show, controls: list[Control], accept: list[bool]) -> list[Control]:
    """The log with the standing proposal accepted after some controls, as a producer would."""
    out: list[Control] = []
    for control, take in zip(controls, accept + [False] * len(controls), strict=False):
        out.append(control)
        if take:
            proposal = propose(show, out, control.at)
            if proposal is not None and proposal.options[0].changes:
                out.append(proposal.options[0].control(control.at))
    return out


def live_stretches(p: LivePlan, rest: int) -> list[tuple[datetime, datetime, bool]]:
    """(start, end, ends the session) of continuous work; a break run counts only when it is at
    least ``rest`` long (no pauses in these logs, so real time is show time)."""
    out: list[tuple[datetime, datetime, bool]] = []
    start: datetime | None = None
    end = p.start
    resting = timedelta(0)
    for piece in p.segments:
        if piece.state == "skipped" or piece.end <= piece.start:
            continue
        if piece.kind == "break":
            resting += piece.duration
            continue
        if start is not None and resting >= timedelta(microseconds=rest):
            out.append((start, end, False))
            start = None
        resting = timedelta(0)
        if start is None:
            start = piece.start
        end = piece.end
    if start is not None:
        out.append((start, end, resting == timedelta(0)))
    return out


KINDS = ("extend", "extend+", "skip", "jump", "break", "fire")


@PROPS
@given(st.data())
def test_the_live_plan_never_leaves_an_overlong_stretch_unwarned(data: st.DataObject) -> None:
    show = data.draw(shows())
    assume(lint_clean(show))
    controls, now = data.draw(logs(show, KINDS))
    accept = data.draw(st.lists(st.booleans(), max_size=len(controls)))
    log = with_replans(show, controls, accept)
    p = live_plan(show, log, now)
    rules = show.rules.breaks
    longest = max(r.work for r in rules) * US
    warnings = [i.due for i in p.items if i.action == "break_warning" and i.state != "skipped"]
    for start, end, at_end in live_stretches(p, min_rest(rules)):
        allowed = longest + (max(end_allowance(r) for r in rules) if at_end else 0)
        if (end - start) > timedelta(microseconds=allowed):
            assert any(start <= w <= end for w in warnings), (start, end, p.segments)


@PROPS
@given(st.data())
def test_the_live_plan_never_schedules_a_guard_break_back_to_back(data: st.DataObject) -> None:
    show = data.draw(shows())
    assume(lint_clean(show))
    controls, now = data.draw(logs(show, ("extend", "extend+", "skip", "fire")))
    accept = data.draw(st.lists(st.booleans(), max_size=len(controls)))
    p = live_plan(show, with_replans(show, controls, accept), now)
    ran = [s for s in p.segments if s.state != "skipped" and s.end > s.start]
    for a, b in itertools.pairwise(ran):
        if a.kind == b.kind == "break" and a.end == b.start:
            assert a.origin != "guard" and b.origin != "guard", (a, b)


@PROPS
@given(st.data())
def test_an_accepted_replan_lands_on_the_planned_end_when_flex_allows(
    data: st.DataObject,
) -> None:
    show = data.draw(shows())
    assume(lint_clean(show))
    first = show.segments[0].duration
    when = T0 + timedelta(seconds=data.draw(st.integers(0, max(0, first - 61))))
    seconds = data.draw(st.integers(1, 30)) * MIN
    controls: list[Control] = [Start(T0), Extend(when, seconds)]
    before = live_plan(show, controls, when)
    target = T0 + timedelta(seconds=show.duration)
    proposal = propose(show, controls, when)
    if before.end - target < timedelta(minutes=1):
        assert proposal is None
        return
    assert proposal is not None
    rules = show.rules.breaks
    # What the flex of the segments still ahead can give (the current one is the producer's).
    ahead = {s.segment_id for s in before.segments if s.state == "upcoming" and not s.inserted}
    room = sum(flex_range(s, rules).shrink(s.duration) for s in show.segments[1:] if s.id in ahead)
    late = round((before.end - target).total_seconds())
    if room >= late:
        assert proposal.lands, proposal
    best = proposal.options[0]
    if best.changes:
        after = live_plan(show, [*controls, best.control(when)], when)
        assert after.end == best.end
        if proposal.lands:
            assert after.end <= target + timedelta(minutes=1)
        assert after.end <= before.end


def test_lateness_says_a_merged_break_added_no_time() -> None:
    show = load_show(EXAMPLES / "workshop-3h.yaml").show
    late = lateness(show, [Start(T0), Extend(at(25), 5 * MIN)], at(25))
    assert late.summary() == (
        "5m late: extended rewrite by 5m; a break moved to keep the break rules (coffee)"
    )
