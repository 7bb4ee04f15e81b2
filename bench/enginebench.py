"""Shared parts of the engine benchmarks (``bench/engine_*.py``): databases, shows, figures.

Everything runs on this machine only: a SQLite file in a temporary folder, or a throwaway
database created in the local PostgreSQL (``FACILBOT_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``) and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as ``python bench/engine_x.py`` from anywhere
    sys.path.insert(0, str(ROOT))

from facilbot.engine import heap  # noqa: E402
from facilbot.engine.clock import Clock  # noqa: E402
from facilbot.engine.engine import Engine  # noqa: E402
from facilbot.settings import load_settings  # noqa: E402
from facilbot.store import controls as store_controls  # noqa: E402
from facilbot.store import sessions as store_sessions  # noqa: E402
from facilbot.store import shows as store_shows  # noqa: E402
from facilbot.store.controls import NewControl  # noqa: E402
from facilbot.store.db import Database, open_database  # noqa: E402
from facilbot.store.retry import in_transaction  # noqa: E402
from integrations.sim import SimAdapter, SimWorld, default_scenario  # noqa: E402

POSTGRES_URL = os.environ.get(
    "FACILBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
os.environ.setdefault("FACILBOT_ENV", "development")


def show_text(cues: int, every: int, *, lead: int = 0) -> str:
    """One activity segment with a ``say`` cue every ``every`` seconds (from ``lead``)."""
    length = lead + cues * every
    lines = [
        "title: bench",
        f"duration: {length}s",
        "segments:",
        "  - id: work",
        "    kind: activity",
        f"    duration: {length}s",
        "    cues:",
    ]
    lines += [f'      - {{at: {lead + n * every}s, say: "cue {n}"}}' for n in range(cues)]
    return "\n".join(lines) + "\n"


def figures(values_ms: Sequence[float]) -> str:
    if not values_ms:
        return "no samples"
    ordered = sorted(values_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms   "
        f"max {ordered[-1]:7.2f} ms   (n={len(ordered)})"
    )


def p99(values_ms: Sequence[float]) -> float:
    ordered = sorted(values_ms)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def postgres_reachable() -> str | None:
    """None when the local PostgreSQL answers, else the reason."""
    try:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(POSTGRES_URL, timeout=3)
        await connection.close()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@asynccontextmanager
async def database_url(kind: str) -> AsyncIterator[str]:
    """A fresh, empty database URL of ``kind`` ("sqlite" or "postgresql"), removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="facilbot-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"facilbot_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def open_db(url: str, *, single_instance: bool = True) -> Database:
    folder = Path(tempfile.gettempdir())
    settings = load_settings(data_dir=folder, database_url=url, _env_file=None)
    return await open_database(settings, single_instance=single_instance)


def sim_engine(
    db: Database,
    clock: Clock,
    world: SimWorld,
    instance_id: str,
    *,
    lease_seconds: float = 10.0,
    maintenance_interval: float | None = None,
) -> Engine:
    adapter = SimAdapter(world, "full")
    heap.freeze()  # as ``facilbot serve`` does once it has started (facilbot/engine/heap.py)
    return Engine(
        db,
        clock,
        instance_id=instance_id,
        adapters={"sim": adapter},
        lease_seconds=lease_seconds,
        maintenance_interval=maintenance_interval,
    )


@dataclass
class Attached:
    session_ids: list[str]
    show_version_id: int


async def attach_many(
    db: Database,
    world: SimWorld,
    text: str,
    count: int,
    *,
    now: datetime,
    starts: Sequence[datetime] | None = None,
    prefix: str = "bench",
    meetings: bool = True,
) -> Attached:
    """Store one show and ``count`` sessions on simulated meetings, in few transactions.

    With ``starts``, each session gets a Start control stamped at that (future) moment, as if
    its meeting started then: the same log entry the engine appends when a meeting starts.
    """
    async with db.engine.begin() as connection:
        version, _ = await store_shows.save_show_version(
            connection, name="bench", yaml_text=text, title="bench", uploaded_at=now,
            uploaded_by="bench",
        )  # fmt: skip
    ids: list[str] = []
    for first in range(0, count, 200):
        async with db.engine.begin() as connection:
            for n in range(first, min(count, first + 200)):
                ref = f"{prefix}-{n}"
                if meetings and ref not in world:
                    meeting = world.create(default_scenario(n, 2, commands=()), ref)
                    meeting.start(now)
                session_id = await store_sessions.create_session(
                    connection, show_version_id=version.id, platform="sim", meeting_ref=ref,
                    created_at=now,
                )  # fmt: skip
                await store_controls.append_control(
                    connection, session_id, "attach", {"platform": "sim"}, now, "bench"
                )
                if starts is not None:
                    await store_controls.append_control(
                        connection, session_id, "start", {}, starts[n], "bench", created_at=now
                    )
                ids.append(session_id)
    return Attached(ids, version.id)


async def adopt_all(engine: Engine, session_ids: Sequence[str], within: float = 120) -> float:
    """Run maintenance passes until ``engine`` runs every session; seconds it took."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    wanted = set(session_ids)
    while not wanted <= set(engine.runners):
        if loop.time() - began > within:
            raise SystemExit(f"only {len(wanted & set(engine.runners))} sessions adopted")
        await engine.maintain()
    return loop.time() - began


async def deliver_starts(
    db: Database, session_ids: Sequence[str], moments: Sequence[datetime] | datetime
) -> None:
    """Start these sessions' shows (each at its moment, or all at one), 200 per transaction.

    The engine's heartbeat renews the same session rows meanwhile: ``append_controls`` locks
    them in id order, the heartbeat's order (appending one by one in list order deadlocked with
    it); ``in_transaction`` re-runs a batch should the database abort it anyway. On SQLite the
    batches go through the engine's writers' turn (``writing``) when one is given.
    """
    at = [moments] * len(session_ids) if isinstance(moments, datetime) else list(moments)
    entries = [
        NewControl(session_id, "start", {}, when, "bench")
        for session_id, when in zip(session_ids, at, strict=True)
    ]
    for first in range(0, len(entries), 200):
        chunk = entries[first : first + 200]

        async def deliver(connection: AsyncConnection, chunk: list[NewControl] = chunk) -> None:
            await store_controls.append_controls(connection, chunk)

        await in_transaction(db.engine, deliver)


async def burst_ahead(
    db: Database, engine: Engine, world: SimWorld, sessions: int, lead: float
) -> tuple[Attached, datetime]:
    """``sessions`` sessions adopted by ``engine``, every show starting ``lead`` seconds from
    now with a cue at 0 s (a burst) and a second an hour later (running and idle after it)."""
    clock = engine.clock
    attached = await attach_many(db, world, show_text(2, 3600), sessions, now=clock.now())
    await engine.start()
    await adopt_all(engine, attached.session_ids)
    moment = clock.now() + timedelta(seconds=lead)
    await deliver_starts(db, attached.session_ids, moment)
    await engine.maintain()
    return attached, moment


def spread(start: datetime, count: int, over: float) -> list[datetime]:
    """``count`` moments spread evenly over ``over`` seconds from ``start``."""
    return [start + timedelta(seconds=over * n / count) for n in range(count)]


class StallMeter:
    """A ticker task: how far past its 5 ms ticks the event loop let it run (loop stalls)."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.tick)
            self.worst = max(self.worst, (loop.time() - before - self.tick) * 1000)

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
