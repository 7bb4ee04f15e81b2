"""kill -9 between claim and send, for real: ``facilbot serve`` in its own process sends a due
reminder to a relay that takes the message and never confirms it; the process is SIGKILLed
while the message is claimed and on the wire, then started again. Nothing is sent twice and
the cut-off message is reported (``facilbot followups list`` says ``interrupted``).

The relay is a plain socket server speaking just enough SMTP to accept a message and then hang
before its final reply: what a crash mid-send looks like from the sender's side. The session
was run (in this test's own process, on the virtual clock) in March 2025, so its reminder is
long due on the real clock the subprocess runs on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select, update

from facilbot.journey import schedule
from facilbot.journey.followups import STALE
from facilbot.journey.tables import followups
from facilbot.store.db import reading
from tests.facilbot.journey.conftest import SHOW, Inbox, ended_session
from tests.support.api import ApiHarness

#: The installed command, as an operator runs it.
FACILBOT = [str(Path(sys.executable).with_name("facilbot"))]
#: The reminder only, so exactly one message is due.
KILL_SHOW = SHOW.replace("check_ins: [30d, 60d, 90d]", "check_ins: []")
#: Waiting for another process to act, not a figure under test.
PATIENCE = 60.0


class HangingRelay:
    """SMTP up to the end of DATA, then silence: the message left, no 250 ever comes."""

    def __init__(self) -> None:
        self.message_sent = asyncio.Event()
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 relay.test ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    self.message_sent.set()
                    await asyncio.Event().wait()  # hang: never confirm
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-relay.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()


def plain_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+asyncpg", "")


def service_env(
    api: ApiHarness, database_url: str, smtp_port: int, data_dir: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACILBOT_")}
    env.update(
        FACILBOT_DATABASE_URL=plain_url(database_url),
        FACILBOT_DATA_DIR=str(data_dir),
        FACILBOT_PAGES_SECRET="journey-test-secret-0123456789abcdef",
        FACILBOT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        FACILBOT_MAIL_FROM="Facilitation team <team@example.net>",
        FACILBOT_MAIL_RATE="1000",
        FACILBOT_PLATFORMS="sim",
        FACILBOT_BASE_URL=api.settings.base_url,
    )
    return env


@asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *FACILBOT,
        "serve",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def statuses(api: ApiHarness, session_id: str) -> dict[str, str]:
    async with reading(api.db.engine) as connection:
        return {r.key: r.status for r in await schedule.rows(connection, session_id)}


async def until(api: ApiHarness, session_id: str, key: str, status: str) -> None:
    async with asyncio.timeout(PATIENCE):
        # Another process writes the row: there is nothing to wait on but the database.
        while (await statuses(api, session_id)).get(key) != status:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_kill_9_between_claim_and_send_is_reported_never_repeated(
    api: ApiHarness, smtp: Inbox, database_url: str, tmp_path: Path
) -> None:
    session_id = await ended_session(api, show=KILL_SHOW)
    assert api.services.followups is not None
    await api.services.followups.stop()  # only the subprocess sends
    assert await statuses(api, session_id) == {"reminder": "scheduled"}

    relay = HangingRelay()
    server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
    relay_port = server.sockets[0].getsockname()[1]
    env = service_env(api, database_url, relay_port, tmp_path / "data")
    try:
        async with serving(env) as doomed:
            async with asyncio.timeout(PATIENCE):
                await relay.message_sent.wait()  # the message is on the wire, unconfirmed
            assert (await statuses(api, session_id))["reminder"] == "sending"
            os.kill(doomed.pid, signal.SIGKILL)
            assert await doomed.wait() == -signal.SIGKILL
    finally:
        server.close()
    assert (await statuses(api, session_id))["reminder"] == "sending"  # nobody confirmed it

    if api.db.dialect == "postgresql":
        # Several instances share PostgreSQL, so a claim counts as cut off only once it is
        # older than STALE; stand in for those 15 minutes by ageing the claim.
        async with api.db.engine.begin() as connection:
            claimed = (
                await connection.execute(
                    select(followups.c.claimed_at).where(followups.c.session_id == session_id)
                )
            ).scalar_one()
            await connection.execute(
                update(followups)
                .where(followups.c.session_id == session_id)
                .values(claimed_at=claimed - STALE)
            )
    working = {**env, "FACILBOT_SMTP_URL": os.environ["FACILBOT_SMTP_URL"]}
    async with serving(working):
        await until(api, session_id, "reminder", "interrupted")
        listing = await asyncio.create_subprocess_exec(
            *FACILBOT,
            "followups",
            "list",
            "--session",
            session_id,
            "--format",
            "json",
            env=working,
            stdout=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(PATIENCE):
            listed, _ = await listing.communicate()
        assert listing.returncode == 0
    rows = {row["what"]: row for row in json.loads(listed)}
    assert rows["reminder"]["status"] == "interrupted"
    assert rows["reminder"]["sent_at"] is None and "crash" in rows["reminder"]["error"]
    assert rows["reminder"]["attempts"] == 1  # claimed once, never again
    assert list(rows) == ["reminder"]
    assert smtp.received == []  # the restarted sender did not send it again
    assert relay.connections == 1
