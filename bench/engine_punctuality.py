"""Cue punctuality with many concurrent sessions, against a bare asyncio timer (DESIGN §7).

Run as ``python bench/engine_punctuality.py [--db sqlite|postgresql|both] [--sessions 1000]
[--cues 10] [--every 3]``. Each session runs its own short show (a ``say`` cue every
``--every`` seconds) on the real clock; the sessions' meetings start spread evenly over one
cue interval, so the load is steady rather than one burst (``engine_burst.py`` measures that).
The 1,000 start controls are delivered at once ``--lead`` seconds (default 10) before the first
cues, so that what is measured is the steady state, not the start-up storm (each runner reloads
its log and records the session as running when its start arrives; use ``--lead 0`` to see
that storm land on the first cues).

Lateness is the time between a cue's planned moment and the moment it was recorded as sent
(read back from the database after the run), and the moment it was claimed (negative: claims
are reservations written up to ``RESERVE_AHEAD`` before the moment, see docs/scaling.md).
The baseline is bare asyncio tasks sleeping until exactly the same moments in the same
process. Target (issue 14, DESIGN §7): p99 sent ≤ 10 ms on both databases. Exits 1 when a target
is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from enginebench import (
    adopt_all,
    attach_many,
    database_url,
    deliver_starts,
    figures,
    open_db,
    p99,
    postgres_reachable,
    show_text,
    sim_engine,
    spread,
)

from facilbot.engine.clock import RealClock
from facilbot.store import firings as store_firings
from facilbot.store.db import reading
from integrations.sim import SimWorld

TARGETS = {"sqlite": 10.0, "postgresql": 10.0}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def schedule(starts: list[datetime], cues: int, every: int) -> list[list[datetime]]:
    return [[start + timedelta(seconds=n * every) for n in range(cues)] for start in starts]


async def baseline(due: list[list[datetime]]) -> list[float]:
    """Bare asyncio: one task per session sleeping until each of its moments."""
    late: list[float] = []

    async def session(moments: list[datetime]) -> None:
        for moment in moments:
            delay = (moment - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            late.append((datetime.now(UTC) - moment).total_seconds() * 1000)

    await asyncio.gather(*(session(m) for m in due))
    return late


async def engine_run(
    kind: str, sessions: int, cues: int, every: int, lead: float
) -> dict[str, list[float]]:
    async with database_url(kind) as url:
        db = await open_db(url)
        world = SimWorld()
        clock = RealClock()
        engine = sim_engine(db, clock, world, f"bench-{kind}")
        try:
            attached = await attach_many(
                db, world, show_text(cues, every), sessions, now=clock.now()
            )
            await engine.start()
            took = await adopt_all(engine, attached.session_ids)
            print(f"  {kind}: {sessions} sessions attached and adopted ({took:.1f} s)")
            starts = spread(clock.now() + timedelta(seconds=lead), sessions, every)
            await deliver_starts(db, attached.session_ids, starts)
            await engine.maintain()  # the periodic check delivers the new controls
            expected = sessions * cues
            deadline = time.monotonic() + lead + cues * every + 120
            gc.collect()
            while sum(engine.counters[s] for s in ("sent", "failed", "skipped")) < expected:
                if time.monotonic() > deadline:
                    print(f"  {kind}: timed out waiting for the cues", file=sys.stderr)
                    break
                await asyncio.sleep(0.25)
            claimed: list[float] = []
            sent: list[float] = []
            statuses: dict[str, int] = {}
            async with reading(db.engine) as connection:
                for session_id in attached.session_ids:
                    for f in await store_firings.firings_for(connection, session_id):
                        statuses[f.status] = statuses.get(f.status, 0) + 1
                        claimed.append((f.claimed_at - f.planned_at).total_seconds() * 1000)
                        if f.sent_at is not None:
                            sent.append((f.sent_at - f.planned_at).total_seconds() * 1000)
            print(f"  {kind}: {sum(statuses.values())}/{expected} cues recorded: {statuses}")
            return {"claimed": claimed, "sent": sent, "starts": [], "expected": [expected]}
        finally:
            await engine.stop()
            await db.close()


async def main(args: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds:
        reason = await postgres_reachable()
        if reason is not None:
            print(f"PostgreSQL skipped: not reachable ({reason})")
            kinds.remove("postgresql")
    ok = True
    print(
        f"{args.sessions} sessions × {args.cues} cues every {args.every} s "
        f"(~{args.cues * args.every} s per run); {load()}"
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    base = await baseline(schedule(spread(now, args.sessions, args.every), args.cues, args.every))
    print(f"  baseline (bare asyncio timers)  {figures(base)}")
    for kind in kinds:
        result = await engine_run(kind, args.sessions, args.cues, args.every, args.lead)
        print(f"  {kind:<10} claimed          {figures(result['claimed'])}")
        print(f"  {kind:<10} sent             {figures(result['sent'])}")
        target = TARGETS[kind]
        complete = len(result["sent"]) == result["expected"][0]
        met = p99(result["sent"]) <= target and complete
        ok &= met
        print(
            f"  {kind:<10} target p99 sent ≤ {target:g} ms: "
            f"{'met' if met else 'MISSED'} (baseline p99 {p99(base):.2f} ms)"
        )
    print(f"  after: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--cues", type=int, default=10)
    parser.add_argument("--every", type=int, default=3, help="seconds between cues")
    parser.add_argument(
        "--lead",
        type=float,
        default=10,
        help="seconds from delivering the starts to the first cues",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
