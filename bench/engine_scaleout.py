"""Two and four instances on one PostgreSQL: even shares, punctuality, and a kill (issue 14).

Run as ``python bench/engine_scaleout.py [--instances 2 4] [--per-instance 1000] [--lease 2]``.
For each count, a fresh database and that many instance processes (``engine_crash.py``'s
child: the real engine, the real clock, a platform that logs every action it carries). The
instances start first, with nothing to run; then ``--per-instance`` × count sessions are
attached (new sessions are orphans until an instance adopts them) and, once every one has an
owner, their shows start, spread over one cue interval. Half-way through, one instance is
killed with SIGKILL.

Measured: sessions per instance when every session is owned (balance: the largest deviation
from the fair share, and max/min), cue punctuality (sent − planned, read back from the
database) over the cues due before the kill, the takeover (from the kill until no unfinished
session is held by the dead instance or by nobody, polled with one query every 20 ms), the
survivors' first claim on a taken-over session, and then the checks of ``engine_crash.py``:
nothing lost, nothing doubled. Baselines from the same run: bare asyncio timers for one
instance's schedule, and one instance process with ``--per-instance`` sessions (no kill).

Also measured: the CPU the instances and PostgreSQL's processes used over the first half of
the shows (``/proc``), as cores and per cue, so that a missed target can be told from a
machine with more work than cores (docs/scaling.md, "Stop 18").

Targets: every instance within ±10 % of its fair share; takeover ≤ 3 s with a 2 s lease;
nothing lost or doubled; p99 sent ≤ 10 ms (DESIGN §7). Exits 1 when one is missed. Skips
(exit 0) when PostgreSQL is unreachable. The load average is printed with the figures: the
instances share this machine's cores with the database and with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from engine_crash import spawn, verify, wait_ready
from engine_punctuality import baseline, load, schedule
from enginebench import (
    attach_many,
    database_url,
    deliver_starts,
    figures,
    open_db,
    p99,
    postgres_reachable,
    show_text,
    spread,
)
from sqlalchemy import func, or_, select

from facilbot.store.db import Database, reading
from facilbot.store.models import Firing, Session, table_of
from integrations.sim import SimWorld

# The default show: 4 cues 16 s apart, so each instance carries 62.5 cues/s (its 1,000
# sessions' cues spread evenly) and four carry 250 cues/s, what one instance carries at
# ``--every 4``. A real show cues every 5-7 minutes: even 16 s is 20 times denser.
CUES, EVERY = 4, 16
LEAD = 5.0  # seconds from delivering the starts to the first cues
BALANCE, TAKEOVER, PUNCTUALITY = 0.10, 3.0, 10.0
_sessions = table_of(Session)
_firings = table_of(Firing)


@dataclass
class Run:
    instances: int
    sessions: int
    adopted_in: float = 0.0
    shares: dict[str, int] = field(default_factory=dict)
    sent_ms: list[float] = field(default_factory=list)  # cues due before the kill
    by_instance: dict[str, list[float]] = field(default_factory=dict)
    killed: str | None = None
    takeover: float | None = None
    first_claim: float | None = None
    lost: int = 0
    doubled: int = 0
    due: int = 0
    logged: Counter[str] = field(default_factory=Counter)  # what the instances logged
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)  # instances', PostgreSQL's, wall seconds
    cues_in_window: int = 0  # cues due in that window, all instances

    @property
    def spread(self) -> float:
        """The largest deviation from the fair share, as a fraction of it."""
        fair = self.sessions / self.instances
        counts = [self.shares.get(f"i{n}", 0) for n in range(self.instances)]
        return max(abs(c - fair) for c in counts) / fair


def log_file(path: Path) -> IO[str]:
    """Where the instances' stderr goes (opened once, before they start)."""
    return path.open("w+", encoding="utf-8")


def logged(lines: list[str]) -> Counter[str]:
    """The instances' log, by kind: the interrupted-cue notices, runners stopped by an
    error, and each exception class named at the end of a traceback."""
    kinds: Counter[str] = Counter()
    for line in lines:
        if "claimed but not sent" in line:
            kinds["interrupted-cue notices"] += 1
        elif "runner stopped on an unexpected error" in line:
            kinds["runners stopped by an error"] += 1
        elif re.match(r"^[\w.]+(Error|Exception)\b", line):
            kinds[line.split(":")[0]] += 1
    return kinds


async def owner_counts(db: Database) -> dict[str | None, int]:
    """Unfinished sessions per owner (None: nobody), one query."""
    async with reading(db.engine) as connection:
        rows = await connection.execute(
            select(_sessions.c.owner, func.count())
            .where(_sessions.c.status != "ended")
            .group_by(_sessions.c.owner)
        )
        return {owner: count for owner, count in rows.all()}


