"""Several instances: leases on PostgreSQL, and the single-instance rule on SQLite."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from facilbot.engine.engine import Engine
from facilbot.settings import load_settings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, DatabaseInUse, open_database, reading
from runofshow.controls import Pause
from tests.facilbot.engine.harness import (
    SMALL_SHOW,
    T0,
    Rig,
    attach,
    fired_at,
    firings,
    make_rig,
    minutes,
    run_until,
    scenario,
)

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 15) -> None:
    """Poll ``check`` on real time (leases live on the database clock), bounded."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)


async def owners(store: Database, session_ids: list[str]) -> dict[str, str | None]:
    async with reading(store.engine) as connection:
        records = [await store_sessions.get_session(connection, s) for s in session_ids]
    return {r.id: r.owner for r in records if r is not None}


async def shows(rig: Rig, engine: Engine, count: int) -> list[str]:
    ids = []
    for n in range(count):
        meeting = rig.world.create(scenario(3600, size=2, commands=()), f"sim-lease-{n}")
        meeting.start(T0)
        ids.append(await attach(engine, SMALL_SHOW, meeting.meeting_ref))
    return ids


@POSTGRES_ONLY
async def test_each_session_is_run_by_exactly_one_instance(store: Database) -> None:
    rig = make_rig(store)
    a = rig.engine("instance-a", lease_seconds=2)
    b = rig.engine("instance-b", lease_seconds=2)
    try:
        session_ids = await shows(rig, a, 8)
        await asyncio.gather(a.start(), b.start())
        for session_id in session_ids:
            await a.control(session_id, "start", {}, "test")
        await run_until(rig, a, [], T0 + minutes(20))
        held = await owners(store, session_ids)
        assert set(held.values()) <= {"instance-a", "instance-b"}
        assert set(a.runners).isdisjoint(b.runners)
        assert set(a.runners) | set(b.runners) == set(session_ids)
        for session_id in session_ids:
            runner_of = "instance-a" if session_id in a.runners else "instance-b"
            assert held[session_id] == runner_of
            assert set(await fired_at(store, session_id)) == {
                "open-1", "open-2", "talk-1", "talk-1@close"
            }  # fmt: skip
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_an_expired_lease_is_adopted_and_nothing_fires_twice(store: Database) -> None:
    rig = make_rig(store)
    a = rig.engine("instance-a", lease_seconds=1)
    b = rig.engine("instance-b", lease_seconds=1)
    try:
        session_ids = await shows(rig, a, 4)
        await a.start()
        for session_id in session_ids:
            await a.control(session_id, "start", {}, "test")
        await run_until(rig, a, [], T0 + minutes(6))
        assert set(a.runners) == set(session_ids)
        await b.start()
        assert b.runners == {}  # a's leases are live
        await a.stop(release=False)  # a dies without a word
        await eventually(
            lambda: _owns_all(b, session_ids), "instance-b adopts the orphaned sessions"
        )
        await rig.clock.settle()
        await run_until(rig, b, [], T0 + minutes(90))
    finally:
        await rig.close()
    for session_id in session_ids:
        records = await firings(store, session_id)
        assert [f.key for f in records] == [
            "open-1", "open-2", "talk-1", "talk-1@close", "talk-2",
            "rest@start", "rest@end", "close@open", "close@close",
        ]  # fmt: skip
        assert [f.claimed_by for f in records] == ["instance-a"] * 2 + ["instance-b"] * 7
        assert {f.status for f in records} == {"sent"}


async def _owns_all(engine: Engine, session_ids: list[str]) -> bool:
    await engine.maintain()
    return set(engine.runners) == set(session_ids)


@POSTGRES_ONLY
async def test_a_zombie_owner_cannot_claim(store: Database) -> None:
    """``a`` hangs (no heartbeat) but its runner is still alive when its lease runs out."""
    rig = make_rig(store)
    a = rig.engine("instance-a", lease_seconds=1, maintenance_interval=3600)
    b = rig.engine("instance-b", lease_seconds=1)
    try:
        (session_id,) = await shows(rig, a, 1)
        await a.start()
        await a.control(session_id, "start", {}, "test")
        await run_until(rig, a, [], T0 + minutes(6))
        zombie = a.runners[session_id]
        await b.start()
        await eventually(lambda: _owns_all(b, [session_id]), "instance-b adopts")
        assert zombie.task is not None and not zombie.task.done()
        # Both runners wake for talk-1 at 15m; only the lease holder's claim succeeds.
        await run_until(rig, b, [], T0 + minutes(16))
        assert zombie.lost and zombie.task.done()
    finally:
        await rig.close()
    records = {f.key: f.claimed_by for f in await firings(store, session_id)}
    assert records == {
        "open-1": "instance-a",
        "open-2": "instance-a",
        "talk-1": "instance-b",
    }


@POSTGRES_ONLY
async def test_a_control_through_another_instance_reaches_the_owner(store: Database) -> None:
    """No periodic check runs (long interval): only NOTIFY can tell the owner."""
    rig = make_rig(store)
    a = rig.engine("instance-a", lease_seconds=60, maintenance_interval=3600)
    b = rig.engine("instance-b", lease_seconds=60, maintenance_interval=3600)
    try:
        (session_id,) = await shows(rig, a, 1)
        await a.start()
        await b.start()
        await a.control(session_id, "start", {}, "test")
        await run_until(rig, a, [], T0 + minutes(3))
        assert session_id in a.runners and session_id not in b.runners
        await b.control(session_id, "pause", {}, "producer-on-b")

        async def heard() -> bool:
            return any(isinstance(c, Pause) for c in await a.controls(session_id))

        await eventually(heard, "the owner hears of the pause")
        await rig.clock.settle()
        await run_until(rig, a, [], T0 + minutes(30))
        assert set(await fired_at(store, session_id)) == {"open-1"}  # paused on the owner
        await b.control(session_id, "resume", {}, "producer-on-b")
        await eventually(lambda: _resumed(a, session_id), "the owner hears of the resume")
        await rig.clock.settle()
        await run_until(rig, a, [], T0 + minutes(33))
        assert (await fired_at(store, session_id))["open-2"] == minutes(32)
    finally:
        await rig.close()


async def _resumed(engine: Engine, session_id: str) -> bool:
    return not any(isinstance(c, Pause) for c in (await engine.controls(session_id))[-1:])


async def test_a_second_instance_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    settings = load_settings(data_dir=tmp_path, database_url=url, _env_file=None)
    first = await open_database(settings)
    try:
        with pytest.raises(DatabaseInUse) as refused:
            await open_database(settings)
        message = str(refused.value)
        assert "another facilbot process" in message and "FACILBOT_DATABASE_URL" in message
        # Another process is refused the same way, naming the holder.
        code = (
            "import sys; from facilbot.store.db import acquire_instance_lock, DatabaseInUse\n"
            f"try: acquire_instance_lock({url!r})\n"
            "except DatabaseInUse as e: print(e); sys.exit(3)\n"
        )
        other = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(other.communicate(), timeout=60)
        assert other.returncode == 3
        assert "another facilbot process" in out.decode()
    finally:
        await first.close()
    again = await open_database(settings)  # released on close
    await again.close()
