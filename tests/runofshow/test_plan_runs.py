"""The planner's runs of items against its straightforward sweep (hypothesis).

``live_plan`` emits each run of items up to the next other event at once (a report replays
shows of 10,000 cues). The straightforward sweep takes one time at a time and re-decides the
next event after each; both must give the same plan, to the item, on any show and log.
The shows here are denser than ``test_plan_properties``' (several cues at one moment, break
cues, rooms, commitments) and the logs add re-plans, so the runs meet every kind of event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runofshow.controls import Control, Replan
from runofshow.model import Show
from runofshow.plan import LivePlan, _Sim, live_plan
from tests.runofshow.test_plan_properties import ALL, KINDS, PROPS, logs

ACTIONS = ["say", "say", "poll", "producer", "break", "breakout", "commitments"]


@st.composite
def dense_shows(draw: st.DrawFn) -> Show:
    segments: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(KINDS))
        minutes = draw(st.integers(1, 40))
        cues: list[dict[str, Any]] = []
        if kind != "break":
            offsets = draw(st.lists(st.integers(0, minutes * 60 - 1), max_size=12))
            for n, offset in enumerate(sorted(offsets)):
                action = draw(st.sampled_from(ACTIONS))
                cue: dict[str, Any] = {"at": offset}
                if action == "poll":
                    cue["poll"] = {"question": "q", "options": ["a", "b"], "open_for": 90}
                elif action == "break":
                    cue["break"] = {"duration": draw(st.integers(1, 15)) * 60}
                elif action == "breakout":
                    cue["breakout"] = {"size": 2, "duration": draw(st.integers(2, 10)) * 60}
                elif action == "commitments":
                    cue["commitments"] = {"prompt": "one action"}
                else:
                    cue[action] = f"{action} {index}.{n}"
                cues.append(cue)
        segments.append({"id": f"s{index}", "kind": kind, "duration": minutes * 60, "cues": cues})
    return Show.model_validate(
        {
            "title": "t",
            "duration": sum(s["duration"] for s in segments),
            "segments": segments,
            "rules": {
                "breaks": draw(st.sampled_from([["50/10", "90/20"], ["25/5"], []])),
                "interaction_gap": draw(st.sampled_from([120, 420, 24 * 3600])),
            },
            "prompt_bank": ["x?", "y?"],
        }
    )


@st.composite
def with_replans(draw: st.DrawFn, show: Show) -> tuple[list[Control], datetime]:
    controls, now = draw(logs(show, ALL))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(1, len(controls)))  # after the Start
        ids = draw(st.lists(st.sampled_from([s.id for s in show.segments]), min_size=1, max_size=2))
        lengths = tuple((i, draw(st.integers(0, 30)) * 60) for i in dict.fromkeys(ids))
        controls.insert(at, Replan(controls[at - 1].at, lengths))
    return controls, now + timedelta(seconds=draw(st.integers(0, 3600)))


def straightforward(show: Show, controls: list[Control], now: datetime) -> LivePlan:
    moment = now.astimezone(UTC)
    return _Sim(show, moment, batch=False).run(controls, moment, planned=False)


@PROPS
@given(st.data())
def test_runs_of_items_plan_as_the_straightforward_sweep(data: st.DataObject) -> None:
    show = data.draw(dense_shows())
    controls, now = data.draw(with_replans(show))
    fast = live_plan(show, controls, now)
    slow = straightforward(show, controls, now)
    assert fast.items == slow.items
    assert fast.segments == slow.segments
    assert fast.ignored == slow.ignored
    assert replace(fast, items=(), segments=()) == replace(slow, items=(), segments=())
    # and at every moment of the log, as the engine sees it while the show runs
    for k in range(1, len(controls)):
        seen = controls[k].at
        assert live_plan(show, controls[:k], seen) == straightforward(show, controls[:k], seen)