async def wait_owned(db: Database, within: float = 120) -> float:
    """Seconds until every unfinished session has an owner."""
    began = time.monotonic()
    while None in await owner_counts(db):
        if time.monotonic() - began > within:
            raise SystemExit(f"sessions still without an owner after {within:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def held_by(db: Database, dead: str) -> int:
    """Unfinished sessions still held by ``dead`` or by nobody."""
    async with reading(db.engine) as connection:
        held = or_(_sessions.c.owner.is_(None), _sessions.c.owner == dead)
        query = select(func.count()).where(_sessions.c.status != "ended", held)
        return int((await connection.execute(query)).scalar_one())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (``/proc/PID/stat``), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (the database runs on the same host;
    none found when it runs elsewhere, and its CPU is then reported as 0)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_now(children: list[subprocess.Popen[str]]) -> tuple[float, float, float]:
    return (
        sum(cpu_seconds(c.pid) for c in children),
        sum(cpu_seconds(pid) for pid in postgres_pids()),
        time.monotonic(),
    )


async def run(
    count: int, per_instance: int, lease: float, kill: bool, folder: Path, cues: int, every: int
) -> Run:
    result = Run(count, count * per_instance)
    async with database_url("postgresql") as url:
        db = await open_db(url, single_instance=False)  # migrates before the children start
        log = folder / f"carried-{count}.log"
        # The instances' own warnings (a cue interrupted by the kill is logged per session)
        # go to a file: their number is reported, the lines are not printed.
        errors = log_file(folder / f"instances-{count}.err")
        children = [
            spawn(url, log, f"i{n}", lease, adopt=False, stderr=errors) for n in range(count)
        ]
        try:
            for child in children:
                wait_ready(child)
            clock_now = datetime.now(UTC)
            attached = await attach_many(
                db, SimWorld(), show_text(cues, every), result.sessions, now=clock_now,
                meetings=False,
            )  # fmt: skip
            result.adopted_in = await wait_owned(db)
            result.shares = {str(k): v for k, v in (await owner_counts(db)).items()}
            first = datetime.now(UTC) + timedelta(seconds=LEAD)
            await deliver_starts(db, attached.session_ids, spread(first, result.sessions, every))
            # Without a kill every cue counts: "before the kill" is after the last one.
            half = first + timedelta(seconds=cues * every / 2)
            kill_at = half if kill else first + timedelta(seconds=3600)
            # CPU over the first half of the shows (before any kill): what the cue rate costs
            # the instances and the database, against the cores the machine has.
            await asyncio.sleep(max(0.0, (first - datetime.now(UTC)).total_seconds()))
            before = cpu_now(children)
            await asyncio.sleep(max(0.0, (half - datetime.now(UTC)).total_seconds()))
            after = cpu_now(children)
            result.cpu = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
            result.cues_in_window = result.sessions * cues // 2
            if kill:
                victim = children[-1]
                result.killed = f"i{count - 1}"
                os.kill(victim.pid, signal.SIGKILL)
                kill_at, killed = datetime.now(UTC), time.monotonic()
                victim.wait()
                while time.monotonic() - killed < 30:
                    if await held_by(db, result.killed) == 0:
                        result.takeover = time.monotonic() - killed
                        break
                    await asyncio.sleep(0.02)
            deadline = time.monotonic() + cues * every + LEAD + 60  # one bound for all
            for child in children:
                try:
                    child.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    print(f"  an instance of {count} did not finish its shows", file=sys.stderr)
            await punctuality(db, result, kill_at)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            await db.close()
            errors.seek(0)
            lines = errors.read().splitlines()
            errors.close()
        result.logged = logged(lines)
        tally = await verify(url, log, attached.session_ids, cues=cues, every=every)
    result.lost = tally["lost"] + tally["firing"] + tally["unplanned"]
    result.doubled = tally["doubled"]
    result.due = tally["sent"] + tally["interrupted"] + tally["skipped"] + result.lost
    return result


async def punctuality(db: Database, result: Run, kill_at: datetime) -> None:
    """Lateness of the cues due before the kill, overall and per instance; the survivors'
    first claim on a taken-over session (by whom each cue was claimed tells)."""
    async with reading(db.engine) as connection:
        rows = await connection.execute(
            select(
                _firings.c.planned_at, _firings.c.claimed_at, _firings.c.sent_at,
                _firings.c.claimed_by, _firings.c.session_id,
            )
        )  # fmt: skip
        firings = rows.all()
    dead_sessions = {s for _, _, _, by, s in firings if by == result.killed}
    for planned, claimed, sent, by, session_id in firings:
        if planned < kill_at and sent is not None:
            late = (sent - planned).total_seconds() * 1000
            result.sent_ms.append(late)
            result.by_instance.setdefault(by, []).append(late)
        elif result.killed and by != result.killed and session_id in dead_sessions:
            lag = (claimed - kill_at).total_seconds()
            if lag >= 0 and (result.first_claim is None or lag < result.first_claim):
                result.first_claim = lag


def report(results: list[Run], base: list[float]) -> bool:
    ok = True
    print(f"  {'':<24} {'sessions per instance':<28} {'max dev':>8} {'max/min':>8}")
    for r in results:
        counts = [r.shares.get(f"i{n}", 0) for n in range(r.instances)]
        ratio = max(counts) / max(1, min(counts))
        balanced = r.spread <= BALANCE
        ok &= balanced or r.instances == 1
        label = f"{r.instances} instance(s), {r.sessions}"
        print(
            f"  {label:<24} {' / '.join(map(str, counts)):<28} {r.spread * 100:7.1f}% "
            f"{ratio:8.2f}  (all owned {r.adopted_in:.1f} s after attaching)"
        )
    print("  punctuality, sent − planned (cues due before the kill; every cue without one):")
    print(f"    baseline: bare asyncio timers      {figures(base)}")
    for r in results:
        print(f"    {r.instances} instance(s), all            {figures(r.sent_ms)}")
        for name in sorted(r.by_instance):
            print(f"      {name:<30} {figures(r.by_instance[name])}")
        punctual = p99(r.sent_ms) <= PUNCTUALITY
        ok &= punctual
    print(
        f"  CPU over the first half of the shows ({os.cpu_count()} cores; PostgreSQL's "
        "processes on this host counted):"
    )
    for r in results:
        instances, database, wall = r.cpu
        per_cue = (instances + database) / max(1, r.cues_in_window) * 1000
        print(
            f"    {r.instances} instance(s): instances {instances / wall:4.2f} cores, PostgreSQL "
            f"{database / wall:4.2f} cores, {r.cues_in_window / wall:5.0f} cues/s; "
            f"{instances / max(1, r.cues_in_window) * 1000:.2f} + "
            f"{database / max(1, r.cues_in_window) * 1000:.2f} = {per_cue:.2f} ms CPU per cue"
        )
    print("  kill -9 of one instance (lease 2 s):")
    for r in results:
        if r.killed is None:
            print(f"    {r.instances} instance(s): no kill (baseline); lost {r.lost}, "
                  f"doubled {r.doubled} of {r.due} cues due")  # fmt: skip
            ok &= r.lost == 0 and r.doubled == 0
            continue
        took = "never (30 s)" if r.takeover is None else f"{r.takeover:.2f} s"
        first = "-" if r.first_claim is None else f"{r.first_claim:.2f} s"
        print(
            f"    {r.instances} instances, {r.killed} killed: every session held by a survivor "
            f"after {took}, first claim on one {first}; lost {r.lost}, doubled {r.doubled} "
            f"of {r.due} cues due"
        )
        ok &= r.takeover is not None and r.takeover <= TAKEOVER
        ok &= r.lost == 0 and r.doubled == 0
    for r in results:
        if r.logged:
            kinds = ", ".join(f"{n} × {kind}" for kind, n in r.logged.most_common())
            print(f"    logged by {r.instances} instance(s): {kinds}")
    worst = max((p99(r.sent_ms) for r in results), default=0.0)
    print(
        f"  targets: each instance within ±{BALANCE * 100:g} % of its share, takeover ≤ "
        f"{TAKEOVER:g} s, nothing lost or doubled, p99 sent ≤ {PUNCTUALITY:g} ms "
        f"(worst here {worst:.1f} ms): {'met' if ok else 'MISSED'}"
    )
    return ok


async def main(args: argparse.Namespace) -> int:
    reason = await postgres_reachable()
    if reason is not None:
        print(f"PostgreSQL skipped: not reachable ({reason})")
        return 0
    print(
        f"{args.per_instance} sessions per instance × {args.cues} cues every {args.every} s, lease "
        f"{args.lease:g} s; {load()}"
    )
    start = datetime.now(UTC) + timedelta(seconds=1)
    due = schedule(spread(start, args.per_instance, args.every), args.cues, args.every)
    base = await baseline(due)
    results = []
    with tempfile.TemporaryDirectory(prefix="facilbot-scaleout-") as folder:
        for count in [1, *args.instances]:
            results.append(
                await run(
                    count, args.per_instance, args.lease, count > 1, Path(folder), args.cues,
                    args.every,
                )
            )  # fmt: skip
            print(f"  measured {count} instance(s); {load()}")
    ok = report(results, base)
    print(f"  after: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--per-instance", type=int, default=1000)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--cues", type=int, default=CUES, help="cues per show")
    parser.add_argument("--every", type=int, default=EVERY, help="seconds between a show's cues")
    sys.exit(asyncio.run(main(parser.parse_args())))
