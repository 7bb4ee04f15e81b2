"""A real facilbot served by uvicorn on 127.0.0.1 for the pages' tests.

Everything is the production path (the shared harness, ``tests/support/api.py``): a migrated
SQLite database, the service built by the composition root with the simulator (Zoom's channel
profile: chat and rooms need the bridge), and a virtual clock the test moves. The server, the
engine and (for browser tests) Playwright share the test's event loop, so moving the clock
and serving requests interleave as they do in production.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.platforms.sim import SimPlatform
from facilbot.settings import Settings, load_settings
from facilbot.store.db import Database, open_database
from integrations.contract import Participant as Person
from integrations.contract import ParticipantJoined, Platform, Role
from integrations.sim import SimAdapter, SimWorld
from tests.support.api import ApiHarness, free_socket, open_api

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
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
    api: ApiHarness
    world: SimWorld

    @property
    def settings(self) -> Settings:
        return self.api.settings

    @property
    def db(self) -> Database:
        return self.api.db

    @property
    def engine(self) -> Engine:
        return self.api.engine

    @property
    def clock(self) -> VirtualClock:
        return self.api.clock

    @property
    def tokens(self) -> dict[str, str]:
        return {role.value: token for role, token in self.api.tokens.items()}

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


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    sock = free_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'facilbot.db'}",
        base_url=base_url,
        pages_secret=PAGES_SECRET,
        platforms="sim",
        instance_id="pages-test",
    )
    db = await open_database(settings)
    world = SimWorld()
    try:
        async with open_api(
            settings,
            db,
            clock=VirtualClock(START),
            platforms=[SimPlatform(SimAdapter(world, "zoom"))],
            sock=sock,
            # generous: a loaded CI machine must not turn a slow bridge into a fallback
            channel_timeout=15.0,
        ) as api:
            yield Live(base_url, api, world)
    finally:
        await db.close()


def browser_or_skip() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("FACILBOT_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and FACILBOT_TEST_REQUIRE_BROWSER=1 requires it")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    browser_or_skip()
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
