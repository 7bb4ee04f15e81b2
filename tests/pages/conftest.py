"""A real facilbot served by uvicorn on 127.0.0.1 for the pages' tests.

Everything is the production path: a migrated SQLite database, the real Engine with the
simulator adapter (Zoom's channel profile: chat and rooms need the bridge), the FastAPI app
with its routers, and a virtual clock the test moves. The server, the engine and (for browser
tests) Playwright share the test's event loop, so moving the clock and serving requests
interleave as they do in production.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from facilbot.api.app import create_app
from facilbot.auth import create_token
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.settings import Settings, load_settings
from facilbot.store.db import Database, open_database
from integrations.contract import Participant as Person
from integrations.contract import ParticipantJoined, Platform, Role
from integrations.sim import SimAdapter, SimWorld

CHROMIUM = "/usr/bin/chromium"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MEETING = "sim-pages-1"
PAGES_SECRET = "pages-test-secret-0123456789abcdef0123"

SHOW = """\
title: Pages test
duration: 20m
segments:
  - id: welcome
    kind: connection
    title: Welcome
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving?"
      - at: 2m
        poll:
          question: "Which tool do you use most?"
          options: [Miro, Mural, Paper]
          open_for: 2m
  - id: rooms
    kind: breakout
    title: Pairs
    duration: 10m
    breakout: {size: 2, assign: {random: true}, warn_before_close: 1m}
  - id: commit
    kind: commitments
    title: Commitments
    duration: 5m
    prompt: "One action you will take in the next 48 hours."
"""

PEOPLE = (
    Person("host-1", "Hana Host", role=Role.host),
    Person("p-ada", "Ada Lovelace", attributes={"department": "Research"}),
    Person("p-bob", "Bob Marley", attributes={"department": "Sales"}),
    Person("p-cy", "Cy Young", attributes={"department": "Research"}),
    Person("p-dee", "Dee Dee Ramone", attributes={"department": "Sales"}),
)


@dataclass
class Live:
    base_url: str
    settings: Settings
    db: Database
    engine: Engine
    clock: VirtualClock
    world: SimWorld
    tokens: dict[str, str]

    def client(
        self, role: str | None = "producer", headers: dict[str, str] | None = None
    ) -> httpx.AsyncClient:
        sent = dict(headers or {})
        if role:
            sent["Authorization"] = f"Bearer {self.tokens[role]}"
        return httpx.AsyncClient(base_url=self.base_url, headers=sent, timeout=10)

    async def session(self, *, join: bool = True) -> str:
        """The test show attached to the simulated meeting, with everyone joined."""
        record, _ = await self.engine.upload_show("pages-test", SHOW, "test")
        session_id = await self.engine.attach(record.id, "sim", MEETING, by="test")
        if join:
            await self.join(*PEOPLE)
        return session_id

    async def join(self, *people: Person) -> None:
        events = [
            ParticipantJoined(
                platform=Platform.sim,
                meeting_ref=MEETING,
                event_id=f"join-{person.id}",
                occurred_at=self.clock.now(),
                participant=person,
            )
            for person in people
        ]
        for event in await self.engine.accept(events):
            await self.engine.ingest(event)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    sock = free_socket()
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'facilbot.db'}",
        base_url=base_url,
        pages_secret=PAGES_SECRET,
        platforms="sim",
    )
    db = await open_database(settings)
    clock = VirtualClock(START)
    world = SimWorld()
    engine = Engine(
        db,
        clock,
        instance_id="pages-test",
        adapters={"sim": SimAdapter(world, "zoom")},
        # generous: a loaded CI machine must not turn a slow bridge into a fallback
        channel_timeout=15.0,
    )
    tokens = {}
    async with db.engine.begin() as connection:
        for role in ("producer", "viewer"):
            _, tokens[role] = await create_token(connection, name=role, role=role, at=START)
    app = create_app(settings, engine=engine, clock=clock)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    await engine.start()
    try:
        yield Live(base_url, settings, db, engine, clock, world, tokens)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        await engine.stop()
        await db.close()
        sock.close()


def browser_or_skip() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("FACILBOT_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and FACILBOT_TEST_REQUIRE_BROWSER=1 requires it")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
