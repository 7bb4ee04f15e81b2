"""A stop between claim and send: the message is reported as interrupted, never sent again.

The sending pass is stopped while its message is claimed and on its way to the relay (the
relay never answers), as a crash would stop it; a fresh sender on the same database then
takes over: on SQLite at its start (one instance per file, so anything still ``sending`` was
cut off), on PostgreSQL once the claim is older than ``STALE``."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from facilbot.journey import schedule
from facilbot.journey.followups import STALE, FollowUps
from facilbot.store.db import reading
from tests.facilbot.journey.conftest import Inbox, ended_session
from tests.facilbot.journey.test_followups import REMINDER
from tests.support.api import ApiHarness


class Hanging:
    description = "a relay that never answers"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self.started.set()
        await asyncio.Event().wait()


def sender(api: ApiHarness, relay: object, instance_id: str) -> FollowUps:
    running = api.services.followups
    assert running is not None
    return FollowUps(
        api.engine,
        api.clock,
        secret=api.services.pages_secret,
        base_url=api.settings.base_url,
        sender=relay,  # type: ignore[arg-type]
        mail_from=running.mail_from,
        rate=1000,
        instance_id=instance_id,
    )


async def test_a_message_cut_off_between_claim_and_send_is_reported_not_repeated(
    api: ApiHarness, smtp: Inbox
) -> None:
    session_id = await ended_session(api)
    assert api.services.followups is not None
    await api.services.followups.stop()  # only the senders of this test run
    await api.clock.advance_to(REMINDER)
    relay = Hanging()
    doomed = sender(api, relay, "doomed")
    cut = asyncio.create_task(doomed.run_once())
    await asyncio.wait_for(relay.started.wait(), 10)
    cut.cancel()  # the process is gone while its message was claimed
    await asyncio.gather(cut, return_exceptions=True)
    async with reading(api.db.engine) as connection:
        rows = await schedule.rows(connection, session_id)
    assert (rows[0].status, rows[0].attempts) == ("sending", 1)

    survivor = sender(api, api.services.followups.sender, "survivor")
    if api.db.dialect == "sqlite":
        await survivor.start()
        await survivor.stop()
    else:
        report = await survivor.run_once()
        assert report.interrupted == 0  # a fresh claim may still be at work elsewhere
        await api.clock.advance(STALE.total_seconds() + 1)
    report = await survivor.run_once()
    async with reading(api.db.engine) as connection:
        rows = await schedule.rows(connection, session_id)
    assert rows[0].status == "interrupted" and rows[0].sent_at is None
    assert "crash" in (rows[0].error or "")
    assert smtp.received == []  # not sent again
    listed = [r.status for r in rows]
    assert listed == ["interrupted", "scheduled", "scheduled", "scheduled"]
