"""Verified Zoom webhook ingest against a bare FastAPI endpoint, on this machine, in one run.

Run as ``python bench/webhook_ingest.py [--requests N] [--concurrency C] [--postgres [URL]]``.

Two servers run in turn, each as its own uvicorn process on 127.0.0.1 (a free port): a bare
FastAPI app whose endpoint reads the body and answers, and the real facilbot app
(``create_app``) on a temporary SQLite database (and PostgreSQL with ``--postgres``). This
process drives both with the same stream: N signed ``meeting.participant_joined`` deliveries
(bodies in Zoom's documented shape), about 10 % of them redelivered (same body, fresh
signature), C at a time over keep-alive connections. It prints requests per second and the
p50/p99 acknowledgement latency of each, their ratio against the targets of DESIGN §7 (≥ 50 %
of the bare throughput, p99 ≤ 100 ms), and checks that nothing was lost: every unique event is
stored once and processed, and the acknowledgements counted every duplicate. Exits 1 when a
target is missed or an event is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-zoom-webhook-secret"
MEETING = "85746065432"
TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


# -- the servers (run in child processes) ------------------------------------------------------


def serve_bare(port: int) -> None:
    import uvicorn

    app = FastAPI()

    @app.post("/webhooks/zoom")
    async def endpoint(request: Request) -> dict[str, str]:
        await request.body()
        return {"status": "accepted"}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_facilbot(port: int) -> None:
    import uvicorn

    from facilbot.api.app import create_app
    from facilbot.settings import load_settings

    settings = load_settings(_env_file=None)  # FACILBOT_* from the parent's environment
    app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the stream --------------------------------------------------------------------------------


def event_body(n: int, event_ts: int) -> bytes:
    """A ``meeting.participant_joined`` in the shape of Zoom's documentation example."""
    data = {
        "event": "meeting.participant_joined",
        "event_ts": event_ts,
        "payload": {
            "account_id": "AAAAAABBBB",
            "object": {
                "id": MEETING,
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "host_id": "x1yCzABCDEfg23HiJKl4mN",
                "topic": "Bench meeting",
                "type": 2,
                "start_time": "2025-03-04T09:00:00Z",
                "timezone": "Europe/Berlin",
                "duration": 60,
                "participant": {
                    "user_id": str(16778240 + n),
                    "user_name": f"Participant {n}",
                    "id": f"user-{n}",
                    "participant_uuid": f"puuid-{n:06d}",
                    "date_time": "2025-03-04T09:00:00Z",
                    "email": f"p{n}@example.com",
                    "participant_user_id": f"pu-{n}",
                },
            },
        },
    }
    return json.dumps(data, separators=(",", ":")).encode()


def stream(count: int, duplicates: float, seed: int) -> tuple[list[bytes], int]:
    """``count`` bodies of which about ``duplicates`` are redeliveries; and how many unique."""
    rng = random.Random(seed)
    base = 1_741_078_800_000
    unique = max(1, round(count * (1 - duplicates)))
    bodies = [event_body(n, base + n) for n in range(unique)]
    out = list(bodies)
    out += [rng.choice(bodies) for _ in range(count - unique)]
    rng.shuffle(out)
    return out, unique


def sign(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "x-zm-signature": "v0=" + mac.hexdigest(),
        "x-zm-request-timestamp": ts,
        "content-type": "application/json",
    }


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float]
    new: int
    duplicates: int
    errors: dict[int, int]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(name: str, port: int, bodies: list[bytes], concurrency: int) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    counted = {"new": 0, "duplicates": 0}
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                headers = sign(body)
                start = time.perf_counter()
                response = await client.post("/webhooks/zoom", content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1
                    continue
                ack: dict[str, Any] = response.json()
                counted["new"] += int(ack.get("new", 0))
                counted["duplicates"] += int(ack.get("duplicates", 0))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Result(name, seconds, latencies, counted["new"], counted["duplicates"], errors)


# -- orchestration -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the {kind} server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit(f"the {kind} server did not come up within 30 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Stored:
    unique: int
    processed: int


def count_sqlite(path: Path) -> Stored:
    with sqlite3.connect(path) as connection:
        unique, processed = connection.execute(
            "SELECT count(*), count(processed_at) FROM platform_events"
        ).fetchone()
    return Stored(unique, processed)


async def count_postgres(url: str) -> Stored:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS u, count(processed_at) AS p FROM platform_events"
        )
        return Stored(int(row["u"]), int(row["p"]))
    finally:
        await connection.close()


def wait_processed(count: Callable[[], Stored], deadline_s: float = 60.0) -> Stored:
    """The ack does not wait for processing: give the worker a bounded time to finish."""
    deadline = time.monotonic() + deadline_s
    stored = count()
    while stored.processed < stored.unique and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = count()
    return stored


def facilbot_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FACILBOT_ENV="test",
        FACILBOT_DATABASE_URL=database_url,
        FACILBOT_DATA_DIR=str(data_dir),
        FACILBOT_PLATFORMS="sim",
        FACILBOT_ZOOM_WEBHOOK_SECRET_TOKEN=SECRET,
        FACILBOT_INSTANCE_ID=f"bench-{os.getpid()}",
    )
    return env


