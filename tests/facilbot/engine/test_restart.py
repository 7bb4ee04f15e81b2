"""Restarts in the middle of a show: nothing fires twice, interruptions are reported, and cues
that fell due while nothing ran follow the late policy."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

import pytest

from facilbot.engine.engine import Engine
from facilbot.store import firings as store_firings
from facilbot.store.db import Database, sqlite_path
from tests.facilbot.engine.harness import (
    SMALL_SHOW,
    T0,
    Rig,
    attach,
    firings,
    make_rig,
    minutes,
    run_until,
    scenario,
)


async def takes_over(rig: Rig, engine: Engine, session_id: str) -> None:
    """Start ``engine`` and wait (real time, bounded) until it runs the session: at once on
    SQLite, after the dead owner's lease ran out on PostgreSQL."""
    await engine.start()
    deadline = time.monotonic() + 15
    while session_id not in engine.runners:
        assert time.monotonic() < deadline, "the session was never adopted"
        await asyncio.sleep(0.1)
        await engine.maintain()
    await rig.clock.settle()


async def begin(
    store: Database, lease_seconds: float = 30, **options: Any
) -> tuple[Rig, Engine, str]:
    rig = make_rig(store)
    meeting = rig.world.create(scenario(3600, size=2, commands=()), "sim-restart")
    meeting.start(T0)
    engine = rig.engine("instance-a", lease_seconds=lease_seconds, **options)
    session_id = await attach(engine, SMALL_SHOW, meeting.meeting_ref)
    await engine.start()
    await engine.control(session_id, "start", {}, "test")
    return rig, engine, session_id


@pytest.mark.parametrize("db_kind", ["sqlite"])  # another process holding the writer: SQLite's case
async def test_a_stop_that_cannot_give_back_its_leases_still_stops(
    store: Database, caplog: pytest.LogCaptureFixture
) -> None:
    path = sqlite_path(str(store.engine.url))
    assert path is not None
    rig, first, session_id = await begin(store)
    try:
        await run_until(rig, first, [], T0 + minutes(16))
        # Something else holds SQLite's write lock past the busy timeout (5 s) as we stop.
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with caplog.at_level(logging.WARNING, "facilbot.engine"):
                await first.stop()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "giving back the leases at stop failed (OperationalError)" in caplog.text
        assert not first.runners
        # The lease not given back is taken at the next start (SQLite: at once).
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()


async def test_a_clean_restart_continues_without_repeating(store: Database) -> None:
    rig, first, session_id = await begin(store)
    try:
        await run_until(rig, first, [], T0 + minutes(16))
        await first.stop()
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()
    records = await firings(store, session_id)
    assert [f.key for f in records] == [
        "open-1", "open-2", "talk-1", "talk-1@close", "talk-2",
        "rest@start", "rest@end", "close@open", "close@close",
    ]  # fmt: skip
    assert {f.status for f in records} == {"sent"}
    assert [f.claimed_by for f in records] == ["instance-a"] * 3 + ["instance-b"] * 6


async def test_a_crash_between_claim_and_send_is_reported_not_repeated(store: Database) -> None:
    rig, first, session_id = await begin(store, lease_seconds=1)
    try:
        await run_until(rig, first, [], T0 + minutes(16))
        await first.stop(release=False)  # killed: the lease is left to run out
        # It had claimed the poll's close at 17m and died before sending it.
        async with store.engine.begin() as connection:
            claimed = await store_firings.claim_firing(
                connection,
                session_id,
                "talk-1@close",
                "poll_close",
                T0 + minutes(17),
                "instance-a",
                claimed_at=T0 + minutes(17),
            )
        assert claimed is not None
        await rig.clock.advance_to(T0 + minutes(18))
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()
    records = {f.key: f for f in await firings(store, session_id)}
    interrupted = records["talk-1@close"]
    assert interrupted.status == "interrupted" and interrupted.sent_at is None
    assert interrupted.claimed_by == "instance-a"
    assert [k for k, f in records.items() if f.status != "sent"] == ["talk-1@close"]
    assert set(records) == {
        "open-1", "open-2", "talk-1", "talk-1@close", "talk-2",
        "rest@start", "rest@end", "close@open", "close@close",
    }  # fmt: skip
    assert all(f.claimed_by == "instance-b" for k, f in records.items() if k >= "talk-2")


async def test_late_policy_after_a_long_outage(store: Database) -> None:
    """Down from 3m to 45m: prompts past the grace (2m) are skipped and reported; the break
    and the commitments still happen; a prompt within the grace still fires."""
    rig, first, session_id = await begin(store, lease_seconds=1)
    try:
        await run_until(rig, first, [], T0 + minutes(3))
        await first.stop(release=False)
        await rig.clock.advance_to(T0 + minutes(45))
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
        late = {f.key: f for f in await firings(store, session_id)}
        await run_until(rig, second, [], T0 + minutes(90))
    finally:
        await rig.close()
    records = {f.key: f for f in await firings(store, session_id)}
    statuses = {key: f.status for key, f in records.items()}
    assert statuses == {
        "open-1": "sent",
        "open-2": "skipped",  # say, 40m late
        "talk-1": "skipped",  # poll, 30m late
        "talk-1@close": "skipped",  # never opened: nothing to close
        "talk-2": "skipped",  # say, 20m late
        "rest@start": "sent",  # breaks still happen
        "rest@end": "sent",
        "close@open": "sent",  # commitments still happen
        "close@close": "sent",
    }
    for key in ("open-2", "talk-1", "talk-2"):
        assert "late" in (records[key].error or "")
    # Everything that fell due in the outage was settled at the restart, on the restart's clock.
    assert {k for k, f in late.items() if f.claimed_at == T0 + minutes(45)} == set(late) - {
        "open-1"
    }


async def test_a_prompt_within_the_grace_still_fires(store: Database) -> None:
    rig, first, session_id = await begin(store, lease_seconds=1)
    try:
        await run_until(rig, first, [], T0 + minutes(3))
        await first.stop(release=False)
        await rig.clock.advance_to(T0 + minutes(6))  # open-2 due at 5m: 1m late
        second = rig.engine("instance-b")
        await takes_over(rig, second, session_id)
    finally:
        await rig.close()
    records = {f.key: f for f in await firings(store, session_id)}
    assert records["open-2"].status == "sent"
    assert records["open-2"].claimed_at - records["open-2"].planned_at == minutes(1)
