"""Controls through ``Engine.control``: each one re-derives the timeline the runner follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from facilbot.engine.engine import Engine
from facilbot.engine.errors import ControlRefused
from facilbot.store.db import Database
from tests.facilbot.engine.harness import (
    SMALL_SHOW,
    T0,
    Rig,
    attach,
    control_rows,
    fired_at,
    firings,
    make_rig,
    minutes,
    run_until,
    scenario,
)


@dataclass
class Live:
    rig: Rig
    engine: Engine
    session_id: str

    async def at(self, offset: float) -> None:
        """Run the show up to ``offset`` minutes after T0."""
        await run_until(self.rig, self.engine, [], T0 + minutes(offset))

    async def control(self, kind: str, payload: dict[str, Any] | None = None) -> int:
        seq = await self.engine.control(self.session_id, kind, payload or {}, "producer")
        await self.rig.clock.settle()
        return seq

    async def fired(self) -> dict[str, float]:
        return {
            k: v.total_seconds() / 60
            for k, v in (await fired_at(self.rig.db, self.session_id)).items()
        }


@pytest.fixture
async def live(store: Database) -> AsyncIterator[Live]:
    rig = make_rig(store)
    engine = rig.engine()
    meeting = rig.world.create(scenario(3600, size=2, commands=()), "sim-controls")
    meeting.start(T0)
    session_id = await attach(engine, SMALL_SHOW, meeting.meeting_ref)
    await engine.start()
    yield Live(rig, engine, session_id)
    await rig.close()


PLANNED = {
    "open-1": 0,
    "open-2": 5,
    "talk-1": 15,
    "talk-1@close": 17,
    "talk-2": 25,
    "rest@start": 30,
    "rest@end": 40,
    "close@open": 40,
    "close@close": 60,
}


async def test_without_controls_the_show_runs_as_planned(live: Live) -> None:
    await live.at(0)
    assert await live.fired() == {}  # attached, not started: nothing fires
    await live.control("start")
    await live.at(90)
    assert await live.fired() == PLANNED
    state = await live.engine.state(live.session_id)
    assert state.status == "ended"


async def test_pause_holds_everything_and_resume_shifts_it(live: Live) -> None:
    await live.control("start")
    await live.at(3)
    await live.control("pause")
    await live.at(40)
    assert await live.fired() == {"open-1": 0}  # nothing fires while paused
    state = await live.engine.state(live.session_id)
    assert state.paused
    await live.control("resume")
    await live.at(200)
    shifted = {key: at + 37 if at > 3 else at for key, at in PLANNED.items()}
    assert await live.fired() == shifted


async def test_extend_moves_the_later_items(live: Live) -> None:
    await live.control("start")
    await live.at(12)  # in "talk" (10–30m)
    await live.control("extend", {"seconds": 300})
    await live.at(200)
    expected = {key: at + 5 if at >= 30 else at for key, at in PLANNED.items()}
    assert await live.fired() == expected


async def test_skip_drops_the_rest_of_the_segment(live: Live) -> None:
    await live.control("start")
    await live.at(12)
    await live.control("skip")
    await live.at(200)
    fired = await live.fired()
    assert "talk-1" not in fired and "talk-2" not in fired and "talk-1@close" not in fired
    # The break starts at once; everything after it moves 18 minutes earlier.
    assert fired == {"open-1": 0, "open-2": 5} | {
        key: at - 18 for key, at in PLANNED.items() if at >= 30
    }


async def test_skip_closes_what_is_open(live: Live) -> None:
    await live.control("start")
    await live.at(16)  # the poll is open (15–17m)
    await live.control("skip")
    await live.at(200)
    fired = await live.fired()
    assert fired["talk-1"] == 15 and fired["talk-1@close"] == 16  # closed now, not forgotten
    assert "talk-2" not in fired


async def test_jump_goes_to_the_segment_now(live: Live) -> None:
    await live.control("start")
    await live.at(2)
    await live.control("jump", {"segment_id": "close"})
    await live.at(200)
    assert await live.fired() == {"open-1": 0, "close@open": 2, "close@close": 22}


async def test_fire_now_fires_a_cue_ahead_of_plan_and_only_once(live: Live) -> None:
    await live.control("start")
    await live.at(2)
    await live.control("fire", {"key": "talk-1"})
    await live.at(200)
    fired = await live.fired()
    assert fired["talk-1"] == 2 and fired["talk-1@close"] == 4  # its window kept its length
    assert {k: v for k, v in fired.items() if not k.startswith("talk-1")} == {
        k: v for k, v in PLANNED.items() if not k.startswith("talk-1")
    }


async def test_a_called_break_inserts_a_break_and_moves_the_rest(live: Live) -> None:
    await live.control("start")
    await live.at(12)
    await live.control("break", {"seconds": 600})
    await live.at(200)
    fired = await live.fired()
    assert fired["~callbreak:1"] == 12 and fired["~callbreak:1@end"] == 22
    expected = {key: at + 10 if at >= 12 else at for key, at in PLANNED.items()}
    assert {k: v for k, v in fired.items() if not k.startswith("~callbreak")} == expected
    records = {f.key: f for f in await firings(live.rig.db, live.session_id)}
    assert records["~callbreak:1"].action == "break_start"


async def test_end_stops_the_show(live: Live) -> None:
    await live.control("start")
    await live.at(16)  # the poll is open
    await live.control("end")
    await live.at(200)
    fired = await live.fired()
    assert fired == {"open-1": 0, "open-2": 5, "talk-1": 15, "talk-1@close": 16}
    state = await live.engine.state(live.session_id)
    assert state.status == "ended"


REFUSED = [
    ("nonsense", {}),
    ("extend", {}),
    ("extend", {"seconds": "5"}),
    ("extend", {"seconds": 0}),
    ("extend", {"seconds": True}),
    ("extend", {"seconds": 10**6}),
    ("jump", {"segment_id": "nowhere"}),
    ("jump", {}),
    ("fire", {}),
    ("fire", {"key": ""}),
    ("break", {"seconds": 10}),
    ("break", {"seconds": "ten"}),
    ("resume", {}),  # not paused
    ("start", {}),  # already started
]


@pytest.mark.parametrize(("kind", "payload"), REFUSED)
async def test_refused_controls_append_nothing(
    live: Live, kind: str, payload: dict[str, Any]
) -> None:
    await live.control("start")
    await live.at(3)
    before = await control_rows(live.rig.db, live.session_id)
    with pytest.raises(ControlRefused) as refused:
        await live.engine.control(live.session_id, kind, payload, "producer")
    assert str(refused.value)  # a reason the caller can show
    assert await control_rows(live.rig.db, live.session_id) == before


async def test_controls_before_the_start_and_after_the_end_are_refused(live: Live) -> None:
    for kind, payload in [("pause", {}), ("extend", {"seconds": 60}), ("skip", {})]:
        with pytest.raises(ControlRefused, match="not started"):
            await live.engine.control(live.session_id, kind, payload, "producer")
    assert [r.kind for r in await control_rows(live.rig.db, live.session_id)] == ["attach"]
    await live.control("start")
    await live.control("pause")
    with pytest.raises(ControlRefused, match="already paused"):
        await live.engine.control(live.session_id, "pause", {}, "producer")
    await live.control("end")
    await live.at(1)
    rows = await control_rows(live.rig.db, live.session_id)
    for kind, payload in [("resume", {}), ("start", {}), ("end", {}), ("skip", {})]:
        with pytest.raises(ControlRefused, match="ended"):
            await live.engine.control(live.session_id, kind, payload, "producer")
    assert await control_rows(live.rig.db, live.session_id) == rows


async def test_a_show_whose_last_cue_comes_before_its_end_is_recorded_ended(
    store: Database,
) -> None:
    show = SMALL_SHOW.replace(
        "  - id: close\n    kind: commitments", "  - id: close\n    kind: talk"
    )
    rig = make_rig(store)
    engine = rig.engine()
    session_id = await attach(engine, show, "sim-quiet-end")
    await engine.start()
    try:
        await engine.control(session_id, "start", {}, "test")
        await run_until(rig, engine, [], T0 + minutes(59))
        assert (await engine.state(session_id)).status == "running"
        await run_until(rig, engine, [], T0 + minutes(61))  # last cue at 40m, the end at 60m
        assert (await engine.state(session_id)).status == "ended"
    finally:
        await rig.close()
