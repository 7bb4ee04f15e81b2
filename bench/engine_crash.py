"""``kill -9`` in the middle of many running shows, then restart: nothing lost, nothing doubled.

Run as ``python bench/engine_crash.py [--db sqlite|postgresql|both] [--sessions 200]``. The
engine runs in a child process (the real clock, the real database). Half-way through the
shows the parent kills it with SIGKILL and starts a new process on the same database, which
runs the shows to their end. Every action that reaches a meeting is appended to a log by the
child's platform adapter (the meeting's side of the story), so a cue carried twice would show.

Checked afterwards, per session, against the timeline re-derived from the database: every
item due before the end has exactly one firing, recorded ``sent``, or ``interrupted`` (claimed
but not confirmed when the process died: reported, not repeated) or ``skipped`` by the late
policy; no cue was carried twice. Exits 1 on any loss or double. The baseline is the same
runner with no kill (its lateness), and ``python -c pass`` for the restart's start-up cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enginebench import (
    ROOT,
    adopt_all,
    attach_many,
    database_url,
    open_db,
    postgres_reachable,
    show_text,
    spread,
)
from sqlalchemy import func, select

from facilbot.engine import heap
from facilbot.engine.clock import RealClock
from facilbot.engine.engine import Engine, to_control
from facilbot.store import controls as store_controls
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.store.models import Session, table_of
from integrations.contract import Action, Capabilities, Channel, Delivery, Outcome, Platform
from integrations.sim.adapter import CAPABILITIES
from runofshow.loader import load_show_text
from runofshow.plan import live_plan

CUES, EVERY = 12, 2  # a 24-second show per session
DUE_STATES = ("sent", "interrupted", "skipped", "lost", "firing")


class LoggingAdapter:
    """A platform whose server API carries everything and writes down what it carried."""

    platform = Platform.sim

    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", encoding="utf-8")

    def capabilities(self) -> Capabilities:
        return CAPABILITIES["full"]

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        text = getattr(action, "text", action.kind)
        self._file.write(f"{meeting_ref}\t{text}\n")
        self._file.flush()  # written before the engine records it sent
        return Delivery(Channel.server_api, Outcome.delivered, "logged")


async def child(url: str, log: Path, instance: str, lease: float, *, adopt: bool = True) -> int:
    db = await open_db(url)
    engine = Engine(
        db, RealClock(), instance_id=instance, adapters={"sim": LoggingAdapter(log)},
        lease_seconds=lease,
    )  # fmt: skip
    await engine.start()
    heap.freeze()  # as ``facilbot serve`` does once it has started (facilbot/engine/heap.py)
    async with reading(db.engine) as connection:
        active = [r.id for r in await store_sessions.active_sessions(connection)]
    if adopt:  # else take whatever is free now (a second instance beside a live one)
        await adopt_all(engine, active, within=60)
    print(f"ready {time.time():.3f}", flush=True)
    # Until every session has ended; an instance started before any session exists (as
    # engine_scaleout.py starts them) waits for some to come first.
    seen = False
    # One indexed count, not the rows: with 4,000 sessions the whole rows, read every half
    # second on the loop, were a stall of their own in every instance's cues.
    unfinished = select(func.count()).where(table_of(Session).c.status != "ended")
    while True:
        async with reading(db.engine) as connection:
            running = bool((await connection.execute(unfinished)).scalar_one())
        if seen and not running:
            break
        seen |= running
        await asyncio.sleep(0.5)
    await engine.stop()
    await db.close()
    return 0


def spawn(
    url: str, log: Path, instance: str, lease: float, *, adopt: bool = True, stderr: Any = None
) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--child", url, "--log", str(log)]
    command += ["--instance", instance, "--lease", str(lease)]
    if not adopt:
        command.append("--no-adopt")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT)


def wait_ready(process: subprocess.Popen[str], within: float = 120) -> float:
    assert process.stdout is not None
    began = time.monotonic()
    line = process.stdout.readline()
    if not line.startswith("ready"):
        raise SystemExit(f"child failed to start (exit {process.wait()})")
    return time.monotonic() - began


async def verify(
    url: str, log: Path, sessions: list[str], *, cues: int = CUES, every: int = EVERY
) -> dict[str, int]:
    db = await open_db(url, single_instance=False)
    tally: Counter[str] = Counter()
    try:
        async with reading(db.engine) as connection:
            show = load_show_text(show_text(cues, every)).show
            now = datetime.now(UTC)
            for session_id in sessions:
                rows = await store_controls.controls_for(connection, session_id)
                controls = [to_control(r.kind, r.payload, r.at) for r in rows if r.kind != "attach"]
                plan = live_plan(show, controls, now)
                due = [i.key for i in plan.items if i.state == "due"]
                firings = {
                    f.key: f for f in await store_firings.firings_for(connection, session_id)
                }
                for key in due:
                    record = firings.get(key)
                    tally[record.status if record else "lost"] += 1
                tally["unplanned"] += len(set(firings) - set(due))
    finally:
        await db.close()
    carried = carried_actions(log)
    tally["carried"] = sum(carried.values())
    tally["doubled"] = sum(n - 1 for n in carried.values() if n > 1)
    return tally


def carried_actions(log: Path) -> Counter[str]:
    """How many times each (meeting, cue) reached the platform, from the children's log."""
    return Counter(log.read_text(encoding="utf-8").splitlines()) if log.exists() else Counter()


