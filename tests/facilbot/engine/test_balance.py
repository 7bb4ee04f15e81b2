"""Several instances on one PostgreSQL share the sessions evenly (issue 14).

Each test drives the heartbeats itself (``maintain``; the periodic pass is an hour away unless
said otherwise) on long leases, so who adopts what follows from the order of the passes, not
from timing. Leases and instance rows live on the database clock, so the tests that need a
lease to run out wait for it on real time, bounded, as ``test_leases`` does.
"""

from __future__ import annotations

import asyncio

import pytest

from facilbot.engine.engine import Engine
from facilbot.store import leases
from facilbot.store.db import Database, reading
from tests.facilbot.engine.harness import SMALL_SHOW, T0, Rig, attach, make_rig, scenario
from tests.facilbot.engine.test_leases import eventually, owners

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
#: Long enough that nothing runs out during a test unless the test waits for it.
LONG = 60.0
#: The periodic pass: far away, so only the passes a test makes happen.
NEVER = 3600.0


async def shows(rig: Rig, engine: Engine, count: int) -> list[str]:
    """``count`` new sessions attached through ``engine`` (which, running, then makes a pass)."""
    ids = []
    for _ in range(count):
        meeting = rig.world.create(scenario(3600, size=2, commands=()), None)
        meeting.start(T0)
        ids.append(await attach(engine, SMALL_SHOW, meeting.meeting_ref))
    return ids


def engines(rig: Rig, *names: str, lease: float = LONG, interval: float = NEVER) -> list[Engine]:
    return [rig.engine(n, lease_seconds=lease, maintenance_interval=interval) for n in names]


async def sharing(rig: Rig, a: Engine, b: Engine, count: int) -> list[str]:
    """Start ``a`` and ``b``, attach ``count`` sessions through ``a``; each runs half."""
    await a.start()
    await b.start()
    session_ids = await shows(rig, a, count)
    await b.maintain()
    assert len(a.runners) == len(b.runners) == count // 2
    return session_ids


async def counts(store: Database, session_ids: list[str]) -> dict[str | None, int]:
    held = await owners(store, session_ids)
    out: dict[str | None, int] = {}
    for owner in held.values():
        out[owner] = out.get(owner, 0) + 1
    return out


async def live_instances(store: Database) -> int:
    async with reading(store.engine) as connection:
        return (await leases.census(connection, "nobody", 1.0)).live_instances


def test_a_share_is_the_ceiling_of_sessions_per_instance_less_what_is_run() -> None:
    census = leases.Census(3, 10, 10, 0, None)
    assert [census.share(owned) for owned in (0, 3, 4, 9)] == [4, 1, 0, 0]
    alone = leases.Census(1, 7, 7, 0, None)
    assert alone.share(0) == 7
    nobody = leases.Census(0, 5, 5, 0, None)  # not yet registered: counts as one
    assert nobody.share(2) == 3


