"""One harness for every test that talks to the service over HTTP.

The app is built exactly as ``facilbot serve`` builds it: :func:`facilbot.app.running_services`
opens the engine, the webhook ingest and the platforms in their stated order on a real
migrated database, then :func:`facilbot.app.create_app` serves them. Tests choose the clock
(virtual), the database (SQLite or PostgreSQL, see ``tests/conftest.py``) and the platforms
(built against the fake Zoom and Microsoft servers); requests go in process through httpx's
ASGI transport, or through uvicorn on a free port when a test needs real streams or a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from facilbot.app import create_app, running_services
from facilbot.auth import Role, create_token
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.platforms.base import Platform
from facilbot.services import ServiceApp, Services
from facilbot.settings import Settings, load_settings
from facilbot.store.db import Database
from facilbot.webhooks.ingest import WebhookIngest

START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
P = TypeVar("P", bound=Platform)
H = TypeVar("H", bound="ApiHarness")

#: A small valid show: connection check-in, a talk with a poll, a producer cue, commitments.
SMALL_SHOW = """\
title: API test show
duration: 30m
segments:
  - id: arrive
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
  - id: talk
    kind: talk
    duration: 5m
    cues:
      - at: 1m
        poll: {question: "Which matters most?", options: [Speed, Quality]}
      - at: 3m
        id: lights
        producer: "Dim the lights"
  - id: work
    kind: activity
    duration: 15m
    cues:
      - at: 5m
        say: "Share one example in the chat."
      - at: 11m
        say: "Post your draft in the chat."
  - id: commit
    kind: commitments
    duration: 5m
    prompt: "Type one specific action you will take in the next 48 hours."
"""


def service_settings(data_dir: Path, **overrides: Any) -> Settings:
    """The service's settings for a test: nothing from the environment or a ``.env``."""
    values: dict[str, Any] = {
        "_env_file": None,
        "env": "test",
        "database_url": "sqlite:///unused.db",  # the harness passes its own database
        "data_dir": data_dir,
        "platforms": "sim",
        "instance_id": "api-test",
        "lease_seconds": 30,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class ApiHarness:
    app: ServiceApp
    client: httpx.AsyncClient
    services: Services
    tokens: dict[Role, str]
    published: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _listeners: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.services.clock, VirtualClock)
        return self.services.clock

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def ingest(self) -> WebhookIngest:
        return self.services.ingest

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def platform(self, kind: type[P]) -> P:
        found = self.services.platforms[kind.name]
        assert isinstance(found, kind)
        return found

    def auth(self, role: Role = Role.producer) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def settle(self) -> None:
        """Until the ingest worker, the runners and the platforms' work are all idle."""
        for _ in range(3):
            await self.ingest.drain()
            await self.clock.settle()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.settle()

    async def upload(self, text: str = SMALL_SHOW, name: str = "small") -> int:
        response = await self.client.post(
            "/shows",
            params={"name": name},
            content=text.encode(),
            headers={**self.auth(Role.facilitator), "Content-Type": "application/yaml"},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["version"]["id"])

    async def attach(
        self, version_id: int, meeting_ref: str = "sim-1", platform: str = "sim", **extra: Any
    ) -> str:
        response = await self.client.post(
            "/sessions",
            json={
                "show_version_id": version_id,
                "platform": platform,
                "meeting_ref": meeting_ref,
                **extra,
            },
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def control(self, session_id: str, kind: str, **payload: Any) -> None:
        response = await self.client.post(
            f"/sessions/{session_id}/controls", json={"kind": kind, **payload}, headers=self.auth()
        )
        assert response.status_code == 200, response.text
        await self.settle()

    def listen(self, session_id: str) -> None:
        """Collect what the hub publishes for the session (as the console would see it)."""
        events = self.published.setdefault(session_id, [])

        async def follow() -> None:
            async for event in self.engine.hub.subscribe(session_id):
                events.append(event)

        self._listeners.append(asyncio.create_task(follow()))

    def events(self, session_id: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.published.get(session_id, []) if e.get("type") == kind]


async def make_tokens(db: Database, at: datetime = START) -> dict[Role, str]:
    tokens = {}
    async with db.engine.begin() as connection:
        for role in Role:
            _id, token = await create_token(
                connection, name=f"{role.value} tester", role=role, at=at
            )
            tokens[role] = token
    return tokens


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def served(app: ServiceApp, sock: socket.socket) -> AsyncIterator[str]:
    """The app served by uvicorn on ``sock`` (a free port of 127.0.0.1)."""
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()


@contextlib.asynccontextmanager
async def open_api(
    settings: Settings,
    database: Database,
    *,
    clock: VirtualClock | None = None,
    platforms: Sequence[Platform] | None = None,
    sock: socket.socket | None = None,
    base_url: str = "https://facilbot.test",
    kind: type[H] = ApiHarness,  # type: ignore[assignment]
    fields: Mapping[str, Any] | None = None,
    **engine_options: Any,
) -> AsyncIterator[H]:
    """The service on ``database`` with a virtual clock (``START`` unless given).

    ``platforms`` default to those the settings list; with ``sock`` the app is served by
    uvicorn on it (streams, browsers), otherwise requests go in process. ``kind`` is the
    harness class (a platform's tests add their side to it), built with ``fields`` too.
    """
    clock = clock or VirtualClock(START)
    async with running_services(
        settings, clock=clock, database=database, platforms=platforms, **engine_options
    ) as services:
        app = create_app(settings, services=services)
        tokens = await make_tokens(database)
        async with contextlib.AsyncExitStack() as stack:
            if sock is not None:
                url = await stack.enter_async_context(served(app, sock))
                # httpx's default 5 s read timeout failed an attach on a loaded CI machine
                client = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=30.0)
                )
            else:
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx.ASGITransport(app=app)
                client = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url=base_url)
                )
            harness = kind(app, client, services, tokens, **(fields or {}))
            try:
                yield harness
            finally:
                for task in harness._listeners:
                    task.cancel()
                await asyncio.gather(*harness._listeners, return_exceptions=True)