def merge(name: str, parts: list[Result]) -> Result:
    errors: dict[int, int] = {}
    for part in parts:
        for status, n in part.errors.items():
            errors[status] = errors.get(status, 0) + n
    return Result(
        name,
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies],
        sum(p.new for p in parts),
        sum(p.duplicates for p in parts),
        errors,
    )


def compare(
    label: str,
    database_url: str,
    data_dir: Path,
    args: argparse.Namespace,
    warmup: list[bytes],
    bodies: list[bytes],
    count: Callable[[], Stored],
) -> tuple[Result, Result, Stored, Stored]:
    """Both servers up; alternate rounds (bare, then facilbot, then wait for its worker), so
    that load from elsewhere on the machine falls on both alike."""
    bare_port, fb_port = free_port(), free_port()
    bare_server = start_server("bare", bare_port, dict(os.environ))
    fb_server = start_server("facilbot", fb_port, facilbot_env(database_url, data_dir))
    try:
        asyncio.run(drive("warm-up", bare_port, warmup, args.concurrency))
        asyncio.run(drive("warm-up", fb_port, warmup, args.concurrency))
        before = wait_processed(count)
        bare_parts: list[Result] = []
        fb_parts: list[Result] = []
        size = -(-len(bodies) // args.rounds)
        for start in range(0, len(bodies), size):
            chunk = bodies[start : start + size]
            bare_parts.append(asyncio.run(drive("bare", bare_port, chunk, args.concurrency)))
            fb_parts.append(asyncio.run(drive(label, fb_port, chunk, args.concurrency)))
            wait_processed(count)
        after = wait_processed(count)
    finally:
        stop_server(fb_server)
        stop_server(bare_server)
    return merge("bare FastAPI", bare_parts), merge(label, fb_parts), before, after


def report(runs: list[tuple[Result, Result, Stored, Stored]], unique: int, sent: int) -> bool:
    ok = True
    print(f"\n{'endpoint':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  errors")
    for bare, result, _before, _after in runs:
        for r in (bare, result):
            print(
                f"{r.name:36} {r.rate:8.0f} {r.percentile(0.5):8.2f} "
                f"{r.percentile(0.99):8.2f} {max(r.latencies) * 1000:8.2f}  {r.errors or '-'}"
            )
    for bare, result, before, after in runs:
        ratio = result.rate / bare.rate
        p99 = result.percentile(0.99)
        stored = after.unique - before.unique
        processed = after.processed - before.processed
        lost = unique - stored
        counted_ok = result.new == unique and result.duplicates == sent - unique
        print(
            f"\n{result.name}: {ratio:.0%} of the bare endpoint's throughput "
            f"(target ≥ {TARGET_RATIO:.0%}), p99 {p99:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms)"
        )
        print(
            f"  sent {sent} ({unique} unique, {sent - unique} redelivered); stored {stored}, "
            f"processed {processed}, lost {lost}; acks counted {result.new} new + "
            f"{result.duplicates} duplicates"
        )
        if bare.errors:
            print(f"  the bare endpoint answered errors: {bare.errors}")
            ok = False
        if ratio < TARGET_RATIO or p99 > TARGET_P99_MS:
            print("  TARGET MISSED")
            ok = False
        if lost or processed != stored or not counted_ok or result.errors:
            print("  EVENTS LOST, UNPROCESSED OR MISCOUNTED")
            ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per server")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_POSTGRES,
        help=f"also run on PostgreSQL: a throwaway database on this server ({DEFAULT_POSTGRES})",
    )
    parser.add_argument("--serve", choices=("bare", "facilbot"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        (serve_bare if args.serve == "bare" else serve_facilbot)(args.port)
        return 0
    if not 1 <= args.requests <= 200_000 or not 1 <= args.concurrency <= 512:
        parser.error("--requests must be 1–200000 and --concurrency 1–512")
    if not 0 <= args.duplicates < 1:
        parser.error("--duplicates must be in [0, 1)")

    warmup = [event_body(10_000_000 + n, 1_700_000_000_000 + n) for n in range(args.warmup)]
    bodies, unique = stream(args.requests, args.duplicates, args.seed)
    print(
        f"{args.requests} signed requests ({unique} unique), concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
        f"after {args.warmup} warm-up requests"
    )
    runs: list[tuple[Result, Result, Stored, Stored]] = []
    with tempfile.TemporaryDirectory(prefix="facilbot-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        runs.append(
            compare(
                "facilbot /webhooks/zoom (SQLite)",
                f"sqlite:///{path}",
                Path(tmp),
                args,
                warmup,
                bodies,
                lambda: count_sqlite(path),
            )
        )
        if args.postgres:
            runs.append(run_postgres(args, Path(tmp), warmup, bodies))
    ok = report(runs, unique, len(bodies))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0 if ok else 1


def run_postgres(
    args: argparse.Namespace, tmp: Path, warmup: list[bytes], bodies: list[bytes]
) -> tuple[Result, Result, Stored, Stored]:
    import asyncpg

    name = f"facilbot_bench_{os.getpid()}"
    server = args.postgres

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(server, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        return compare(
            "facilbot /webhooks/zoom (PostgreSQL)",
            url,
            tmp,
            args,
            warmup,
            bodies,
            lambda: asyncio.run(count_postgres(url)),
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
