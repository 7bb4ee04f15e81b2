"""The planner on readable cases: what a producer does, and what the timeline then says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runofshow.controls import (
    CallBreak,
    ControlError,
    End,
    Extend,
    FireNow,
    Jump,
    Pause,
    Resume,
    Skip,
    Start,
    control_from_json,
    to_json,
)
from runofshow.loader import load_show
from runofshow.model import Show
from runofshow.plan import LivePlan, describe_item, live_plan, plan
from runofshow.schedule import static_schedule

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
MIN = 60


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minutes(moment: datetime) -> float:
    return (moment - T0) / timedelta(minutes=1)


def make_show(*segments: dict[str, Any], **extra: Any) -> Show:
    total = sum(s["duration"] for s in segments)
    return Show.model_validate(
        {"title": "t", "duration": total, "segments": list(segments)} | extra
    )


def due(p: LivePlan, key: str) -> float:
    item = p.item(key)
    assert item is not None, key
    return minutes(item.due)


def seg(p: LivePlan, key: str) -> tuple[float, float, str]:
    found = [s for s in p.segments if s.key == key]
    assert len(found) == 1, (key, found)
    return minutes(found[0].start), minutes(found[0].end), found[0].state


# A 60-minute show: check-in, a talk with a poll, a breakout, a debrief.
WORKSHOP = make_show(
    {
        "id": "arrive",
        "kind": "connection",
        "duration": 5 * MIN,
        "cues": [{"at": 0, "say": "One word?"}],
    },
    {
        "id": "talk",
        "kind": "talk",
        "duration": 15 * MIN,
        "cues": [
            {"at": 5 * MIN, "poll": {"question": "Which?", "options": ["a", "b"], "open_for": 120}},
            {"at": 10 * MIN, "say": "Question?"},
        ],
    },
    {
        "id": "rooms",
        "kind": "breakout",
        "duration": 20 * MIN,
        "breakout": {"size": 3, "warn_before_close": 120},
    },
    {"id": "debrief", "kind": "discussion", "duration": 15 * MIN},
    {"id": "commit", "kind": "commitments", "duration": 5 * MIN},
    prompt_bank=["filler one", "filler two"],
)


# --- as planned -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_plan_without_guards_and_match_the_static_schedule(path: Path) -> None:
    show = load_show(path).show
    p = plan(show, T0)
    assert p.status == "waiting"
    assert [i.origin for i in p.items if i.origin != "show"] == []
    assert all(i.state == "upcoming" for i in p.items)
    assert p.end - p.start == timedelta(seconds=show.duration)
    for a, b in zip(p.segments, p.segments[1:], strict=False):
        assert a.end == b.start
    static = static_schedule(show)
    assert {i.key: T0 + timedelta(seconds=i.at) for i in static.instants} == {
        i.key: i.due for i in p.items
    }
    assert [s.segment_id for s in p.segments] == [s.id for s in show.segments]


def test_plan_times_and_keys() -> None:
    p = plan(WORKSHOP, T0)
    assert [seg(p, k)[:2] for k in ("arrive", "talk", "rooms", "debrief", "commit")] == [
        (0, 5),
        (5, 20),
        (20, 40),
        (40, 55),
        (55, 60),
    ]
    assert due(p, "talk-1") == 10 and due(p, "talk-1@close") == 12
    assert due(p, "rooms@warn") == 38 and due(p, "rooms@close") == 40
    assert [i.due for i in p.items] == sorted(i.due for i in p.items)
    poll = p.item("talk-1")
    assert poll is not None and describe_item(WORKSHOP, poll) == "Which? [a / b]"


# --- the clock ------------------------------------------------------------------------------


def test_running_show_marks_the_past_due_and_knows_where_it_is() -> None:
    p = live_plan(WORKSHOP, [Start(T0)], at(11))
    assert p.status == "running"
    assert p.item("talk-1").state == "due"  # type: ignore[union-attr]
    assert p.item("talk-2").state == "upcoming"  # type: ignore[union-attr]
    current = p.current_segment
    assert current is not None and current.segment_id == "talk"
    assert p.time_left_in_segment == timedelta(minutes=9)
    nxt = p.next_item()
    assert nxt is not None and nxt.key == "talk-1@close" and minutes(nxt.due) == 12
    assert p.next_item(at(12.5)).key == "talk-2"  # type: ignore[union-attr]


def test_waiting_show_is_forecast_from_now() -> None:
    p = live_plan(WORKSHOP, [], at(30))
    assert p.status == "waiting"
    assert p.start == at(30) and all(i.state == "upcoming" for i in p.items)


def test_the_show_ends_on_its_own() -> None:
    p = live_plan(WORKSHOP, [Start(T0)], at(61))
    assert p.status == "ended"
    assert all(i.state == "due" for i in p.items)
    assert all(s.state == "done" for s in p.segments)


def test_pause_shifts_everything_after_it_and_nothing_fires_meanwhile() -> None:
    controls = [Start(T0), Pause(at(7)), Resume(at(17))]
    p = live_plan(WORKSHOP, controls, at(18))
    assert due(p, "talk-1") == 20 and due(p, "talk-1@close") == 22
    assert seg(p, "talk") == (5, 30, "current")
    assert due(p, "arrive-1") == 0
    assert p.end == at(70)
    # While paused, the forecast starts again from now and nothing is due.
    paused = live_plan(WORKSHOP, controls[:2], at(12))
    assert paused.status == "paused"
    assert due(paused, "talk-1") == 15 and paused.item("talk-1").state == "upcoming"  # type: ignore[union-attr]
    assert paused.time_left_in_segment == timedelta(minutes=13)


def test_extend_moves_the_end_and_everything_after_it() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Extend(at(25), 5 * MIN)], at(25))
    before = plan(WORKSHOP, T0)
    assert seg(p, "rooms") == (20, 45, "current")
    assert due(p, "rooms@warn") == 43 and due(p, "rooms@close") == 45
    for item in before.items:
        moved = p.item(item.key)
        assert moved is not None
        shift = 5 if minutes(item.due) > 25 else 0
        assert minutes(moved.due) == minutes(item.due) + shift, item.key
    # Shortening never goes below what has already run: a big cut ends the segment now.
    cut = live_plan(WORKSHOP, [Start(T0), Extend(at(25), -30 * MIN)], at(25))
    assert seg(cut, "rooms") == (20, 25, "done")
    assert due(cut, "rooms@close") == 25
    assert cut.item("rooms@warn").state == "skipped"  # type: ignore[union-attr]


def test_shortening_drops_cues_past_the_new_end_with_their_closers() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Extend(at(7), -8 * MIN)], at(7))
    assert seg(p, "talk") == (5, 12, "current")
    assert due(p, "talk-1") == 10 and due(p, "talk-1@close") == 12  # the poll closes at the end
    assert p.item("talk-2").state == "skipped"  # type: ignore[union-attr]


def test_skip_closes_what_is_open_and_skips_the_rest() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Skip(at(11))], at(11))
    assert seg(p, "talk") == (5, 11, "done")
    closing = p.item("talk-1@close")
    assert closing is not None and minutes(closing.due) == 11 and closing.state == "due"
    assert p.item("talk-2").state == "skipped"  # type: ignore[union-attr]
    assert seg(p, "rooms")[:2] == (11, 31)
    assert p.end == at(51)


def test_jump_forward_skips_and_jump_back_runs_again_under_new_keys() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Jump(at(6), "debrief"), Jump(at(10), "talk")], at(11))
    assert seg(p, "rooms")[2] == "skipped"
    assert p.item("rooms@open").state == "skipped"  # type: ignore[union-attr]
    assert seg(p, "debrief") == (6, 10, "done")
    assert seg(p, "talk#2") == (10, 25, "current")
    assert due(p, "talk-1#2") == 15 and due(p, "talk-1#2@close") == 17
    assert p.item("talk-1#2@close").closes == "talk-1#2"  # type: ignore[union-attr]
    assert p.item("rooms#2@close").closes == "rooms#2@open"  # type: ignore[union-attr]
    assert seg(p, "rooms#2")[:2] == (25, 45)
    assert seg(p, "debrief#2")[:2] == (45, 60)
    keys = [i.key for i in p.items]
    assert len(keys) == len(set(keys))


def test_fire_now_moves_a_cue_and_its_closer() -> None:
    controls = [Start(T0), FireNow(at(6), "talk-1")]
    p = live_plan(WORKSHOP, controls, at(7))
    fired = p.item("talk-1")
    assert fired is not None and fired.origin == "control" and minutes(fired.due) == 6
    assert due(p, "talk-1@close") == 8
    assert p.item("talk-1@close").closes == "talk-1"  # type: ignore[union-attr]
    assert [i.key for i in p.items].count("talk-1") == 1
    again = live_plan(WORKSHOP, [*controls, FireNow(at(7), "talk-1")], at(7))
    assert [i.reason for i in again.ignored] == ["talk-1 has already fired"]
    unknown = live_plan(WORKSHOP, [Start(T0), FireNow(at(1), "nope")], at(1))
    assert unknown.ignored[0].reason == "no upcoming cue with key 'nope'"


def test_call_break_interrupts_the_segment_and_it_continues_after() -> None:
    p = live_plan(WORKSHOP, [Start(T0), CallBreak(at(8), 10 * MIN)], at(9))
    talk = [s for s in p.segments if s.key == "talk"]
    assert [(minutes(s.start), minutes(s.end), s.offset) for s in talk] == [
        (5, 8, 0),
        (18, 30, 180),
    ]
    brk = seg(p, "~callbreak:1")
    assert brk == (8, 18, "current")
    assert due(p, "~callbreak:1") == 8 and due(p, "~callbreak:1@end") == 18
    assert due(p, "talk-1") == 20 and due(p, "talk-2") == 25
    assert p.end == at(70)


def test_end_skips_everything_left_but_closes_the_open_poll() -> None:
    p = live_plan(WORKSHOP, [Start(T0), End(at(11))], at(40))
    assert p.status == "ended" and p.end == at(11)
    assert due(p, "talk-1@close") == 11 and p.item("talk-1@close").state == "due"  # type: ignore[union-attr]
    assert all(
        i.state == "skipped" for i in p.items if minutes(i.due) == 11 and i.key != "talk-1@close"
    )
    assert [s.state for s in p.segments] == ["done", "done", "skipped", "skipped", "skipped"]
    late = live_plan(WORKSHOP, [Start(T0), End(at(11)), Extend(at(12), 60)], at(40))
    assert late.ignored[0].reason == "the show has ended"


def test_controls_before_the_start_are_ignored() -> None:
    p = live_plan(WORKSHOP, [Pause(at(0)), Start(at(1)), Start(at(2))], at(3))
    assert [i.reason for i in p.ignored] == [
        "the show has not started",
        "the show has already started",
    ]
    assert p.start == at(1)
    never = live_plan(WORKSHOP, [End(at(1))], at(3))
    assert never.status == "ended" and all(i.state == "skipped" for i in never.items)


def test_controls_are_applied_in_log_order_even_when_stamped_out_of_order() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Pause(at(10)), Resume(at(9))], at(20))
    assert due(p, "talk-2") == 15  # the resume counts at the pause's moment: a pause of zero


def test_fire_now_while_paused_fires_at_once_and_skip_waits_for_resume() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Pause(at(11)), FireNow(at(12), "talk-2")], at(13))
    item = p.item("talk-2")
    assert item is not None and item.state == "due" and minutes(item.due) == 12
    skipped = live_plan(WORKSHOP, [Start(T0), Pause(at(11)), Skip(at(12))], at(13))
    closing = skipped.item("talk-1@close")
    assert closing is not None and closing.state == "upcoming"
    opening = skipped.item("rooms@open")
    assert opening is not None and opening.state == "upcoming" and minutes(opening.due) == 13
    resumed = live_plan(WORKSHOP, [Start(T0), Pause(at(11)), Skip(at(12)), Resume(at(14))], at(14))
    assert due(resumed, "talk-1@close") == 14 and due(resumed, "rooms@open") == 14


def test_end_during_a_pause_skips_what_the_pause_held_but_closes_the_open_poll() -> None:
    show = Show.model_validate(
        {
            "title": "t",
            "duration": 15 * MIN,
            "segments": [
                {
                    "id": "open",
                    "kind": "connection",
                    "duration": 5 * MIN,
                    "cues": [
                        {"at": 0, "say": "Hello"},
                        {
                            "at": MIN,
                            "poll": {"question": "q", "options": ["a", "b"], "open_for": 600},
                        },
                    ],
                },
                {
                    "id": "talk",
                    "kind": "talk",
                    "duration": 10 * MIN,
                    "cues": [{"at": 0, "say": "x"}],
                },
            ],
        }
    )
    held = [Start(T0), Pause(at(2)), Jump(at(3), "open")]
    waiting = live_plan(show, held, at(5))
    assert waiting.item("open-1#2").state == "upcoming"  # type: ignore[union-attr]
    p = live_plan(show, [*held, End(at(9))], at(10))
    assert p.status == "ended" and p.end == at(9)
    assert due(p, "open-2@close") == 9 and p.item("open-2@close").state == "due"  # type: ignore[union-attr]
    late = [i.key for i in p.items if i.state == "due" and minutes(i.due) >= 9]
    assert late == ["open-2@close"]
    for key in ("open-1#2", "open-2#2", "open-2#2@close", "talk-1"):
        assert p.item(key).state == "skipped", key  # type: ignore[union-attr]
    # The same through a Skip, and for the rooms a Skip during a pause released.
    skipped = live_plan(WORKSHOP, [Start(T0), Pause(at(11)), Skip(at(12)), End(at(14))], at(15))
    assert due(skipped, "talk-1@close") == 14 and skipped.item("talk-1@close").state == "due"  # type: ignore[union-attr]
    assert skipped.item("rooms@open").state == "skipped"  # type: ignore[union-attr]
    assert skipped.item("rooms@close").state == "skipped"  # type: ignore[union-attr]


# --- guards ---------------------------------------------------------------------------------


def talk_show(bank: list[str]) -> Show:
    return make_show(
        {"id": "hello", "kind": "connection", "duration": 5 * MIN},
        {"id": "lecture", "kind": "talk", "duration": 20 * MIN},
        {"id": "chat", "kind": "discussion", "duration": 5 * MIN},
        prompt_bank=bank,
    )


def test_cadence_guard_fills_a_long_talk_from_the_prompt_bank() -> None:
    p = plan(talk_show(["A?", "B?"]), T0)
    fillers = [i for i in p.items if i.origin == "guard"]
    assert [(i.key, minutes(i.due), i.action, i.text) for i in fillers] == [
        ("~filler:lecture:1", 12, "filler", "A?"),
        ("~filler:lecture:2", 19, "filler", "B?"),
    ]
    # The gap from the last filler to the discussion is 6 minutes: within the limit.


def test_cadence_guard_without_a_prompt_bank_cues_the_producer() -> None:
    p = plan(talk_show([]), T0)
    fillers = [i for i in p.items if i.origin == "guard"]
    assert [i.action for i in fillers] == ["producer", "producer"]
    assert fillers[0].text is not None and "ask the group a question" in fillers[0].text


def test_cadence_guard_after_an_extension() -> None:
    p = live_plan(WORKSHOP, [Start(T0), Extend(at(18), 10 * MIN)], at(18))
    fillers = [(i.key, minutes(i.due), i.text) for i in p.items if i.origin == "guard"]
    # The last interaction was the say at 15; the breakout starts at 30.
    assert fillers == [("~filler:talk:1", 22, "filler one"), ("~filler:talk:2", 29, "filler two")]
    assert seg(p, "talk")[:2] == (5, 30)


def long_show() -> Show:
    # 40 + 5 minutes of work, a 10-minute break, then 30 more: lint-clean on 50/10.
    return make_show(
        {"id": "a", "kind": "activity", "duration": 40 * MIN},
        {"id": "b", "kind": "discussion", "duration": 5 * MIN},
        {"id": "rest", "kind": "break", "duration": 10 * MIN},
        {"id": "c", "kind": "activity", "duration": 30 * MIN},
        rules={"breaks": ["50/10"]},
    )


def test_break_guard_after_an_extension_warns_and_calls_a_break_at_a_boundary() -> None:
    show = long_show()
    assert [i for i in plan(show, T0).items if i.origin == "guard"] == []
    p = live_plan(show, [Start(T0), Extend(at(30), 8 * MIN)], at(30))
    guard = [(i.key, minutes(i.due), i.action) for i in p.items if i.origin == "guard"]
    # a now ends at 48 and b at 53: the boundary at 48 is the latest point within 50 minutes.
    assert guard == [
        ("~break:b@warn", 43, "break_warning"),
        ("~break:b", 48, "break_start"),
        ("~break:b@end", 58, "break_end"),
    ]
    assert seg(p, "~break:b")[:2] == (48, 58)
    # The planned break 5 minutes later would come back to back: the guard break took its place.
    assert seg(p, "b")[:2] == (58, 63) and seg(p, "c")[:2] == (63, 93)
    assert next(s for s in p.segments if s.key == "rest").state == "skipped"
    warning = p.item("~break:b@warn")
    assert warning is not None and warning.text == "break in 5m: 10m to keep the 50/10 rule"


def test_break_guard_interrupts_a_segment_when_no_boundary_is_near() -> None:
    show = make_show(
        {"id": "a", "kind": "activity", "duration": 45 * MIN},
        {"id": "rest", "kind": "break", "duration": 10 * MIN},
        rules={"breaks": ["50/10"]},
    )
    p = live_plan(show, [Start(T0), Extend(at(40), 20 * MIN)], at(40))
    pieces = [(s.key, minutes(s.start), minutes(s.end)) for s in p.segments if s.state != "skipped"]
    # The planned break (due at 65, within reach) is merged into the guard break: one break.
    assert pieces == [("a", 0, 50), ("~break:a+50m", 50, 60), ("a", 60, 75)]
    assert due(p, "~break:a+50m@warn") == 45
    assert "in place of rest" in (p.item("~break:a+50m").text or "")  # type: ignore[union-attr]


def test_break_guard_tops_up_a_break_that_became_too_short_for_the_stretch() -> None:
    show = make_show(
        {"id": "a", "kind": "activity", "duration": 80 * MIN},
        {"id": "rest", "kind": "break", "duration": 20 * MIN},
        {"id": "b", "kind": "activity", "duration": 10 * MIN},
        rules={"breaks": ["50/10", "90/20"]},
    )
    assert [i for i in plan(show, T0).items if i.origin == "guard"] == []
    p = live_plan(show, [Start(T0), Extend(at(70), 15 * MIN)], at(70))
    # 95 minutes now: the latest fix is a 20-minute break at the 90-minute mark, which takes
    # the place of the planned break 5 minutes later (never two breaks back to back).
    ran = [(s.key, minutes(s.start), minutes(s.end)) for s in p.segments if s.state != "skipped"]
    assert ran == [("a", 0, 90), ("~break:a+1h30m", 90, 110), ("a", 110, 115), ("b", 115, 125)]


def test_guard_keys_stay_put_when_later_controls_do_not_touch_them() -> None:
    show = long_show()
    first = live_plan(show, [Start(T0), Extend(at(30), 8 * MIN)], at(30))
    later = live_plan(
        show, [Start(T0), Extend(at(30), 8 * MIN), Pause(at(44)), Resume(at(45))], at(45)
    )
    assert due(later, "~break:b@warn") == due(first, "~break:b@warn") == 43
    assert later.item("~break:b@warn").state == "due"  # type: ignore[union-attr]
    assert due(later, "~break:b") == 49


# --- the control log as data ---------------------------------------------------------------


@pytest.mark.parametrize(
    "control",
    [
        Start(T0),
        Pause(T0),
        Resume(T0),
        Extend(T0, -60),
        Skip(T0),
        Jump(T0, "talk"),
        FireNow(T0, "talk-1"),
        CallBreak(T0, 300),
        End(T0),
    ],
    ids=lambda c: c.type,
)
def test_controls_round_trip_through_json(control: Any) -> None:
    data = to_json(control)
    assert data["type"] == control.type and data["at"] == "2025-03-04T08:00:00+00:00"
    assert control_from_json(data) == control


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a control is an object, got list"),
        ({"type": "jog", "at": "2025-03-04T08:00:00Z"}, "unknown control type 'jog'"),
        ({"type": "pause", "at": "yesterday"}, "pause: 'at' is not an ISO-8601 time"),
        ({"type": "pause", "at": "2025-03-04T08:00:00"}, "pause: 'at' must carry a time zone"),
        ({"type": "extend", "at": "2025-03-04T08:00:00Z"}, "extend: missing field(s) 'seconds'"),
        ({"type": "extend", "at": "2025-03-04T08:00:00Z", "seconds": 0}, "non-zero integer"),
        ({"type": "extend", "at": "2025-03-04T08:00:00Z", "seconds": "5m"}, "non-zero integer"),
        ({"type": "call_break", "at": "2025-03-04T08:00:00Z", "seconds": -1}, "positive integer"),
        ({"type": "skip", "at": "2025-03-04T08:00:00Z", "why": 1}, "unknown field(s) 'why'"),
    ],
)
def test_bad_controls_are_refused_with_a_reason(data: Any, message: str) -> None:
    with pytest.raises(ControlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        control_from_json(data)


def test_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="time zone"):
        live_plan(WORKSHOP, [], datetime(2025, 3, 4, 8, 0))
    with pytest.raises(ControlError):
        Start(datetime(2025, 3, 4, 8, 0))
