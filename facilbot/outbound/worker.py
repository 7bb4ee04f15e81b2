"""The delivery worker: fan the outbox out to endpoints, deliver, retry, log.

- **Fan-out.** Undispatched outbox rows become one delivery per enabled endpoint whose filter
  takes the type (``generation`` 0; a replay adds generation 1, 2, … with the same event).
- **Claims.** Each attempt is claimed before it is sent: one UPDATE that bumps the delivery's
  attempt count only if it still has the count this worker read, pushes ``next_attempt_at``
  past the request timeout (so an attempt whose process died becomes due again by itself),
  and the INSERT of the attempt's log row, unique per (delivery, attempt). Two workers never
  make the same attempt; a crash between claim and answer costs one attempt, never a delivery.
- **Order.** Per endpoint and session, an event is not attempted while an earlier one of the
  same session is still pending (in flight or waiting for its retry): receivers see a
  session's events in the order they happened. Nothing waits across endpoints; within one
  endpoint a pass looks at its :data:`WINDOW` oldest pending deliveries.
- **Lanes.** At most ``per_endpoint`` requests in flight per endpoint, each its own task: a
  slow endpoint fills only its own lane; cues never wait for any of it (the engine only wrote
  a row).
- **Retries** on the Standard Webhooks schedule with ±10 % jitter; only 2xx succeeds;
  redirects are failures; 410 disables the endpoint; ``Retry-After`` is honoured on 429/503;
  15 s per request; an endpoint failing for :data:`DISABLE_AFTER` is disabled, with an
  ``endpoint.disabled`` event.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.batch import _Coalescer
from facilbot.engine.clock import Clock, stopping, wait_event
from facilbot.engine.engine import Engine
from facilbot.outbound import outbox, tables
from facilbot.outbound.guard import Refused, Resolver, resolve_target
from facilbot.outbound.secrets import Cipher, SecretUnreadable, cipher, sign
from facilbot.outbound.store import signing_secrets
from facilbot.settings import Settings
from facilbot.store._sql import upsert_insert
from facilbot.store.db import reading

log = logging.getLogger("facilbot.outbound")

#: Seconds before the 2nd … 8th attempt (the first is immediate): the specification's schedule.
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
TIMEOUT_SECONDS = 15.0
#: A claimed attempt that has not answered by then is given up and becomes due again.
CLAIM_SECONDS = TIMEOUT_SECONDS + 45
DISABLE_AFTER = timedelta(days=5)
EXCERPT_CHARS = 200
READ_BYTES = 2048
FAN_OUT_BATCH = 500
#: How many of an endpoint's oldest pending deliveries a pass looks at.
WINDOW = 200
SECRETS_TTL = 5.0

Begin = Callable[[], AbstractAsyncContextManager[AsyncConnection]]

_e = tables.endpoints
_d = tables.deliveries
_a = tables.attempts
_ev = tables.events


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    endpoint_id: str
    url: str
    attempts: int
    msg_id: str
    payload: dict[str, Any]


class _Batch(_Coalescer[tuple["Due", "Answer"], None]):
    """Answers that arrive while the previous lot is being written go in one transaction."""

    def __init__(self, write: Callable[[list[tuple[Due, Answer]]], Awaitable[list[None]]]) -> None:
        super().__init__("outbound-finish")
        self._write = write

    async def write(self, requests: list[tuple[Due, Answer]]) -> list[None]:
        return await self._write(requests)


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: str  # delivered, http_error, timeout, refused, error
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0


def excerpt(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    clean = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return clean[: EXCERPT_CHARS - 1] + "…" if len(clean) > EXCERPT_CHARS else clean


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class OutboundWorker:
    def __init__(
        self,
        begin: Begin,
        read: Begin,
        clock: Clock,
        cipher: Cipher,
        *,
        instance_id: str,
        dialect: str,
        allow_private: bool = False,
        production: bool = False,
        resolver: Resolver | None = None,
        per_endpoint: int = 16,
        poll_seconds: float = 0.25,
        jitter: Callable[[], float] = lambda: random.uniform(0.9, 1.1),
    ) -> None:
        self.begin = begin
        self.read = read
        self.clock = clock
        self.cipher = cipher
        self.instance_id = instance_id
        self.dialect = dialect
        self.allow_private = allow_private
        self.production = production
        self.resolver = resolver
        self.per_endpoint = per_endpoint
        self.poll_seconds = poll_seconds
        self.jitter = jitter
        self.counters: Counter[str] = Counter()
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        # One pass at a time in this process: a delivery claimed by one pass but not yet in
        # _inflight would otherwise look, to a concurrent pass (drain), as neither due nor busy.
        self._pass = asyncio.Lock()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._lanes: Counter[str] = Counter()
        self._finishes = _Batch(self._finish_all)
        self._secrets: dict[str, tuple[float, list[tuple[str, datetime | None]]]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(TIMEOUT_SECONDS),
            trust_env=False,  # a proxy from the environment would bypass the SSRF guard
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            headers={"user-agent": "facilbot-webhooks/1"},
        )
        if self.dialect == "sqlite":
            # One instance per SQLite database: an attempt left open was this service's,
            # interrupted by a stop or a crash. Make its delivery due now, not after the claim.
            async with self.begin() as connection:
                open_ = select(_a.c.delivery_id).where(_a.c.finished_at.is_(None))
                await connection.execute(
                    update(_d)
                    .where(_d.c.status == "pending", _d.c.id.in_(open_))
                    .values(next_attempt_at=self.clock.now())
                )
        self._loop_task = asyncio.create_task(self._loop(), name="facilbot-outbound")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._inflight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def poke(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if stopping():
                    raise
                log.warning("outbound pass failed (%s); will retry", type(error).__name__)
            await wait_event(self._wake, self.poll_seconds)
            # Let the deliveries finishing together free their lanes before the next pass.
            await asyncio.sleep(0.005)

    async def drain(self) -> None:
        """Until nothing is due now and nothing is in flight (tests, the CLI's replay)."""
        while True:
            busy = await self.run_once()
            if self._inflight:
                await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)
            elif not busy:
                return

    # -- one pass --------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass; how many deliveries it started or found waiting behind one in flight."""
        async with self._pass:
            await self.fan_out()
            return await self.dispatch()

    async def fan_out(self) -> int:
        # Look first without the write lock: most passes find nothing new.
        async with self.read() as connection:
            waiting = (
                await connection.execute(
                    select(_ev.c.id).where(_ev.c.dispatched.is_(False)).limit(1)
                )
            ).first()
        if waiting is None:
            return 0
        async with self.begin() as connection:
            rows = (
                await connection.execute(
                    select(_ev.c.id, _ev.c.type, _ev.c.session_id, _ev.c.created_at)
                    .where(_ev.c.dispatched.is_(False))
                    .order_by(_ev.c.id)
                    .limit(FAN_OUT_BATCH)
                )
            ).all()
            if not rows:
                return 0
            endpoints = (
                await connection.execute(
                    select(_e.c.id, _e.c.event_types).where(_e.c.enabled.is_(True))
                )
            ).all()
            now = self.clock.now()
            new = [
                {
                    "endpoint_id": endpoint.id,
                    "event_id": row.id,
                    "session_id": row.session_id,
                    "generation": 0,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "finished_at": None,
                }
                for row in rows
                for endpoint in endpoints
                if not endpoint.event_types or row.type in endpoint.event_types
            ]
            if new:
                await connection.execute(
                    upsert_insert(connection, _d).on_conflict_do_nothing(
                        index_elements=["endpoint_id", "event_id", "generation"]
                    ),
                    new,
                )
            await connection.execute(
                update(_ev).where(_ev.c.id.in_([r.id for r in rows])).values(dispatched=True)
            )
        self.counters["fanned_out"] += len(new)
        return len(rows)

    async def dispatch(self) -> int:
        now = self.clock.now()
        chosen: list[Due] = []
        behind_inflight = 0
        # Taken before the read: a delivery finishing during the read is pending in its
        # snapshot but gone from _inflight, and must still count as work for drain().
        inflight = set(self._inflight)
        async with self.read() as connection:
            endpoints = (
                await connection.execute(
                    select(_e.c.id, _e.c.url).where(_e.c.enabled.is_(True)).order_by(_e.c.id)
                )
            ).all()
            for endpoint in endpoints:
                free = self.per_endpoint - self._lanes[endpoint.id]
                if free <= 0:
                    continue
                # The endpoint's oldest pending deliveries, due or not: the first of each
                # session among them is the only one of that session that may go now.
                rows = (
                    await connection.execute(
                        select(
                            _d.c.id,
                            _d.c.session_id,
                            _d.c.attempts,
                            _d.c.next_attempt_at,
                            _ev.c.msg_id,
                            _ev.c.payload,
                        )
                        .join(_ev, _ev.c.id == _d.c.event_id)
                        .where(_d.c.endpoint_id == endpoint.id, _d.c.status == "pending")
                        .order_by(_d.c.id)
                        .limit(WINDOW)
                    )
                ).all()
                heads: set[str] = set()
                for row in rows:
                    if row.session_id is not None:
                        if row.session_id in heads:
                            continue
                        heads.add(row.session_id)
                    if row.id in inflight:
                        behind_inflight += 1
                        continue
                    if row.next_attempt_at > now:
                        continue
                    chosen.append(
                        Due(
                            row.id, endpoint.id, endpoint.url, row.attempts, row.msg_id, row.payload
                        )
                    )
                    free -= 1
                    if free == 0:
                        break
        if not chosen:
            return behind_inflight
        for due in await self._claim(chosen, now):
            self._lanes[due.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(due), name=f"facilbot-delivery-{due.id}")
            self._inflight[due.id] = task
        return len(chosen) + behind_inflight

    async def _claim(self, chosen: list[Due], now: datetime) -> list[Due]:
        """Claim the next attempt of each delivery, in one transaction; those claimed."""
        until = now + timedelta(seconds=CLAIM_SECONDS)
        async with self.begin() as connection:
            # One statement for the lot. A delivery another worker claimed meanwhile has its
            # next_attempt_at pushed past now, so the WHERE no longer matches it (PostgreSQL
            # re-checks it after waiting for that worker's row lock); the attempt count
            # returned must be the one read, and UNIQUE (delivery_id, attempt) backs it up.
            result = await connection.execute(
                update(_d)
                .where(
                    _d.c.id.in_([due.id for due in chosen]),
                    _d.c.status == "pending",
                    _d.c.next_attempt_at <= now,
                )
                .values(attempts=_d.c.attempts + 1, next_attempt_at=until)
                .returning(_d.c.id, _d.c.attempts)
            )
            won: dict[int, int] = {row.id: row.attempts for row in result}
            claimed = [due for due in chosen if won.get(due.id) == due.attempts + 1]
            if len(claimed) != len(won):
                # Read before another worker's attempt: give those back as they were.
                for delivery_id, attempts in won.items():
                    if all(due.id != delivery_id for due in claimed):
                        await connection.execute(
                            update(_d)
                            .where(_d.c.id == delivery_id)
                            .values(attempts=attempts - 1, next_attempt_at=now)
                        )
            if not claimed:
                return []
            # An earlier attempt still open was cut off (its process died): say so in the log.
            await connection.execute(
                update(_a)
                .where(_a.c.delivery_id.in_([d.id for d in claimed]), _a.c.finished_at.is_(None))
                .values(finished_at=now, outcome="interrupted", error="no answer recorded")
            )
            await connection.execute(
                insert(_a),
                [
                    {
                        "delivery_id": due.id,
                        "attempt": due.attempts + 1,
                        "claimed_by": self.instance_id,
                        "started_at": now,
                        "finished_at": None,
                        "duration_ms": None,
                        "status_code": None,
                        "outcome": None,
                        "error": None,
                        "excerpt": None,
                    }
                    for due in claimed
                ],
            )
        return claimed

    async def _deliver(self, due: Due) -> None:
        try:
            answer = await self._send(due)
            await self._finishes.submit((due, answer))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The claim's timeout makes it due again; only the type is logged (no payloads).
            log.warning("delivery %d: recording failed (%s)", due.id, type(error).__name__)
        finally:
            self._inflight.pop(due.id, None)
            self._lanes[due.endpoint_id] -= 1
            self._wake.set()

    def forget_secrets(self, endpoint_id: str) -> None:
        """The endpoint's secrets changed (a rotation through this process)."""
        self._secrets.pop(endpoint_id, None)

    async def _signing_secrets(self, endpoint_id: str) -> list[str]:
        # Read (and decrypted) at most every few seconds per endpoint rather than per request;
        # a rotation made elsewhere (the CLI) is picked up within SECRETS_TTL.
        cached = self._secrets.get(endpoint_id)
        if cached is None or time.monotonic() - cached[0] > SECRETS_TTL:
            async with self.read() as connection:
                secrets = await signing_secrets(connection, self.cipher, endpoint_id)
            cached = (time.monotonic(), secrets)
            self._secrets[endpoint_id] = cached
        now = self.clock.now()
        return [secret for secret, until in cached[1] if until is None or until > now]

    async def _send(self, due: Due) -> Answer:
        assert self._client is not None, "the worker is not started"
        started = time.perf_counter()

        def took() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            secrets = await self._signing_secrets(due.endpoint_id)
        except SecretUnreadable as error:
            return Answer("error", error=str(error))
        try:
            target = await resolve_target(
                due.url,
                allow_private=self.allow_private,
                production=self.production,
                resolver=self.resolver,
            )
        except Refused as refused:
            return Answer("refused", error=str(refused)[:500], duration_ms=took())
        body = json.dumps(due.payload, separators=(",", ":"), ensure_ascii=False).encode()
        # The signed timestamp is wall time (receivers check it against theirs), whatever
        # clock the show runs on.
        timestamp = int(time.time())
        signature = " ".join(sign(secret, due.msg_id, timestamp, body) for secret in secrets)
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "webhook-id": due.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                async with self._client.stream(
                    "POST", target.url, content=body, headers=headers, extensions=extensions
                ) as response:
                    raw = b""
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                        if len(raw) >= READ_BYTES:
                            break
        except TimeoutError:
            return Answer(
                "timeout", error=f"no answer within {TIMEOUT_SECONDS:.0f} s", duration_ms=took()
            )
        except httpx.HTTPError as error:
            return Answer("error", error=type(error).__name__, duration_ms=took())
        code = response.status_code
        text = excerpt(raw[:READ_BYTES])
        if 200 <= code < 300:
            return Answer("delivered", code, text, duration_ms=took())
        wait = (
            retry_after(response.headers.get("retry-after"), time.time())
            if code in (429, 503)
            else None
        )
        error_text = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
        return Answer("http_error", code, text, error_text, wait, took())

    async def _finish_all(self, answers: list[tuple[Due, Answer]]) -> list[None]:
        """Record the answers that came in meanwhile, in one transaction."""
        now = self.clock.now()
        delivered = [(due, answer) for due, answer in answers if answer.outcome == "delivered"]
        async with self.begin() as connection:
            if delivered:
                # The common case in three statements for the whole lot.
                await connection.execute(
                    update(_a)
                    .where(_a.c.delivery_id == bindparam("d_id"), _a.c.attempt == bindparam("n"))
                    .values(
                        finished_at=now,
                        duration_ms=bindparam("ms"),
                        status_code=bindparam("code"),
                        outcome="delivered",
                        excerpt=bindparam("text"),
                    ),
                    [
                        {
                            "d_id": due.id,
                            "n": due.attempts + 1,
                            "ms": answer.duration_ms,
                            "code": answer.status_code,
                            "text": answer.excerpt,
                        }
                        for due, answer in delivered
                    ],
                )
                await connection.execute(
                    update(_d)
                    .where(
                        _d.c.id == bindparam("d_id"),
                        _d.c.attempts == bindparam("n"),
                        _d.c.status == "pending",
                    )
                    .values(status="delivered", finished_at=now, next_attempt_at=None),
                    [{"d_id": due.id, "n": due.attempts + 1} for due, _ in delivered],
                )
                await connection.execute(
                    update(_e)
                    .where(
                        _e.c.id.in_({due.endpoint_id for due, _ in delivered}),
                        _e.c.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )
            for due, answer in answers:
                self.counters[answer.outcome] += 1
                if answer.outcome != "delivered":
                    await self._finish(connection, due, answer, now)
        return [None] * len(answers)

    async def _finish(
        self, connection: AsyncConnection, due: Due, answer: Answer, now: datetime
    ) -> None:
        attempt = due.attempts + 1
        await connection.execute(
            update(_a)
            .where(_a.c.delivery_id == due.id, _a.c.attempt == attempt)
            .values(
                finished_at=now,
                duration_ms=answer.duration_ms,
                status_code=answer.status_code,
                outcome=answer.outcome,
                error=answer.error,
                excerpt=answer.excerpt,
            )
        )
        mine = and_(_d.c.id == due.id, _d.c.attempts == attempt, _d.c.status == "pending")
        if answer.outcome == "delivered":
            await connection.execute(
                update(_d)
                .where(mine)
                .values(status="delivered", finished_at=now, next_attempt_at=None)
            )
            await connection.execute(
                update(_e)
                .where(_e.c.id == due.endpoint_id, _e.c.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return
        if answer.status_code == 410:
            await connection.execute(
                update(_d)
                .where(mine)
                .values(status="failed", finished_at=now, next_attempt_at=None)
            )
            await self._disable(connection, due, "it answered 410 Gone", now)
            return
        if attempt > len(SCHEDULE):
            await connection.execute(
                update(_d)
                .where(mine)
                .values(status="failed", finished_at=now, next_attempt_at=None)
            )
        else:
            delay = (
                answer.retry_after
                if answer.retry_after is not None
                else SCHEDULE[attempt - 1] * self.jitter()
            )
            delay = min(max(delay, 1.0), float(SCHEDULE[-1]))
            await connection.execute(
                update(_d).where(mine).values(next_attempt_at=now + timedelta(seconds=delay))
            )
        since = (
            await connection.execute(select(_e.c.failing_since).where(_e.c.id == due.endpoint_id))
        ).scalar_one_or_none()
        if since is None:
            await connection.execute(
                update(_e).where(_e.c.id == due.endpoint_id).values(failing_since=now)
            )
        elif now - since >= DISABLE_AFTER:
            days = (now - since).days
            await self._disable(
                connection, due, f"failing since {since.isoformat()} ({days} days)", now
            )

    async def _disable(
        self, connection: AsyncConnection, due: Due, reason: str, now: datetime
    ) -> None:
        result = await connection.execute(
            update(_e)
            .where(_e.c.id == due.endpoint_id, _e.c.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason[:500])
        )
        if result.rowcount == 1:
            log.warning("outbound endpoint %s disabled: %s", due.endpoint_id, reason)
            await outbox.add(
                connection,
                "endpoint.disabled",
                {"endpoint_id": due.endpoint_id, "url": due.url, "reason": reason},
                at=now,
            )


def build_worker(
    settings: Settings, engine: Engine, *, resolver: Resolver | None = None
) -> OutboundWorker:
    """The worker as the service runs it: the engine's writers (so SQLite writes take turns
    with the cues' in-process, without sleeping in the busy handler) and its clock."""

    def read() -> AbstractAsyncContextManager[AsyncConnection]:
        return reading(engine.db.engine)

    return OutboundWorker(
        engine.writing,
        read,
        engine.clock,
        cipher(settings),
        instance_id=settings.instance_id,
        dialect=engine.db.dialect,
        allow_private=settings.webhooks_allow_private,
        production=settings.env == "production",
        resolver=resolver,
    )
