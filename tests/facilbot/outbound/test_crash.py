"""kill -9 during a delivery loses nothing: after the restart the delivery is made again,
with the same webhook-id, and the log shows the cut-off attempt."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from facilbot.engine.clock import VirtualClock
from facilbot.outbound import store as outbound_store
from facilbot.outbound.secrets import cipher
from facilbot.store.db import open_database
from tests.support.api import open_api, service_settings
from tests.support.receiver import receiving

from .conftest import Hooks

ROOT = Path(__file__).resolve().parents[3]

SERVICE = """
import asyncio, sys
from facilbot.app import running_services
from facilbot.settings import load_settings
from tests.support.api import SMALL_SHOW

async def main() -> None:
    settings = load_settings(
        _env_file=None, env="test", database_url=sys.argv[1], data_dir=sys.argv[2],
        platforms="sim", instance_id="doomed", webhooks_allow_private=True,
    )
    async with running_services(settings) as services:
        version, _ = await services.engine.upload_show("crash", SMALL_SHOW, "test")
        await services.engine.attach(version.id, "sim", "m-1", by="test")
        print("attached", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_kill_9_mid_delivery_loses_nothing_and_keeps_the_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    settings = service_settings(tmp_path, database_url=url, webhooks_allow_private=True)
    db = await open_database(settings)
    async with receiving(hang=True) as receiver:
        async with db.engine.begin() as connection:
            endpoint, secret = await outbound_store.create_endpoint(
                connection,
                cipher(settings),
                url=receiver.url,
                event_types=["session.attached"],
                description="",
                at=datetime.now(UTC),
            )
        await db.close()  # the service takes the database (and its lock)
        receiver.secrets = [secret]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            textwrap.dedent(SERVICE),
            url,
            str(tmp_path),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            await receiver.wait_for(1, within=90)  # the request is in flight, its answer held back
        finally:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
        receiver.hang = False
        db = await open_database(settings)
        try:
            clock = VirtualClock(datetime.now(UTC))
            async with open_api(settings, db, clock=clock, kind=Hooks) as hooks:
                await hooks.deliver()
                assert len(receiver.received) == 2
                first, again = receiver.received
                assert first.msg_id == again.msg_id
                assert first.body == again.body
                assert again.verified and again.type == "session.attached"
                [delivery] = await hooks.deliveries(endpoint.id)
                assert delivery["status"] == "delivered"
                assert delivery["attempts"] == 2
                async with db.engine.connect() as connection:
                    from sqlalchemy import select

                    from facilbot.outbound.tables import attempts

                    outcomes = [
                        row.outcome
                        for row in await connection.execute(
                            select(attempts.c.outcome).order_by(attempts.c.attempt)
                        )
                    ]
                assert outcomes == ["interrupted", "delivered"]
        finally:
            await db.close()
