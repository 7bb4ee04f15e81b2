"""Sending the follow-ups, exactly once, at their time.

The database is the schedule (:mod:`.schedule`) and the claim: a pass moves each due row
from ``scheduled`` to ``sending`` with one conditional UPDATE (``… WHERE id = ? AND status =
'scheduled'``), and only the instance whose UPDATE changed the row sends it, so several
instances on one PostgreSQL never send a message twice. A row found in ``sending`` after
a crash (SQLite: at start; PostgreSQL: claimed longer than ``STALE`` ago) becomes
``interrupted``: reported, never sent again, since the mail may have left before the crash.
Temporary SMTP failures go back to ``scheduled`` with a backoff; permanent ones (5xx) and
the last retry are ``failed`` with the reason. Sending is paced at ``mail_rate`` a second.

Why not APScheduler here: the follow-ups must run on the service's :class:`Clock` — the
virtual clock in tests (a week and a daylight-saving change pass in milliseconds) and the
scaled clock of ``facilbot demo`` — and APScheduler's triggers read the wall clock. With the
schedule in the database the waker is one ``sleep_until(earliest due row)`` on that clock,
plus a housekeeping pass every minute of real time (new consents, ended sessions); an
APScheduler job store would be a second copy of the schedule to re-derive and keep in step,
more code than the loop it would replace.

Nothing logged here carries an address or a commitment: ids, counts and error classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.clock import Clock, stopping
from facilbot.engine.engine import Engine
from facilbot.journey import commitments, identity, links, reach, schedule
from facilbot.journey.message import Mail, compose
from facilbot.journey.tables import followups, unsubscribes
from facilbot.journey.timing import zone
from facilbot.mail.send import MailError, Sender, sender_for
from facilbot.mail.settings import MailSettings
from facilbot.pages import companion
from facilbot.store import sessions as store_sessions
from facilbot.store import shows as store_shows
from facilbot.store.db import reading
from facilbot.store.models import Session, table_of
from runofshow.model import Show

log = logging.getLogger("facilbot.journey")

_sessions = table_of(Session)
STALE = timedelta(minutes=15)
MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=5)
HOUSEKEEPING_SECONDS = 60.0
CLAIM_BATCH = 200
#: Sessions whose end is this recent may still gain follow-ups (a late commitment or a
#: consent given during the recap).
DERIVE_WINDOW = companion.FORM_OPEN_AFTER_END + timedelta(days=1)


@dataclass
class PassReport:
    derived: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    interrupted: int = 0


class FollowUps:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        secret: bytes,
        base_url: str,
        sender: Sender,
        mail_from: str,
        rate: float,
        instance_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.db = engine.db
        self.clock = clock
        self.instance_id = instance_id or engine.instance_id
        self.secret = secret
        self.base_url = base_url
        self.sender = sender
        self.mail_from = mail_from
        self.rate = rate
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- the loop ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.db.dialect == "sqlite":
            # One instance per SQLite database: whatever is in ``sending`` now was
            # interrupted by the last process's end.
            async with self.engine.writing() as connection:
                await self._interrupt(connection, self.clock.now() + STALE)
        self._task = asyncio.create_task(self._run(), name="facilbot-followups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if stopping():
                    raise
                log.warning("follow-up pass failed (%s); will retry", type(error).__name__)
            async with reading(self.db.engine) as connection:
                due = await self.next_due(connection)
            waits: list[asyncio.Task[object]] = [asyncio.create_task(self._wake.wait())]
            if due is not None:
                waits.append(asyncio.create_task(self.clock.sleep_until(due)))
            try:
                await asyncio.wait(
                    waits, timeout=HOUSEKEEPING_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiting in waits:
                    waiting.cancel()
                self._wake.clear()

    async def next_due(self, connection: AsyncConnection) -> datetime | None:
        due: datetime | None = (
            await connection.execute(
                select(func.min(followups.c.due_at)).where(followups.c.status == "scheduled")
            )
        ).scalar_one_or_none()
        return due

    # -- one pass ------------------------------------------------------------------------

    async def run_once(self) -> PassReport:
        """Derive new rows, report interrupted ones, claim and send what is due."""
        async with self._lock:
            report = PassReport()
            now = self.clock.now()
            # The shows are read and parsed before the write transaction: parsing under load
            # took seconds, and SQLite's other writers waited on it that long.
            recent = await self._recently_ended(now)
            async with self.engine.writing() as connection:
                report.derived = await self._derive(connection, recent)
                report.interrupted = await self._interrupt(connection, now)
                claimed = await self._claim(connection, now)
            for index, followup_id in enumerate(claimed):
                if index:
                    await asyncio.sleep(1 / self.rate)
                outcome = await self._send(followup_id)
                setattr(report, outcome, getattr(report, outcome) + 1)
            if any((report.sent, report.failed, report.interrupted, report.retried)):
                log.info(
                    "follow-ups: %d sent, %d retrying, %d failed, %d interrupted, %d cancelled",
                    report.sent,
                    report.retried,
                    report.failed,
                    report.interrupted,
                    report.cancelled,
                )
            return report

    async def _recently_ended(self, now: datetime) -> list[tuple[str, Show]]:
        """The sessions that ended within ``DERIVE_WINDOW``, each with its show."""
        async with reading(self.db.engine) as connection:
            ended = await connection.execute(
                select(_sessions.c.id, _sessions.c.show_version_id).where(
                    _sessions.c.status == "ended", _sessions.c.ended_at >= now - DERIVE_WINDOW
                )
            )
            rows = ended.all()
        return [(row.id, await self.engine.show_for_version(row.show_version_id)) for row in rows]

    async def _derive(self, connection: AsyncConnection, recent: list[tuple[str, Show]]) -> int:
        added = 0
        for session_id, show in recent:
            added += await schedule.derive(connection, session_id, show)
        return added

    async def _interrupt(self, connection: AsyncConnection, now: datetime) -> int:
        result = await connection.execute(
            update(followups)
            .where(followups.c.status == "sending", followups.c.claimed_at <= now - STALE)
            .values(status="interrupted", error="claimed but not confirmed sent (a crash?)")
        )
        if result.rowcount:
            log.warning("follow-ups: %d interrupted between claim and send", result.rowcount)
        return int(result.rowcount)

    async def _claim(self, connection: AsyncConnection, now: datetime) -> list[int]:
        due = await connection.execute(
            select(followups.c.id)
            .where(followups.c.status == "scheduled", followups.c.due_at <= now)
            .order_by(followups.c.due_at, followups.c.id)
            .limit(CLAIM_BATCH)
        )
        claimed = []
        for followup_id in due.scalars().all():
            result = await connection.execute(
                update(followups)
                .where(followups.c.id == followup_id, followups.c.status == "scheduled")
                .values(
                    status="sending",
                    claimed_by=self.instance_id,
                    claimed_at=now,
                    attempts=followups.c.attempts + 1,
                )
            )
            if result.rowcount == 1:
                claimed.append(int(followup_id))
        return claimed

    async def _finish(self, followup_id: int, **values: object) -> None:
        async with self.engine.writing() as connection:
            await connection.execute(
                update(followups)
                .where(followups.c.id == followup_id, followups.c.status == "sending")
                .values(**values)
            )

    async def _send(self, followup_id: int) -> str:
        """Send one claimed message; which ``PassReport`` counter it adds to."""
        now = self.clock.now()
        async with reading(self.db.engine) as connection:
            mail, why_not = await self._mail_for(connection, followup_id, now)
            row = await schedule.row(connection, followup_id)
        if mail is None or row is None:
            await self._finish(followup_id, status="cancelled", error=why_not)
            return "cancelled"
        message = compose(mail, sender=self.mail_from, now=now)
        try:
            await self.sender.send(message)
        except MailError as error:
            reason = str(error)[:300]
            if error.permanent or row.attempts >= MAX_ATTEMPTS:
                await self._finish(followup_id, status="failed", error=reason)
                log.warning("follow-up %d failed: %s", followup_id, reason)
                return "failed"
            retry_at = now + BACKOFF * (2 ** (row.attempts - 1))
            await self._finish(followup_id, status="scheduled", due_at=retry_at, error=reason)
            return "retried"
        await self._finish(followup_id, status="sent", sent_at=self.clock.now(), error=None)
        return "sent"

    async def _mail_for(
        self, connection: AsyncConnection, followup_id: int, now: datetime
    ) -> tuple[Mail | None, str]:
        row = await schedule.row(connection, followup_id)
        if row is None:
            return None, "gone"
        record = await store_sessions.get_session(connection, row.session_id)
        if record is None or record.ended_at is None:
            return None, "the session is gone"
        version = await store_shows.get_show_version(connection, record.show_version_id)
        person = await reach.contact_of(connection, row.session_id, row.participant_ref)
        made = await commitments.commitment_of(connection, row.session_id, row.participant_ref)
        if version is None or person is None or made is None:
            return None, "the person or their commitment is gone"
        if person.email is None or not person.consent:
            return None, "no consent"
        if await unsubscribed(connection, self.secret, version.name, person.email):
            return None, "unsubscribed"
        show = await self.engine.show_for_version(record.show_version_id)
        local = record.ended_at.astimezone(zone(person.timezone or show.timezone))
        ckey = companion.companion_key(self.secret, row.session_id)
        pkey = identity.participant_key(self.secret, row.session_id, row.participant_ref)
        base = self.base_url
        return (
            Mail(
                kind=row.kind,
                label=schedule.label(row.key),
                to_name=person.name,
                to_address=person.email,
                show_title=show.title,
                session_date=local.strftime("%A %-d %B %Y"),
                commitment=made[0],
                answer_links={
                    answer: f"{base}/f/{links.make(self.secret, row.id, 'check_in', row.due_at)}"
                    f"?answer={answer}"
                    for answer in ("done", "partly", "not_yet")
                },
                unsubscribe_link=(
                    f"{base}/f/{links.make(self.secret, row.id, 'unsubscribe', row.due_at)}"
                ),
                recap_link=f"{base}/companion/{row.session_id}#k={ckey}&p={pkey}",
            ),
            "",
        )


async def unsubscribed(
    connection: AsyncConnection, secret: bytes, show_name: str, address: str
) -> bool:
    found = await connection.execute(
        select(unsubscribes.c.id).where(
            unsubscribes.c.show_name == show_name,
            unsubscribes.c.address_hash == reach.address_hash(secret, address),
        )
    )
    return found.first() is not None


@contextlib.asynccontextmanager
async def running(
    engine: Engine,
    clock: Clock,
    *,
    secret: bytes,
    base_url: str,
    data_dir: Path,
    mail: MailSettings | None = None,
) -> AsyncIterator[FollowUps]:
    """The follow-up sender for the service's lifetime (the composition root opens it)."""
    settings = mail or MailSettings()
    service = FollowUps(
        engine,
        clock,
        secret=secret,
        base_url=base_url,
        sender=sender_for(settings, data_dir),
        mail_from=settings.mail_from,
        rate=settings.mail_rate,
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