@POSTGRES_ONLY
async def test_new_sessions_are_shared_evenly_between_three_instances(store: Database) -> None:
    rig = make_rig(store)
    a, b, c = engines(rig, "instance-a", "instance-b", "instance-c")
    try:
        for engine in (a, b, c):
            await engine.start()
        assert await live_instances(store) == 3
        # Attached through ``a``, which runs a heartbeat after each attach: without shares it
        # adopted all 30 on the spot (the first instance that looks takes everything).
        session_ids = await shows(rig, a, 30)
        assert len(a.runners) == 10
        await b.maintain()
        await c.maintain()
        await a.maintain()
        assert await counts(store, session_ids) == {
            "instance-a": 10, "instance-b": 10, "instance-c": 10
        }  # fmt: skip
        for engine in (a, b, c):
            assert set(engine.runners) == {
                s for s, o in (await owners(store, session_ids)).items() if o == engine.instance_id
            }
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_an_instance_alone_takes_every_orphan(store: Database) -> None:
    rig = make_rig(store)
    (a,) = engines(rig, "instance-a")
    try:
        session_ids = await shows(rig, a, 12)  # not started yet: all orphans
        await a.start()
        assert set(a.runners) == set(session_ids)
        more = await shows(rig, a, 5)  # attached while running
        assert set(a.runners) == set(session_ids) | set(more)
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_an_instance_that_joins_gets_the_new_sessions_and_moves_none(
    store: Database,
) -> None:
    rig = make_rig(store)
    a, b = engines(rig, "instance-a", "instance-b")
    try:
        await a.start()
        first = await shows(rig, a, 6)
        assert set(a.runners) == set(first)
        await b.start()
        # Running sessions stay where they are (no live rebalancing: a move risks a doubled
        # or a late cue), so b starts with nothing.
        assert b.runners == {}
        later = await shows(rig, a, 6)  # a is at its share (6 of 12 over 2): leaves them
        await b.maintain()
        assert set(a.runners) == set(first)
        assert set(b.runners) == set(later)
        # From then on they alternate as sessions come.
        third = await shows(rig, a, 4)
        await b.maintain()
        assert len(a.runners) == len(b.runners) == 8
        assert await counts(store, first + later + third) == {"instance-a": 8, "instance-b": 8}
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_a_clean_stop_hands_its_share_over_at_the_next_pass(store: Database) -> None:
    rig = make_rig(store)
    a, b = engines(rig, "instance-a", "instance-b")
    try:
        session_ids = await sharing(rig, a, b, 8)
        await b.stop()  # releases its leases and its instance row
        assert await live_instances(store) == 1
        await a.maintain()  # no lease to wait for: a's share is now all 8
        assert set(a.runners) == set(session_ids)
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_a_dead_instance_stops_counting_and_the_survivor_takes_everything(
    store: Database,
) -> None:
    rig = make_rig(store)
    a, b = engines(rig, "instance-a", "instance-b", lease=2)
    try:
        session_ids = await sharing(rig, a, b, 8)
        await b.stop(release=False)  # dies without a word: its row and leases run out
        await eventually(lambda: _runs(a, session_ids), "a takes all of b's sessions")
        assert await live_instances(store) == 1
    finally:
        await rig.close()


@POSTGRES_ONLY
async def test_orphans_nobody_came_for_are_taken_beyond_the_share(store: Database) -> None:
    """c dies. b counts as alive (its row is renewed) but does not come to adopt: a hung
    heartbeat, played here by b's rows alone. a's share of c's sessions is half of them; the
    other half are a's too once they have been orphans for one of a's passes."""
    rig = make_rig(store)
    a, c = engines(rig, "instance-a", "instance-c", lease=2, interval=0.3)
    try:
        async with store.engine.begin() as connection:
            await leases.register_instance(connection, "instance-b", LONG)
        await a.start()
        await c.start()
        session_ids = await shows(rig, a, 12)
        await eventually(lambda: _has(c, 4), "c takes its share")
        async with store.engine.begin() as connection:  # b takes its share, then hangs
            for session_id, owner in (await owners(store, session_ids)).items():
                if owner is None:
                    assert await leases.acquire_or_renew_lease(
                        connection, session_id, "instance-b", LONG
                    )
        assert await counts(store, session_ids) == {
            "instance-a": 4, "instance-b": 4, "instance-c": 4
        }  # fmt: skip
        await c.stop(release=False)
        # Shares alone give a 6 of 12 (two live instances), leaving two of c's sessions for b.
        await eventually(lambda: _has(a, 8), "a takes every one of c's sessions")
        assert await counts(store, session_ids) == {"instance-a": 8, "instance-b": 4}
    finally:
        await rig.close()


async def _runs(engine: Engine, session_ids: list[str]) -> bool:
    await engine.maintain()
    return set(engine.runners) == set(session_ids)


async def _has(engine: Engine, count: int) -> bool:
    await asyncio.sleep(0)  # the engine's own loop makes the passes here
    return len(engine.runners) >= count


@POSTGRES_ONLY
async def test_the_next_expiry_of_another_instance_is_seen(store: Database) -> None:
    rig = make_rig(store)
    a, b = engines(rig, "instance-a", "instance-b", lease=LONG)
    try:
        await a.start()
        async with reading(store.engine) as connection:
            assert (await leases.census(connection, "instance-a", 1.0)).next_expiry is None
        await b.start()
        async with reading(store.engine) as connection:
            seen = await leases.census(connection, "instance-a", 1.0)
        assert seen.live_instances == 2
        assert seen.next_expiry is not None and 0 < seen.next_expiry <= LONG
    finally:
        await rig.close()
