"""A burst: 1,000 cues due at the same instant (every session started on the hour).

Run as ``python bench/engine_burst.py [--db sqlite|postgresql|both] [--sessions 1000]
[--lead 10]``. Every session's meeting starts at the same moment and its show opens with a cue
at 0 s, so all the cues fall due together. The start controls are delivered ``--lead`` seconds
before, so the burst is the cues alone (``--lead 0`` adds the start-up storm). Measured: how
late the last cue was recorded as sent (and the distribution), and the longest event-loop
stall seen by a 5 ms ticker task. The baseline is the same number of bare asyncio timers due
at one instant, with the same ticker. Targets (DESIGN §7): last cue ≤ 100 ms late, no stall
> 50 ms. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from enginebench import (
    StallMeter,
    burst_ahead,
    database_url,
    figures,
    open_db,
    postgres_reachable,
    sim_engine,
)

from facilbot.engine.clock import RealClock
from facilbot.store import firings as store_firings
from facilbot.store.db import reading
from integrations.sim import SimWorld

LAST_TARGET = 100.0
STALL_TARGET = 50.0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


async def baseline(count: int) -> tuple[list[float], float]:
    moment = datetime.now(UTC) + timedelta(seconds=1)
    late: list[float] = []

    async def timer() -> None:
        await asyncio.sleep((moment - datetime.now(UTC)).total_seconds())
        late.append((datetime.now(UTC) - moment).total_seconds() * 1000)

    with StallMeter() as meter:
        await asyncio.gather(*(timer() for _ in range(count)))
        await asyncio.sleep(0.2)
    return late, meter.worst


async def burst(kind: str, sessions: int, lead: float) -> tuple[list[float], float, dict[str, int]]:
    async with database_url(kind) as url:
        db = await open_db(url)
        world = SimWorld()
        clock = RealClock()
        engine = sim_engine(db, clock, world, f"burst-{kind}")
        try:
            attached, _ = await burst_ahead(db, engine, world, sessions, lead)
            deadline = time.monotonic() + 120
            with StallMeter() as meter:
                while sum(engine.counters[s] for s in ("sent", "failed", "skipped")) < sessions:
                    if time.monotonic() > deadline:
                        print(f"  {kind}: timed out", file=sys.stderr)
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)
            late: list[float] = []
            statuses: dict[str, int] = {}
            async with reading(db.engine) as connection:
                for session_id in attached.session_ids:
                    for f in await store_firings.firings_for(connection, session_id):
                        statuses[f.status] = statuses.get(f.status, 0) + 1
                        if f.sent_at is not None:
                            late.append((f.sent_at - f.planned_at).total_seconds() * 1000)
            return late, meter.worst, statuses
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
    print(f"{args.sessions} cues due at the same instant; {load()}")
    base, base_stall = await baseline(args.sessions)
    print(f"  baseline (bare timers)  last {max(base):8.2f} ms   stall {base_stall:7.2f} ms")
    print(f"                          {figures(base)}")
    ok = True
    for kind in kinds:
        late, stall, statuses = await burst(kind, args.sessions, args.lead)
        last = max(late) if late else float("inf")
        met = last <= LAST_TARGET and stall <= STALL_TARGET and len(late) == args.sessions
        ok &= met
        print(
            f"  {kind:<10} sent          last {last:8.2f} ms   stall {stall:7.2f} ms   {statuses}"
        )
        print(f"                          {figures(late)}")
        print(
            f"  {kind:<10} targets last ≤ {LAST_TARGET:g} ms, stall ≤ {STALL_TARGET:g} ms: "
            f"{'met' if met else 'MISSED'}"
        )
    print(f"  after: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument(
        "--lead", type=float, default=10, help="seconds from delivering the starts to the burst"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
