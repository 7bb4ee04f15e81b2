"""What the database does per cue and per idle session: statements, rows, bytes (docs/scaling.md).

Run as ``python bench/engine_db_cost.py [--db sqlite|postgresql|both] [--sessions 1000]
[--idle 20]``. Statements are counted in the process with a SQLAlchemy ``before_cursor_execute``
listener (pg_stat_statements is not assumed to be loaded): each statement, the parameter rows
it carried (an executemany counts each row) and the bytes of its parameters as sent (their
text length, a lower bound of the wire size). Three phases, each counted on its own:

1. a burst: every session's cue due at one instant (claim, send, outcome, outbox event);
2. idle: the sessions running with nothing due for ``--idle`` seconds (the heartbeat and the
   version check), reported per session per minute;
3. the baseline: ``SELECT 1`` round trips in the same run, for the cost of one statement.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from enginebench import (
    burst_ahead,
    database_url,
    open_db,
    postgres_reachable,
    sim_engine,
)
from sqlalchemy import event, text

from facilbot.engine.clock import RealClock
from integrations.sim import SimWorld


class Meter:
    """Statements, parameter rows and parameter bytes, by the statement's first words."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()

    def reset(self) -> None:
        self.statements.clear()
        self.rows.clear()
        self.bytes.clear()

    def __call__(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        words = statement.split()
        kind = " ".join(words[:3]).lower() if words else "?"
        if kind.startswith(("begin", "commit", "rollback")):
            kind = words[0].lower()
        rows = len(parameters) if many else 1
        self.statements[kind] += 1
        self.rows[kind] += rows
        self.bytes[kind] += len(statement) + len(repr(parameters))

    def total(self) -> tuple[int, int, int]:
        return sum(self.statements.values()), sum(self.rows.values()), sum(self.bytes.values())


async def measure(kind: str, sessions: int, idle: float) -> None:
    async with database_url(kind) as url:
        db = await open_db(url)
        meter = Meter()
        event.listen(db.engine.sync_engine, "before_cursor_execute", meter)
        world = SimWorld()
        clock = RealClock()
        engine = sim_engine(db, clock, world, f"cost-{kind}")
        try:
            _, moment = await burst_ahead(db, engine, world, sessions, lead=5)
            await asyncio.sleep(max(0.0, (moment - clock.now()).total_seconds() - 0.5))
            meter.reset()
            deadline = time.monotonic() + 120
            while sum(engine.counters[s] for s in ("sent", "failed", "skipped")) < sessions:
                if time.monotonic() > deadline:
                    print(f"  {kind}: timed out waiting for the burst", file=sys.stderr)
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # the outcomes' batches
            statements, rows, size = meter.total()
            print(
                f"  {kind:<10} per cue (burst of {sessions}): {statements / sessions:.3f} "
                f"statements, {rows / sessions:.2f} rows, {size / sessions:,.0f} bytes"
            )
            for name, count in meter.statements.most_common(8):
                print(f"               {count:6d} × {name!r:<34} {meter.rows[name]:7d} rows")
            meter.reset()
            began = time.monotonic()
            await asyncio.sleep(idle)
            minutes = (time.monotonic() - began) / 60
            statements, rows, size = meter.total()
            per = sessions * minutes
            print(
                f"  {kind:<10} idle, per session per minute: {statements / per:.3f} statements, "
                f"{rows / per:.2f} rows, {size / per:,.0f} bytes "
                f"({statements / minutes:.0f} statements a minute for {sessions} sessions)"
            )
            meter.reset()
            began = time.monotonic()
            async with db.engine.connect() as connection:
                for _ in range(200):
                    await connection.execute(text("SELECT 1"))
            print(
                f"  {kind:<10} baseline: SELECT 1 round trip "
                f"{(time.monotonic() - began) / 200 * 1000:.2f} ms"
            )
        finally:
            await engine.stop()
            await db.close()


async def main(args: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds and (reason := await postgres_reachable()) is not None:
        print(f"PostgreSQL skipped: not reachable ({reason})")
        kinds.remove("postgresql")
    print(f"database work, {args.sessions} sessions, lease 10 s (heartbeat every 3.3 s)")
    for kind in kinds:
        await measure(kind, args.sessions, args.idle)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle measured")
    sys.exit(asyncio.run(main(parser.parse_args())))
