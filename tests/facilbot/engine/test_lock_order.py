"""The lease heartbeat, batched control appends and batched claims on the same session rows, at
once, on PostgreSQL: none of them deadlocks (``store.sessions``, "Lock order").

Before the lock order, the heartbeat's UPDATE locked an instance's sessions in scan order while
a batch of appends locked them in list order, and PostgreSQL aborted one of the two.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store import controls as store_controls
from facilbot.store.controls import NewControl
from facilbot.store.db import Database, reading
from facilbot.store.retry import in_transaction
from tests.facilbot.engine.harness import SMALL_SHOW, T0, attach, firings, make_rig, scenario

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

SESSIONS = 60
ROUNDS = 6


async def append_to_all(db: Database, session_ids: list[str], kind: str, **payload: int) -> None:
    """One transaction appending a control to every session, like the benchmark's starts."""
    entries = [NewControl(s, kind, payload, T0, "test") for s in session_ids]

    async def append(connection: AsyncConnection) -> list[int]:
        return await store_controls.append_controls(connection, entries)

    await in_transaction(db.engine, append)


@POSTGRES_ONLY
async def test_heartbeat_and_batched_appends_on_many_sessions_never_deadlock(
    store: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="facilbot")
    rig = make_rig(store)
    # The maintenance loop stays asleep: the test runs the heartbeats itself, back to back.
    engine = rig.engine("instance-a", lease_seconds=60, maintenance_interval=3600)
    try:
        session_ids = []
        for n in range(SESSIONS):
            meeting = rig.world.create(scenario(3600, size=2, commands=()), f"sim-lock-{n}")
            meeting.start(T0)
            session_ids.append(await attach(engine, SMALL_SHOW, meeting.meeting_ref))
        await engine.start()
        assert set(engine.runners) == set(session_ids)
        # Every show starts at once: each runner claims its first cue (a batched claim) and
        # marks its session running, while the heartbeats and the appends below go on.
        await append_to_all(store, session_ids, "start")

        async def heartbeats() -> None:
            for _ in range(ROUNDS * 2):
                await engine.maintain()

        async def appends(seed: int) -> None:
            order = list(session_ids)
            for _ in range(ROUNDS):
                random.Random(seed).shuffle(order)  # any order in: append_controls sorts
                await append_to_all(store, order, "extend", seconds=60)

        async def single_controls() -> None:
            for session_id in reversed(session_ids):
                await engine.control(session_id, "extend", {"seconds": 60}, "test")

        await asyncio.wait_for(
            asyncio.gather(
                heartbeats(),
                heartbeats(),
                appends(1),
                appends(2),
                appends(3),
                single_controls(),
            ),
            timeout=120,
        )
        await rig.clock.settle()

        extends = 3 * ROUNDS + 1
        async with reading(store.engine) as connection:
            versions = await store_controls.session_versions(connection, session_ids)
        # attach + start + every extend: nothing lost, nothing doubled.
        assert versions == {s: 2 + extends for s in session_ids}
        assert set(engine.runners) == set(session_ids)
        for session_id in session_ids:
            assert [(f.key, f.status) for f in await firings(store, session_id)] == [
                ("open-1", "sent")
            ]
    finally:
        await rig.close()
    # Not even a retried deadlock: the order alone kept them apart.
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
