"""Outbound webhooks under load: cue punctuality while 1,000 events a second are queued.

Run as ``python bench/outbound_load.py [--db sqlite|postgresql] [--sessions 200] [--cues 10]
[--every 3] [--rate 1000]``. One run, four measurements of the same show schedule:

1. the baseline: bare asyncio timers sleeping until the same moments;
2. the engine alone (no outbound work);
3. the engine while ``--rate`` events a second are written to the outbox (in the engine's own
   write transactions, as the state changes would) and the delivery worker runs with no
   endpoint subscribed;
4. the same with one subscribed endpoint: a receiver in another process on 127.0.0.1 that
   answers 200, every event delivered over real HTTP, signed.

Lateness is the time from a cue's planned moment to the moment it was recorded as sent. The
claim (DESIGN §7) is that outbound work never slows a live cue: run 4's p99 stays near run 2's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from engine_punctuality import baseline, load, schedule
from enginebench import (
    adopt_all,
    attach_many,
    database_url,
    deliver_starts,
    figures,
    open_db,
    p99,
    show_text,
    sim_engine,
    spread,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.clock import RealClock
from facilbot.outbound import outbox, tables
from facilbot.outbound import store as outbound_store
from facilbot.outbound.secrets import Cipher, new_fernet_key
from facilbot.outbound.worker import OutboundWorker
from facilbot.store import firings as store_firings
from facilbot.store.db import reading
from integrations.sim import SimWorld

RECEIVER = """
import asyncio, sys
async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\\r\\n", b""):
                    break
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


async def produce(
    engine_writing: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    session_ids: list[str],
    rate: int,
    stop: asyncio.Event,
) -> int:
    """Queue ``rate`` events a second (in 20 transactions a second) until ``stop``."""
    batch = max(1, rate // 20)
    queued = 0
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop.is_set():
        rows = [
            (
                "control.applied",
                {"session_id": session_ids[(queued + n) % len(session_ids)], "kind": "bench"},
                session_ids[(queued + n) % len(session_ids)],
            )
            for n in range(batch)
        ]
        async with engine_writing() as connection:
            await outbox.add_many(connection, rows, datetime.now(UTC))
        queued += batch
        next_at += 0.05
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    return queued


async def run(
    kind: str, sessions: int, cues: int, every: int, lead: float, rate: int, mode: str
) -> dict[str, float | list[float]]:
    """mode: "alone", "queued" (no endpoint) or "delivered" (one endpoint)."""
    async with database_url(kind) as url:
        db = await open_db(url)
        world = SimWorld()
        clock = RealClock()
        engine = sim_engine(db, clock, world, f"bench-{kind}")
        receiver = None
        worker = None
        stop = asyncio.Event()
        producer = None
        try:
            attached = await attach_many(
                db, world, show_text(cues, every), sessions, now=clock.now()
            )
            cipher = Cipher(new_fernet_key())
            if mode == "delivered":
                receiver = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", textwrap.dedent(RECEIVER), stdout=asyncio.subprocess.PIPE
                )
                assert receiver.stdout is not None
                port = int((await receiver.stdout.readline()).decode())
                async with db.engine.begin() as connection:
                    await outbound_store.create_endpoint(
                        connection,
                        cipher,
                        url=f"http://127.0.0.1:{port}/hook",
                        event_types=[],
                        description="bench",
                        at=clock.now(),
                    )
            await engine.start()
            await adopt_all(engine, attached.session_ids)
            if mode != "alone":
                worker = OutboundWorker(
                    engine.writing,
                    lambda: reading(db.engine),
                    clock,
                    cipher,
                    instance_id="bench",
                    dialect=db.dialect,
                    allow_private=True,
                )
                await worker.start()
                producer = asyncio.create_task(
                    produce(engine.writing, attached.session_ids, rate, stop)
                )
            starts = spread(clock.now() + timedelta(seconds=lead), sessions, every)
            await deliver_starts(db, attached.session_ids, starts)
            await engine.maintain()
            expected = sessions * cues
            began = time.monotonic()
            deadline = began + lead + cues * every + 120
            while sum(engine.counters[s] for s in ("sent", "failed", "skipped")) < expected:
                if time.monotonic() > deadline:
                    print(f"  {mode}: timed out waiting for the cues", file=sys.stderr)
                    break
                await asyncio.sleep(0.25)
            elapsed = time.monotonic() - began
            stop.set()
            queued = await producer if producer is not None else 0
            sent: list[float] = []
            async with reading(db.engine) as connection:
                for session_id in attached.session_ids:
                    for f in await store_firings.firings_for(connection, session_id):
                        if f.sent_at is not None:
                            sent.append((f.sent_at - f.planned_at).total_seconds() * 1000)
                delivered = (
                    await connection.execute(
                        select(func.count())
                        .select_from(tables.deliveries)
                        .where(tables.deliveries.c.status == "delivered")
                    )
                ).scalar_one()
                events = (
                    await connection.execute(select(func.count()).select_from(tables.events))
                ).scalar_one()
            return {
                "sent": sent,
                "queued_per_s": queued / elapsed,
                "events": float(events),
                "delivered_per_s": delivered / elapsed,
                "expected": float(expected),
            }
        finally:
            stop.set()
            if producer is not None and not producer.done():
                producer.cancel()
            if worker is not None:
                await worker.stop()
            await engine.stop()
            await db.close()
            if receiver is not None:
                receiver.kill()
                await receiver.wait()


async def main(args: argparse.Namespace) -> int:
    print(
        f"{args.sessions} sessions × {args.cues} cues every {args.every} s on {args.db}, "
        f"{args.rate} events/s queued in runs 3 and 4; {load()}"
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    base = await baseline(schedule(spread(now, args.sessions, args.every), args.cues, args.every))
    print(f"  1 baseline (bare asyncio timers)          {figures(base)}")
    results = {}
    for number, mode, label in (
        (2, "alone", "engine alone                  "),
        (3, "queued", "+ events queued, no endpoint  "),
        (4, "delivered", "+ events delivered, 1 endpoint"),
    ):
        result = await run(
            args.db, args.sessions, args.cues, args.every, args.lead, args.rate, mode
        )
        results[mode] = result
        sent = result["sent"]
        assert isinstance(sent, list)
        extra = ""
        if mode != "alone":
            extra = (
                f"   queued {result['queued_per_s']:.0f}/s, "
                f"delivered {result['delivered_per_s']:.0f}/s"
            )
        print(f"  {number} {label} sent {figures(sent)}{extra}")
    alone = p99(results["alone"]["sent"])  # type: ignore[arg-type]
    loaded = p99(results["delivered"]["sent"])  # type: ignore[arg-type]
    print(
        f"  p99 with delivery {loaded:.2f} ms vs engine alone {alone:.2f} ms "
        f"(baseline {p99(base):.2f} ms); {load()}"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--cues", type=int, default=10)
    parser.add_argument("--every", type=int, default=3, help="seconds between cues")
    parser.add_argument("--lead", type=float, default=5)
    parser.add_argument("--rate", type=int, default=1000, help="events queued per second")
    sys.exit(asyncio.run(main(parser.parse_args())))
