"""Memory per idle attached session (DESIGN §7: ≤ 100 KB).

Run as ``python bench/engine_memory.py [--db sqlite|postgresql|both] [--sessions 1000]``.
Measures, with ``tracemalloc`` (Python allocations) and the process's resident set size, what
the engine holds for ``--sessions`` sessions in two idle states: attached and waiting for their
meeting to start, and running with the next cue an hour away. The baseline is the same number
of bare asyncio tasks each waiting on an event (the least an idle session could cost).
Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tracemalloc

from enginebench import (
    adopt_all,
    attach_many,
    database_url,
    deliver_starts,
    open_db,
    postgres_reachable,
    show_text,
    sim_engine,
)

from facilbot.engine.clock import RealClock
from integrations.sim import SimWorld

TARGET_KB = 100.0


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure() -> tuple[int, int]:
    gc.collect()
    return tracemalloc.get_traced_memory()[0], rss()


async def baseline(count: int) -> tuple[float, float]:
    before = measure()
    events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(e.wait()) for e in events]
    await asyncio.sleep(0.1)
    after = measure()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (after[0] - before[0]) / count / 1024, (after[1] - before[1]) / count / 1024


async def engine_memory(kind: str, count: int) -> dict[str, tuple[float, float]]:
    async with database_url(kind) as url:
        db = await open_db(url)
        clock = RealClock()
        engine = sim_engine(db, clock, SimWorld(), f"memory-{kind}")
        try:
            await engine.start()
            text = show_text(2, 3600, lead=3600)  # the first cue an hour after the start
            # Warm up what every process holds once (statement caches, the show, imports).
            warm = await attach_many(db, SimWorld(), text, 20, now=clock.now(), meetings=False)
            await adopt_all(engine, warm.session_ids)
            await asyncio.sleep(0.5)
            before = measure()
            attached = await attach_many(
                db, SimWorld(), text, count, now=clock.now(), prefix="idle", meetings=False
            )
            await adopt_all(engine, attached.session_ids)
            await asyncio.sleep(1.0)
            waiting = measure()
            await deliver_starts(db, [*warm.session_ids, *attached.session_ids], clock.now())
            await engine.maintain()
            await asyncio.sleep(2.0)
            running = measure()
            assert engine.counters.total() == 0, "a cue fired: the sessions were not idle"
            return {
                "attached, waiting": (
                    (waiting[0] - before[0]) / count / 1024,
                    (waiting[1] - before[1]) / count / 1024,
                ),
                "running, next cue in 1 h": (
                    (running[0] - before[0]) / count / 1024,
                    (running[1] - before[1]) / count / 1024,
                ),
            }
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
    tracemalloc.start()
    print(f"memory per idle session, {args.sessions} sessions (Python heap / RSS delta)")
    heap, resident = await baseline(args.sessions)
    print(f"  baseline (bare task + event)         {heap:7.1f} KB   {resident:7.1f} KB")
    ok = True
    for kind in kinds:
        for state, (heap, resident) in (await engine_memory(kind, args.sessions)).items():
            met = max(heap, resident) <= TARGET_KB
            ok &= met
            print(
                f"  {kind:<10} {state:<26}{heap:7.1f} KB   {resident:7.1f} KB   "
                f"{'met' if met else 'MISSED'} (≤ {TARGET_KB:g} KB)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=1000)
    sys.exit(asyncio.run(main(parser.parse_args())))
