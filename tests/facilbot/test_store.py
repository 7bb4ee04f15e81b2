"""The repository functions the engine stands on, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facilbot.settings import load_settings
from facilbot.store import activity, controls, events, firings, leases, participants, sessions
from facilbot.store.db import (
    DatabaseInUse,
    acquire_instance_lock,
    create_engine,
    db_now,
    open_database,
    reading,
    sqlite_path,
)
from facilbot.store.models import Firing, PlatformEvent, Session, table_of
from facilbot.store.shows import latest_show_version, save_show_version

T0 = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
PlatformEventTable = table_of(PlatformEvent)
SHOW = "title: Demo\nduration: 30m\nsegments: []\n"


async def new_session(connection: AsyncConnection, meeting: str = "m-1") -> str:
    show, _ = await save_show_version(
        connection, name="demo", yaml_text=SHOW, title="Demo", uploaded_at=T0, uploaded_by="ana"
    )
    return await sessions.create_session(
        connection, show_version_id=show.id, platform="sim", meeting_ref=meeting, created_at=T0
    )


async def expire_lease(connection: AsyncConnection, session_id: str) -> None:
    """Make the current owner a zombie: its lease ended a second ago on the database clock."""
    table = table_of(Session)
    await connection.execute(
        update(table)
        .where(table.c.id == session_id)
        .values(lease_until=db_now(connection.dialect.name, -1))
    )


# ---------------------------------------------------------------------------------------------
# timestamps


async def test_timestamps_come_back_in_utc_whatever_zone_went_in(engine: AsyncEngine) -> None:
    paris_summer = timezone(timedelta(hours=2))
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        await sessions.set_session_status(
            connection, session_id, "running", datetime(2030, 5, 6, 11, 30, tzinfo=paris_summer)
        )
        record = await sessions.get_session(connection, session_id)
    assert record is not None and record.started_at is not None
    assert record.started_at == datetime(2030, 5, 6, 9, 30, tzinfo=UTC)
    assert record.started_at.utcoffset() == timedelta(0)
    assert record.created_at == T0


async def test_naive_timestamps_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
    with pytest.raises(Exception, match="naive datetime"):
        async with engine.begin() as connection:
            await sessions.set_session_status(
                connection, session_id, "running", datetime(2030, 5, 6, 9, 30)
            )


# ---------------------------------------------------------------------------------------------
# platform events


async def test_platform_events_are_kept_once(engine: AsyncEngine) -> None:
    async def receive(event_id: str, platform: str = "zoom") -> bool:
        async with engine.begin() as connection:
            return await events.record_platform_event(
                connection,
                platform=platform,
                event_id=event_id,
                type="meeting.started",
                meeting_ref="123",
                payload={"event": "meeting.started", "n": 1},
                received_at=T0,
            )

    assert await receive("e1") is True
    assert await receive("e1") is False  # Zoom's retry of the same event
    assert await receive("e1", platform="teams") is True  # ids are per platform
    assert await receive("e2") is True

    async with engine.begin() as connection:
        pending = await events.unprocessed_events(connection)
        assert [(e.platform, e.event_id) for e in pending] == [
            ("zoom", "e1"),
            ("teams", "e1"),
            ("zoom", "e2"),
        ]
        assert pending[0].payload == {"event": "meeting.started", "n": 1}
        assert await events.mark_event_processed(connection, "zoom", "e1", T0) is True
        assert await events.mark_event_processed(connection, "zoom", "e1", T0) is False
        left = await events.unprocessed_events(connection)
    assert [(e.platform, e.event_id) for e in left] == [("teams", "e1"), ("zoom", "e2")]


async def test_a_batch_of_events_is_kept_once_each(engine: AsyncEngine) -> None:
    def event(event_id: str, platform: str = "zoom") -> dict[str, object]:
        return {
            "platform": platform,
            "event_id": event_id,
            "type": "ParticipantJoined",
            "meeting_ref": "123",
            "payload": {"n": event_id},
            "received_at": T0,
        }

    async with engine.begin() as connection:
        assert await events.record_platform_events(connection, []) == set()
        assert await events.record_platform_events(connection, [event("e1")]) == {("zoom", "e1")}
        stored = await events.record_platform_events(
            connection,
            [event("e1"), event("e2"), event("e2"), event("e1", "teams"), event("e3")],
        )
        pending = await events.unprocessed_events(connection)
    # e1 was there already; e2 twice in one batch is stored once.
    assert stored == {("zoom", "e2"), ("teams", "e1"), ("zoom", "e3")}
    assert [(e.platform, e.event_id, dict(e.payload)) for e in pending] == [
        ("zoom", "e1", {"n": "e1"}),
        ("zoom", "e2", {"n": "e2"}),
        ("teams", "e1", {"n": "e1"}),
        ("zoom", "e3", {"n": "e3"}),
    ]


async def test_marking_many_events_processed_marks_exactly_those_not_done(
    engine: AsyncEngine,
) -> None:
    later = T0 + timedelta(minutes=1)
    async with engine.begin() as connection:
        for platform, event_id in [
            ("zoom", "a"),
            ("zoom", "b"),
            ("zoom", "c"),
            ("zoom", "d"),
            ("zoom", "e"),
            ("teams", "a"),
            ("teams", "b"),
        ]:
            await events.record_platform_event(
                connection,
                platform=platform,
                event_id=event_id,
                type="ParticipantJoined",
                meeting_ref="123",
                payload={},
                received_at=T0,
            )
        assert await events.mark_event_processed(connection, "zoom", "b", T0) is True
        assert await events.mark_events_processed(connection, [], later) == 0
        marked = await events.mark_events_processed(
            connection,
            # b is done already, x was never received, c is given twice, teams/b is left out
            [
                ("zoom", "a"),
                ("zoom", "b"),
                ("zoom", "c"),
                ("zoom", "c"),
                ("zoom", "x"),
                ("zoom", "e"),
                ("teams", "a"),
            ],
            later,
            chunk=2,  # several statements with a handful of events
        )
        assert marked == 4
        left = await events.unprocessed_events(connection)
        done_at = dict(
            (
                await connection.execute(
                    select(
                        PlatformEventTable.c.platform + "/" + PlatformEventTable.c.event_id,
                        PlatformEventTable.c.processed_at,
                    ).where(PlatformEventTable.c.processed_at.is_not(None))
                )
            ).all()
        )
        assert await events.mark_events_processed(connection, [("zoom", "a")], later) == 0
    assert [(e.platform, e.event_id) for e in left] == [("zoom", "d"), ("teams", "b")]
    assert done_at == {
        "zoom/a": later,
        "zoom/b": T0,  # marked before: its time is kept
        "zoom/c": later,
        "zoom/e": later,
        "teams/a": later,
    }


# ---------------------------------------------------------------------------------------------
# the control log


async def test_controls_are_numbered_in_order_and_bump_the_version(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        first = await controls.append_control(connection, session_id, "start", {}, T0, "ana")
        second = await controls.append_control(
            connection, session_id, "extend", {"seconds": 300}, T0 + timedelta(minutes=5), "ana"
        )
    assert (first, second) == (1, 2)
    async with reading(engine) as connection:
        log = await controls.controls_for(connection, session_id)
        later = await controls.controls_for(connection, session_id, after_seq=1)
        versions = await controls.session_versions(connection, [session_id, "nope"])
    assert [(c.seq, c.kind, dict(c.payload), c.by) for c in log] == [
        (1, "start", {}, "ana"),
        (2, "extend", {"seconds": 300}, "ana"),
    ]
    assert log[1].at == T0 + timedelta(minutes=5)
    assert [c.seq for c in later] == [2]
    assert versions == {session_id: 2}


async def test_control_for_an_unknown_session_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(sessions.UnknownSession):
        async with engine.begin() as connection:
            await controls.append_control(connection, "no-such-session", "pause", {}, T0, "x")


async def test_concurrent_controls_get_distinct_gap_free_numbers(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)

    async def append(n: int) -> int:
        async with engine.begin() as connection:
            return await controls.append_control(
                connection, session_id, "extend", {"n": n}, T0, f"producer-{n}"
            )

    seqs = await asyncio.gather(*(append(n) for n in range(12)))
    assert sorted(seqs) == list(range(1, 13))
    async with reading(engine) as connection:
        log = await controls.controls_for(connection, session_id)
    assert [c.seq for c in log] == list(range(1, 13))


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_control_notifies_listeners_on_postgresql(
    engine: AsyncEngine, database_url: str
) -> None:
    import asyncpg

    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await listener.add_listener(
            controls.CONTROL_CHANNEL, lambda *args: heard.put_nowait(args[3])
        )
        async with engine.begin() as connection:
            session_id = await new_session(connection)
            await controls.append_control(connection, session_id, "pause", {}, T0, "ana")
            assert heard.empty()  # delivered on commit, not before
        assert await asyncio.wait_for(heard.get(), timeout=10) == f"{session_id} 1"
        # A batch notifies each of its sessions, in order.
        async with engine.begin() as connection:
            ids = [await new_session(connection, f"m-{n}") for n in range(3)]
            await controls.append_controls(
                connection, [controls.NewControl(s, "start", {}, T0, "bench") for s in ids]
            )
        payloads = [await asyncio.wait_for(heard.get(), timeout=10) for _ in ids]
        assert payloads == [f"{s} 1" for s in ids]
    finally:
        await listener.close()


async def test_a_batch_of_controls_numbers_each_session_on_from_its_version(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "ID_CHUNK", 1)  # one statement per session: the same result
    async with engine.begin() as connection:
        first = await new_session(connection, "m-1")
        second = await new_session(connection, "m-2")
        await controls.append_control(connection, first, "attach", {}, T0, "ana")
    batch = [
        controls.NewControl(second, "start", {}, T0, "bench"),
        controls.NewControl(first, "extend", {"seconds": 60}, T0, "bench", created_at=T0),
    ]
    async with engine.begin() as connection:
        assert await controls.append_controls(connection, batch) == [1, 2]
        assert await controls.append_controls(connection, []) == []
    with pytest.raises(sessions.UnknownSession):
        async with engine.begin() as connection:
            await controls.append_controls(
                connection, [controls.NewControl(n, "pause", {}, T0, "x") for n in (first, "nope")]
            )
    with pytest.raises(ValueError, match="one control per session"):
        async with engine.begin() as connection:
            await controls.append_controls(connection, [batch[0], batch[0]])
    async with reading(engine) as connection:
        assert await controls.session_versions(connection, [first, second]) == {
            first: 2,
            second: 1,
        }
        log = await controls.controls_for(connection, first)
    assert [(c.seq, c.kind, dict(c.payload), c.by) for c in log] == [
        (1, "attach", {}, "ana"),
        (2, "extend", {"seconds": 60}, "bench"),
    ]


# ---------------------------------------------------------------------------------------------
# leases


async def test_a_lease_belongs_to_one_instance_until_it_runs_out(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)  # renew
        assert not await leases.acquire_or_renew_lease(connection, session_id, "b", 10)
        record = await sessions.get_session(connection, session_id)
        assert record is not None and record.owner == "a"
        # the database clock decides: the lease ends ~10 s after the database's now
        remaining = await connection.scalar(
            select(func.count())
            .select_from(table_of(Session))
            .where(leases.holds_lease(connection.dialect.name, session_id, "a"))
        )
        assert remaining == 1

        await expire_lease(connection, session_id)
        assert await leases.acquire_or_renew_lease(connection, session_id, "b", 10)
        assert not await leases.renew_leases(connection, "a", 10)  # too late: b adopted it
        assert await leases.owned_sessions(connection, "b") == [session_id]
        assert await leases.owned_sessions(connection, "a") == []

        assert await leases.release_lease(connection, session_id, "b")
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)


async def test_heartbeat_renews_its_leases_but_not_those_adopted_meanwhile(
    engine: AsyncEngine,
) -> None:
    """A heartbeat that came late takes back its lapsed leases nobody adopted (an orphan is
    anyone's), but not one another instance adopted once it ran out."""
    async with engine.begin() as connection:
        live = await new_session(connection, "m-1")
        lapsed = await new_session(connection, "m-2")
        adopted = await new_session(connection, "m-3")
        for session_id in (live, lapsed, adopted):
            assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        await expire_lease(connection, lapsed)
        await expire_lease(connection, adopted)
        assert await leases.acquire_or_renew_lease(connection, adopted, "b", 10)
        assert await leases.renew_leases(connection, "a", 10) == sorted([live, lapsed])
        assert await leases.owned_sessions(connection, "b") == [adopted]


async def test_releasing_many_leases_gives_up_only_ours(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "ID_CHUNK", 2)
    async with engine.begin() as connection:
        ours = [await new_session(connection, f"m-{n}") for n in range(3)]
        theirs = await new_session(connection, "m-other")
        for session_id in ours:
            assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        assert await leases.acquire_or_renew_lease(connection, theirs, "b", 10)
        released = await leases.release_leases(connection, [*reversed(ours), theirs], "a")
        assert released == sorted(ours)
        assert await leases.release_leases(connection, [], "a") == []
        assert await leases.owned_sessions(connection, "a") == []
        assert await leases.owned_sessions(connection, "b") == [theirs]


async def test_ended_sessions_hold_no_lease(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        assert await sessions.set_session_status(connection, session_id, "ended", T0)
        record = await sessions.get_session(connection, session_id)
        assert record is not None
        assert (record.owner, record.lease_until, record.ended_at) == (None, None, T0)
        assert not await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        assert await leases.adopt_orphans(connection, "b", 10) == []


async def test_lease_times_written_from_python_compare_with_the_database_clock(
    engine: AsyncEngine,
) -> None:
    table = table_of(Session)
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        now = await connection.scalar(select(db_now(connection.dialect.name)))
        assert isinstance(now, datetime) and now.tzinfo is not None
        for lease_until, held in ((now + timedelta(hours=1), 1), (now - timedelta(hours=1), 0)):
            await connection.execute(
                update(table)
                .where(table.c.id == session_id)
                .values(owner="a", lease_until=lease_until)
            )
            count = await connection.scalar(
                select(func.count())
                .select_from(table)
                .where(leases.holds_lease(connection.dialect.name, session_id, "a"))
            )
            assert count == held


async def test_orphans_are_adopted_but_live_and_ended_sessions_are_not(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        never_owned = await new_session(connection, "m-1")
        zombie_owned = await new_session(connection, "m-2")
        alive = await new_session(connection, "m-3")
        ended = await new_session(connection, "m-4")
        assert await leases.acquire_or_renew_lease(connection, zombie_owned, "dead", 10)
        await expire_lease(connection, zombie_owned)
        assert await leases.acquire_or_renew_lease(connection, alive, "other", 10)
        await sessions.set_session_status(connection, ended, "ended", T0)

        adopted = await leases.adopt_orphans(connection, "me", 10, limit=1)
        assert len(adopted) == 1
        adopted += await leases.adopt_orphans(connection, "me", 10)
        assert sorted(adopted) == sorted([never_owned, zombie_owned])
        assert await leases.adopt_orphans(connection, "me", 10) == []
        assert sorted(await leases.owned_sessions(connection, "me")) == sorted(adopted)


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_concurrent_adopters_split_orphans_without_waiting(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        orphans = [await new_session(connection, f"m-{n}") for n in range(4)]
    async with engine.connect() as first, engine.connect() as second:
        async with first.begin():
            taken_first = await leases.adopt_orphans(first, "one", 10, limit=2)
            # ``first`` still holds its row locks: SKIP LOCKED lets ``second`` take the rest at
            # once (without it, this would wait for ``first`` and time out).
            async with second.begin():
                taken_second = await asyncio.wait_for(
                    leases.adopt_orphans(second, "two", 10, limit=10), timeout=10
                )
    assert len(taken_first) == 2 and len(taken_second) == 2
    assert sorted(taken_first + taken_second) == sorted(orphans)


# ---------------------------------------------------------------------------------------------
# firings


async def test_a_cue_is_claimed_once_and_only_under_a_live_lease(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)

        async def claim(key: str, instance: str) -> int | None:
            return await firings.claim_firing(
                connection, session_id, key, "say", T0, instance, claimed_at=T0
            )

        assert await claim("c1", "a") is None  # nobody holds the lease yet
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        first = await claim("c1", "a")
        assert first is not None
        assert await claim("c1", "a") is None  # already claimed
        assert await claim("c2", "b") is None  # b does not hold the lease

        # a zombie: "a" still owns the row but its lease ran out
        await expire_lease(connection, session_id)
        assert await claim("c2", "a") is None
        assert await leases.acquire_or_renew_lease(connection, session_id, "b", 10)
        assert await claim("c1", "b") is None  # claimed by a, before it died: never again
        second = await claim("c2", "b")
        assert second is not None
        assert await claim("c3", "a") is None  # the zombie still cannot claim

        rows = await firings.firings_for(connection, session_id)
    assert [(f.key, f.status, f.claimed_by) for f in rows] == [
        ("c1", "firing", "a"),
        ("c2", "firing", "b"),
    ]
    assert rows[0].planned_at == T0 and rows[0].claimed_at == T0 and rows[0].sent_at is None


async def test_concurrent_claims_on_separate_connections_have_one_winner(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 60)

    async def claim() -> int | None:
        async with engine.begin() as connection:
            return await firings.claim_firing(
                connection, session_id, "poll-1", "poll_open", T0, "a", claimed_at=T0
            )

    results = await asyncio.gather(*(claim() for _ in range(8)))
    assert len([r for r in results if r is not None]) == 1
    async with reading(engine) as connection:
        count = await connection.scalar(select(func.count()).select_from(table_of(Firing)))
    assert count == 1


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_claim_waits_for_an_uncommitted_rival_then_loses(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 60)
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        won = await firings.claim_firing(first, session_id, "k", "say", T0, "a", claimed_at=T0)
        await second.begin()
        rival = asyncio.create_task(
            firings.claim_firing(second, session_id, "k", "say", T0, "a", claimed_at=T0)
        )
        await first.commit()
        lost = await asyncio.wait_for(rival, timeout=10)
        await second.commit()
    assert won is not None and lost is None


async def test_a_burst_of_cues_is_claimed_in_one_go_under_the_same_rules(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        mine = [await new_session(connection, f"m-{n}") for n in range(3)]
        theirs = await new_session(connection, "m-other")
        zombie = await new_session(connection, "m-zombie")
        for session_id in [*mine, zombie]:
            assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        assert await leases.acquire_or_renew_lease(connection, theirs, "b", 10)
        await expire_lease(connection, zombie)
        earlier = await firings.claim_firing(
            connection, mine[0], "cue-0", "say", T0, "a", claimed_at=T0
        )
        assert earlier is not None

        burst = [
            firings.FiringClaim(session_id, f"cue-{n}", "say", T0 + timedelta(seconds=n))
            for session_id in [*mine, theirs, zombie]
            for n in range(150)  # 750 claims: several statements
        ]
        won = await firings.claim_firings(connection, burst, "a", claimed_at=T0)
        expected = {(s, f"cue-{n}") for s in mine for n in range(150)} - {(mine[0], "cue-0")}
        assert set(won) == expected
        assert await firings.claim_firings(connection, burst, "a", claimed_at=T0) == {}

        await firings.finish_firings(
            connection,
            [
                firings.FiringOutcome(
                    won[(mine[1], "cue-1")], "sent", sent_at=T0, channel="bridge"
                ),
                firings.FiringOutcome(won[(mine[1], "cue-2")], "failed", error="e" * 900),
                firings.FiringOutcome(earlier, "skipped"),
            ],
        )
        with pytest.raises(ValueError, match="cannot finish"):
            await firings.finish_firings(connection, [firings.FiringOutcome(earlier, "firing")])
        by_key = {f.key: f for f in await firings.firings_for(connection, mine[1])}
        first = {f.key: f for f in await firings.firings_for(connection, mine[0])}
    assert by_key["cue-1"].status == "sent" and by_key["cue-1"].channel == "bridge"
    assert by_key["cue-1"].sent_at == T0
    assert by_key["cue-2"].status == "failed" and len(by_key["cue-2"].error or "") == 500
    assert by_key["cue-7"].planned_at == T0 + timedelta(seconds=7)
    assert first["cue-0"].status == "skipped"


async def test_firing_outcomes(engine: AsyncEngine) -> None:
    sent_at = T0 + timedelta(milliseconds=40)
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await leases.acquire_or_renew_lease(connection, session_id, "a", 10)
        ids = [
            await firings.claim_firing(connection, session_id, key, "say", T0, "a", claimed_at=T0)
            for key in ("sent", "failed", "stuck")
        ]
        sent, failed, stuck = ids
        assert sent is not None and failed is not None and stuck is not None
        attempts = [
            {"channel": "server_api", "outcome": "failed", "detail": "429"},
            {"channel": "bridge", "outcome": "pending"},
        ]
        assert await firings.finish_firing(
            connection,
            sent,
            "sent",
            sent_at=sent_at,
            channel="bridge",
            outcome="pending",
            attempts=attempts,
        )
        assert not await firings.finish_firing(connection, sent, "failed")  # already finished
        assert await firings.acknowledge_firing(connection, sent)
        assert not await firings.acknowledge_firing(connection, sent)
        assert await firings.finish_firing(connection, failed, "failed", error="x" * 2000)
        with pytest.raises(ValueError, match="cannot finish"):
            await firings.finish_firing(connection, stuck, "firing")

        interrupted = await firings.interrupted_firings(connection, session_id)
        assert [f.key for f in interrupted] == ["stuck"]
        assert await firings.mark_interrupted(connection, session_id) == [stuck]
        assert await firings.interrupted_firings(connection, session_id) == []

        by_key = {f.key: f for f in await firings.firings_for(connection, session_id)}
    assert by_key["sent"].status == "acknowledged"
    assert by_key["sent"].channel == "bridge" and by_key["sent"].sent_at == sent_at
    assert [dict(a) for a in by_key["sent"].attempts] == attempts
    assert by_key["failed"].status == "failed"
    assert by_key["failed"].error is not None and len(by_key["failed"].error) == 500
    assert by_key["stuck"].status == "interrupted"


# ---------------------------------------------------------------------------------------------
# participants and what they did


async def test_participants_and_presence(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        ana = await participants.upsert_participant(
            connection, session_id, "p-ana", name="Ana", seen_at=T0, attributes={"dept": "ops"}
        )
        again = await participants.upsert_participant(
            connection, session_id, "p-ana", name="Ana B.", seen_at=T0, role="cohost"
        )
        bo = await participants.upsert_participant(
            connection, session_id, "p-bo", name="Bo", seen_at=T0
        )
        assert again == ana and bo != ana

        await participants.participant_joined(connection, ana, T0)
        await participants.participant_joined(connection, bo, T0 + timedelta(minutes=1))
        await participants.participant_joined(connection, ana, T0 + timedelta(minutes=2), "room 1")
        assert await participants.participant_left(connection, bo, T0 + timedelta(minutes=3)) == 1
        assert await participants.participant_left(connection, bo, T0 + timedelta(minutes=4)) == 0

        people = await participants.participants_for(connection, session_id)
        present = await participants.present_now(connection, session_id)
        intervals = await participants.presence_for(connection, session_id)
    assert [(p.participant_ref, p.name, p.role, dict(p.attributes)) for p in people] == [
        ("p-ana", "Ana B.", "cohost", {}),
        ("p-bo", "Bo", "attendee", {}),
    ]
    assert [p.participant_ref for p in present] == ["p-ana"]
    minutes = [
        (
            i.participant_id,
            (i.joined_at - T0) // timedelta(minutes=1),
            None if i.left_at is None else (i.left_at - T0) // timedelta(minutes=1),
            i.room,
        )
        for i in intervals
    ]
    assert minutes == [(ana, 0, 2, None), (bo, 1, 3, None), (ana, 2, None, "room 1")]


async def test_ending_sessions_closes_each_ones_open_presence_at_its_own_end(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        first = await new_session(connection, "m-1")
        second = await new_session(connection, "m-2")
        untouched = await new_session(connection, "m-3")
        people = {}
        for session_id in (first, second, untouched):
            for ref in ("a", "b"):
                pid = await participants.upsert_participant(
                    connection, session_id, ref, name=ref, seen_at=T0
                )
                await participants.participant_joined(connection, pid, T0)
                people[session_id, ref] = pid
        # One who left before the end keeps the moment they left.
        await participants.participant_left(
            connection, people[first, "b"], T0 + timedelta(minutes=5)
        )
        await participants.close_presence_many(
            connection, {first: T0 + timedelta(minutes=30), second: T0 + timedelta(minutes=45)}
        )
        await participants.close_presence_many(connection, {})
        closed = {
            session_id: sorted(
                None if i.left_at is None else (i.left_at - T0) // timedelta(minutes=1)
                for i in await participants.presence_for(connection, session_id)
            )
            for session_id in (first, second)
        }
        still_open = await participants.present_now(connection, untouched)
    assert closed == {first: [5, 30], second: [45, 45]}
    assert sorted(p.participant_ref for p in still_open) == ["a", "b"]


async def test_chat_messages_are_deduplicated_by_platform_id(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)

        async def say(text: str, message_id: str | None) -> bool:
            return await activity.add_chat_message(
                connection,
                session_id,
                sender_name="Ana",
                text=text,
                at=T0,
                participant_ref="p-ana",
                platform_message_id=message_id,
            )

        assert await say("hello", "msg-1")
        assert not await say("hello", "msg-1")
        assert await say("no id", None)
        assert await say("no id", None)  # without an id nothing can be told apart
        texts = [m.text for m in await activity.chat_for(connection, session_id)]
    assert texts == ["hello", "no id", "no id"]


async def test_poll_answers_latest_wins_even_out_of_order(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)

        async def answer(choice: str, minute: int, who: str = "p-ana") -> bool:
            return await activity.record_poll_answer(
                connection, session_id, "q1", who, [choice], T0 + timedelta(minutes=minute)
            )

        assert await answer("CFO", 1)
        assert await answer("Procurement", 3)
        assert not await answer("Plant manager", 2)  # a late retry of an older answer
        assert await answer("CFO", 2, who="p-bo")
        assert await activity.record_poll_answer(connection, session_id, "q2", "p-ana", [], T0)
        q1 = await activity.poll_answers_for(connection, session_id, "q1")
        everything = await activity.poll_answers_for(connection, session_id)
    assert [(a.participant_ref, list(a.answer)) for a in q1] == [
        ("p-bo", ["CFO"]),
        ("p-ana", ["Procurement"]),
    ]
    assert len(everything) == 3


async def test_commitments_one_per_participant_latest_wins(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection)
        assert await activity.record_commitment(
            connection, session_id, "p-ana", name="Ana", text="call the CFO", at=T0
        )
        assert await activity.record_commitment(
            connection,
            session_id,
            "p-ana",
            name="Ana",
            text="call the CFO by Friday",
            at=T0 + timedelta(days=1),
            source="form",
        )
        assert not await activity.record_commitment(
            connection, session_id, "p-ana", name="Ana", text="stale", at=T0 + timedelta(hours=1)
        )
        with pytest.raises(ValueError, match="source"):
            await activity.record_commitment(
                connection, session_id, "p-bo", name="Bo", text="x", at=T0, source="email"
            )
        kept = await activity.commitments_for(connection, session_id)
    assert [(c.participant_ref, c.text, c.source) for c in kept] == [
        ("p-ana", "call the CFO by Friday", "form")
    ]


# ---------------------------------------------------------------------------------------------
# shows and sessions


async def test_show_versions_are_kept_and_deduplicated_by_hash(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        first, created = await save_show_version(
            connection, name="s", yaml_text=SHOW, title="A", uploaded_at=T0, uploaded_by="ana"
        )
        same, created_again = await save_show_version(
            connection, name="s", yaml_text=SHOW, title="A", uploaded_at=T0, uploaded_by="bo"
        )
        second, _ = await save_show_version(
            connection,
            name="s",
            yaml_text=SHOW + "# edit\n",
            title="A",
            uploaded_at=T0,
            uploaded_by="ana",
        )
        other, _ = await save_show_version(
            connection, name="t", yaml_text=SHOW, title="T", uploaded_at=T0, uploaded_by=None
        )
        latest = await latest_show_version(connection, "s")
    assert created and not created_again and same == first
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert latest == second
    assert len(first.sha256) == 64 and first.sha256 != second.sha256


async def test_session_lifecycle_only_moves_forward(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        session_id = await new_session(connection, "zoom-123")
        assert await sessions.set_session_status(connection, session_id, "waiting", T0)
        assert await sessions.set_session_status(connection, session_id, "running", T0)
        assert not await sessions.set_session_status(connection, session_id, "waiting", T0)
        attached = await sessions.sessions_for_meeting(connection, "sim", "zoom-123")
        assert [s.id for s in attached] == [session_id]
        assert [s.id for s in await sessions.active_sessions(connection)] == [session_id]
        assert await sessions.set_session_status(connection, session_id, "ended", T0)
        assert await sessions.sessions_for_meeting(connection, "sim", "zoom-123") == []
        with pytest.raises(ValueError):
            await sessions.set_session_status(connection, session_id, "paused", T0)
        with pytest.raises(sessions.UnknownSession):
            await sessions.set_session_status(connection, "nope", "ended", T0)


# ---------------------------------------------------------------------------------------------
# SQLite specifics


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_sqlite_write_transactions_take_the_write_lock_up_front(
    engine: AsyncEngine, database_url: str
) -> None:
    path = sqlite_path(database_url)
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with engine.begin() as connection:
            await connection.execute(select(1))  # a read only: BEGIN IMMEDIATE locked anyway
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after commit
        other.execute("ROLLBACK")
        async with reading(engine) as connection:
            await connection.execute(select(1))
            other.execute("BEGIN IMMEDIATE")  # a deferred read leaves writers alone
            other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        async with engine.begin() as connection:
            await sessions.create_session(
                connection, show_version_id=999, platform="sim", meeting_ref="m", created_at=T0
            )


async def test_in_memory_sqlite_works_for_throwaway_runs() -> None:
    from facilbot.store.migrate import upgrade

    engine = create_engine("sqlite+aiosqlite://")
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            session_id = await new_session(connection)
        async with engine.begin() as connection:
            assert await sessions.get_session(connection, session_id) is not None
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# one process per SQLite database

HOLD_LOCK = """
import sys
from facilbot.store.db import acquire_instance_lock
lock = acquire_instance_lock(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_second_process_on_the_same_sqlite_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'facilbot.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DatabaseInUse, match=f"pid {holder.pid}") as refused:
            acquire_instance_lock(url)
        assert "PostgreSQL" in str(refused.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    lock = acquire_instance_lock(url)  # the holder exited: free again
    assert lock is not None
    lock.release()


def test_facilbot_migrate_refuses_while_another_process_holds_the_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'facilbot.db'}"
    lock = acquire_instance_lock(url)
    assert lock is not None
    try:
        result = subprocess.run(
            [sys.executable, "-m", "facilbot.cli", "migrate"],
            env={**os.environ, "FACILBOT_DATABASE_URL": url},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        lock.release()
    assert result.returncode == 2
    assert f"another facilbot process (pid {os.getpid()})" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgresql_and_memory_databases_need_no_lock() -> None:
    assert acquire_instance_lock("postgresql://u@127.0.0.1/db") is None
    assert acquire_instance_lock("sqlite+aiosqlite://") is None


async def test_open_database_locks_migrates_and_closes(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, database_url="")
    database = await open_database(settings)
    try:
        with pytest.raises(DatabaseInUse):
            await open_database(settings)
        async with database.sessions() as orm:
            count = select(func.count()).select_from(table_of(Session))
            assert (await orm.execute(count)).scalar() == 0
    finally:
        await database.close()
    reopened = await open_database(settings)  # the lock went with close()
    await reopened.close()