async def prepare(url: str, sessions: int, lead: float) -> tuple[list[str], datetime]:
    db = await open_db(url)
    try:
        from integrations.sim import SimWorld

        clock = RealClock()
        start = clock.now() + timedelta(seconds=lead)
        attached = await attach_many(
            db, SimWorld(), show_text(CUES, EVERY), sessions, now=clock.now(),
            starts=spread(start, sessions, EVERY),
        )  # fmt: skip
        return attached.session_ids, start
    finally:
        await db.close()


async def run(kind: str, sessions: int, lease: float, folder: Path) -> bool:
    async with database_url(kind) as url:
        ids, start = await prepare(url, sessions, lead=8)
        log = folder / f"carried-{kind}.log"
        first = spawn(url, log, f"crash-{kind}-1", lease)
        wait_ready(first)
        kill_at = start + timedelta(seconds=CUES * EVERY / 2)
        await asyncio.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        second = spawn(url, log, f"crash-{kind}-2", lease)
        ready = wait_ready(second)
        try:
            second.wait(timeout=CUES * EVERY + 120)
        except subprocess.TimeoutExpired:
            second.kill()
            print(f"  {kind}: the restarted process did not finish", file=sys.stderr)
        restart = time.monotonic() - killed
        tally = await verify(url, log, ids)
    lost, doubled = tally["lost"] + tally["firing"] + tally["unplanned"], tally["doubled"]
    print(
        f"  {kind:<10} killed mid-show, restarted and running again in {ready:.2f} s "
        f"(whole restart {restart:.1f} s)"
    )
    print(
        f"  {kind:<10} items due {sum(tally[s] for s in DUE_STATES)}: "
        f"{tally['sent']} sent, {tally['interrupted']} interrupted (reported), "
        f"{tally['skipped']} skipped by the late policy; lost {lost}, doubled {doubled} "
        f"({tally['carried']} actions carried)"
    )
    return lost == 0 and doubled == 0


def python_start() -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


async def main(args: argparse.Namespace) -> int:
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds:
        reason = await postgres_reachable()
        if reason is not None:
            print(f"PostgreSQL skipped: not reachable ({reason})")
            kinds.remove("postgresql")
    print(
        f"{args.sessions} sessions × {CUES} cues every {EVERY} s, SIGKILL half-way; "
        f"baseline: python -c pass starts in {python_start():.2f} s"
    )
    import tempfile

    ok = True
    with tempfile.TemporaryDirectory(prefix="facilbot-crash-") as folder:
        for kind in kinds:
            ok &= await run(kind, args.sessions, args.lease, Path(folder))
    print("  zero lost, zero doubled: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--no-adopt", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        done = child(
            options.child, Path(options.log), options.instance, options.lease,
            adopt=not options.no_adopt,
        )  # fmt: skip
        sys.exit(asyncio.run(done))
    sys.exit(asyncio.run(main(options)))
