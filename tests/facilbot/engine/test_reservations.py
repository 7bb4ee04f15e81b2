"""Claims as reservations: a cue's claim is written shortly before its moment and only the send
happens at it; never sent once the lease may have run out; given back when its moment has not
come and the runner holding it stops, or its item moves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from facilbot.engine.engine import RESERVE_AHEAD, Engine
from facilbot.store.db import Database, open_database
from facilbot.store.firings import FiringRecord
from tests.facilbot.engine.harness import T0, Rig, firings, minutes, run_until
from tests.facilbot.engine.test_restart import begin, takes_over
from tests.support.api import service_settings

AHEAD = timedelta(seconds=RESERVE_AHEAD)
HALF = timedelta(seconds=RESERVE_AHEAD / 2)


def sent_keys(rig: Rig) -> list[str]:
    return [f.key for f in rig.fired if f.status == "sent"]


async def killed_then_taken_over(rig: Rig, first: Engine, session_id: str) -> FiringRecord:
    """``first`` dies (its lease left to run out); instance-b takes the session over and runs
    it past open-2's moment (5m). open-2's firing."""
    await first.stop(release=False)
    second = rig.engine("instance-b")
    await takes_over(rig, second, session_id)
    await run_until(rig, second, [], T0 + minutes(6))
    return {f.key: f for f in await firings(rig.db, session_id)}["open-2"]


async def test_a_cue_is_reserved_ahead_and_sent_at_its_moment(store: Database) -> None:
    rig, engine, session_id = await begin(store)
    try:
        await run_until(rig, engine, [], T0 + minutes(5) - HALF)
        reserved = {f.key: f for f in await firings(store, session_id)}["open-2"]
        assert reserved.status == "firing" and reserved.sent_at is None
        assert reserved.claimed_at == T0 + minutes(5) - AHEAD
        assert "open-2" not in sent_keys(rig)
        await run_until(rig, engine, [], T0 + minutes(6))
    finally:
        await rig.close()
    sent = {f.key: f for f in await firings(store, session_id)}["open-2"]
    assert (sent.id, sent.status, sent.sent_at) == (reserved.id, "sent", T0 + minutes(5))


async def test_no_send_once_the_lease_may_have_run_out(store: Database) -> None:
    """The heartbeat stalled for longer than the lease (on the monotonic clock): the reserved
    cue is not sent, since another instance may hold the session by now; the next holder
    reports it, never sends it."""
    ticks = [0.0]
    rig, first, session_id = await begin(
        store, lease_seconds=4, monotonic=lambda: ticks[0], maintenance_interval=3600
    )
    try:
        await run_until(rig, first, [], T0 + minutes(5) - HALF)
        ticks[0] = 4.0  # a lease's length since the last heartbeat began
        await run_until(rig, first, [], T0 + minutes(5) + HALF)
        assert "open-2" not in sent_keys(rig)
        record = await killed_then_taken_over(rig, first, session_id)
    finally:
        await rig.close()
    assert record.status == "interrupted" and record.sent_at is None
    assert record.claimed_at == T0 + minutes(5) - AHEAD  # it was a reservation
    assert "open-2" not in sent_keys(rig)


async def test_a_stalled_heartbeat_stops_no_send_on_a_single_instance_database(
    tmp_path: Path,
) -> None:
    """Under SQLite's instance lock no other instance can hold the session, so a heartbeat
    that stalled for a lease's length does not keep the cue from being sent. (SQLite only: the
    lock is what makes it single-instance; PostgreSQL is shared by design.)"""
    url = f"sqlite:///{tmp_path / 'facilbot.db'}"
    single = await open_database(service_settings(tmp_path, database_url=url))
    assert single.lock is not None
    ticks = [0.0]
    rig, engine, _ = await begin(
        single, lease_seconds=4, monotonic=lambda: ticks[0], maintenance_interval=3600
    )
    try:
        await run_until(rig, engine, [], T0 + minutes(5) - HALF)
        ticks[0] = 4.0
        await run_until(rig, engine, [], T0 + minutes(5) + HALF)
        assert "open-2" in sent_keys(rig)
    finally:
        await rig.close()
        await single.close()


async def test_an_adopter_gives_back_a_reservation_whose_moment_has_not_come(
    store: Database,
) -> None:
    rig, first, session_id = await begin(store, lease_seconds=4)
    try:
        await run_until(rig, first, [], T0 + minutes(5) - HALF)
        # killed holding the reservation of open-2
        record = await killed_then_taken_over(rig, first, session_id)
    finally:
        await rig.close()
    assert (record.status, record.claimed_by) == ("sent", "instance-b")
    assert record.sent_at == T0 + minutes(5)
    assert record.claimed_at > T0 + minutes(5) - AHEAD  # claimed again by the adopter
    assert sent_keys(rig).count("open-2") == 1


async def test_a_restarted_runner_claims_its_reserved_cue_again(store: Database) -> None:
    rig, engine, session_id = await begin(store)
    try:
        await run_until(rig, engine, [], T0 + minutes(5) - HALF)
        await engine.restart_session(session_id)
        await rig.clock.settle()
        await run_until(rig, engine, [], T0 + minutes(6))
    finally:
        await rig.close()
    records = [f for f in await firings(store, session_id) if f.key == "open-2"]
    assert [(f.status, f.sent_at) for f in records] == [("sent", T0 + minutes(5))]
    assert sent_keys(rig).count("open-2") == 1


async def test_a_pause_gives_back_the_reservation(store: Database) -> None:
    """A reservation is sent at its own moment or not at all: a pause moves the cue, so its
    reservation is given back (left in place, a crash during the pause would make the cue
    look sent-or-not and it would be reported instead of fired after the resume)."""
    rig, engine, session_id = await begin(store)
    try:
        await run_until(rig, engine, [], T0 + minutes(5) - HALF)
        assert "open-2" in {f.key for f in await firings(store, session_id)}
        await engine.control(session_id, "pause", {}, "test")
        await rig.clock.settle()
        assert "open-2" not in {f.key for f in await firings(store, session_id)}
        await run_until(rig, engine, [], T0 + minutes(7))
        await engine.control(session_id, "resume", {}, "test")
        await run_until(rig, engine, [], T0 + minutes(8))
    finally:
        await rig.close()
    records = [f for f in await firings(store, session_id) if f.key == "open-2"]
    resumed = T0 + minutes(7) + HALF  # the half a reserve-ahead left before the pause
    assert [(f.status, f.planned_at, f.sent_at) for f in records] == [("sent", resumed, resumed)]
