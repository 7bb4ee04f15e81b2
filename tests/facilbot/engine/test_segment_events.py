"""``segment.started`` reaches the outbox once per segment start, in order, across a restart and
across an outage in which segments began with nobody running the session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from facilbot.outbound.tables import events
from facilbot.store.db import Database
from tests.facilbot.engine.harness import T0, minutes, run_until
from tests.facilbot.engine.test_restart import begin, takes_over


async def segment_events(store: Database, session_id: str) -> list[dict[str, Any]]:
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(events.c.payload)
                .where(events.c.type == "segment.started", events.c.session_id == session_id)
                .order_by(events.c.id)
            )
        ).all()
    return [row.payload["data"] for row in rows]


def offsets(found: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(e["key"], (datetime.fromisoformat(e["at"]) - T0) / minutes(1)) for e in found]


async def test_each_segment_start_is_queued_once_across_a_restart(store: Database) -> None:
    rig, first, session_id = await begin(store)
    try:
        await run_until(rig, first, [], T0 + minutes(16))
        assert offsets(await segment_events(store, session_id)) == [("open", 0), ("talk", 10)]
        await first.stop()
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)  # announces open and talk again: kept once
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()
    found = await segment_events(store, session_id)
    assert offsets(found) == [("open", 0), ("talk", 10), ("rest", 30), ("close", 40)]
    assert found[2]["kind"] == "break" and found[2]["inserted"] is False
    assert found[3]["ends_at"] == (T0 + minutes(60)).isoformat()


async def test_segments_begun_during_an_outage_are_announced_on_takeover(store: Database) -> None:
    rig, first, session_id = await begin(store, lease_seconds=1)
    try:
        await run_until(rig, first, [], T0 + minutes(3))
        await first.stop(release=False)  # killed
        await rig.clock.advance_to(T0 + minutes(45))
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
        assert [e["key"] for e in await segment_events(store, session_id)] == [
            "open", "talk", "rest", "close",
        ]  # fmt: skip
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()
    assert len(await segment_events(store, session_id)) == 4
