"""The real app, engine and Zoom runtime on a migrated database (SQLite and PostgreSQL), a
virtual clock, the fake Zoom REST server behind the real Zoom adapter, and signed webhooks.

Signed bodies are built from Zoom's recorded payloads by the helpers of the webhook tests.
The Zoom client's own waits (``Retry-After``, backoff) are recorded, not slept: the runtime's
retries run on the engine's virtual clock, which the tests move.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from facilbot.api.app import create_app
from facilbot.auth import Role, create_token
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.store.db import Database
from facilbot.webhooks.ingest import WebhookIngest
from facilbot.zoom_service import ZoomRuntime
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient, ZoomCredentials
from tests.facilbot.webhooks.conftest import START, make_settings, signed_headers
from tests.integrations.zoom.fake_zoom import FakeZoom

MEETING = "85746065432"


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: VirtualClock
    engine: Engine
    db: Database
    zoom: FakeZoom
    runtime: ZoomRuntime
    tokens: dict[Role, str]
    client_waits: list[float]
    published: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def ingest(self) -> WebhookIngest:
        ingest = self.app.state.webhook_ingest
        assert isinstance(ingest, WebhookIngest)
        return ingest

    def auth(self, role: Role = Role.producer) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def event_ts(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    async def settle(self) -> None:
        for _ in range(3):
            await self.ingest.drain()
            await self.runtime.settle()
            await self.clock.settle()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.settle()

    async def sync(self) -> None:
        """What the runtime's periodic loop does (off in tests)."""
        await self.runtime.sync()
        await self.settle()

    async def deliver(self, body: bytes) -> None:
        headers = signed_headers(body, int(self.clock.now().timestamp()))
        response = await self.client.post("/webhooks/zoom", content=body, headers=headers)
        assert response.status_code == 200, response.text
        await self.settle()

    async def upload(self, text: str, name: str) -> int:
        response = await self.client.post(
            "/shows",
            params={"name": name},
            content=text.encode(),
            headers={**self.auth(Role.facilitator), "Content-Type": "application/yaml"},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["version"]["id"])

    async def attach(self, version_id: int, meeting: str = MEETING) -> str:
        response = await self.client.post(
            "/sessions",
            json={"show_version_id": version_id, "platform": "zoom", "meeting_ref": meeting},
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        session_id = str(response.json()["id"])
        self.listen(session_id)
        return session_id

    async def control(self, session_id: str, kind: str) -> None:
        response = await self.client.post(
            f"/sessions/{session_id}/controls", json={"kind": kind}, headers=self.auth()
        )
        assert response.status_code == 200, response.text
        await self.settle()

    async def report(self, session_id: str, role: Role = Role.viewer) -> dict[str, Any]:
        response = await self.client.get(
            f"/sessions/{session_id}/zoom/report", headers=self.auth(role)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def listen(self, session_id: str) -> None:
        """Collect what the hub publishes for the session (as the console would see it)."""
        events = self.published.setdefault(session_id, [])

        async def follow() -> None:
            async for event in self.engine.hub.subscribe(session_id):
                events.append(event)

        self._listeners.append(asyncio.create_task(follow()))

    def zoom_events(self, session_id: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.published.get(session_id, []) if e.get("type") == kind]

    def past_calls(self) -> list[str]:
        return [e.path for e in self.zoom.api_log() if e.path.startswith("/v2/past_meetings")]

    _listeners: list[asyncio.Task[None]] = field(default_factory=list)


def zoom_client(
    fake: FakeZoom, http: httpx.AsyncClient, clock: VirtualClock, waits: list[float]
) -> ZoomClient:
    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    return ZoomClient(
        ZoomCredentials(fake.account_id, fake.client_id, fake.client_secret),
        api_base_url="https://api.zoom.us/v2",
        oauth_url="https://zoom.us/oauth/token",
        http=http,
        clock=lambda: clock.now().timestamp(),
        sleep=record_wait,
        jitter=lambda: 0.5,
    )


@pytest.fixture
async def h(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(store, tmp_path) as harness:
        yield harness


@contextlib.asynccontextmanager
async def open_harness(
    store: Database, tmp_path: Path, *, app_for_zoom: Any = None
) -> AsyncIterator[Harness]:
    """``app_for_zoom`` wraps the fake Zoom's ASGI app (to make it hang, say)."""
    clock = VirtualClock(START)
    fake = FakeZoom(clock=lambda: clock.now().timestamp())
    waits: list[float] = []
    served = fake if app_for_zoom is None else app_for_zoom(fake)
    zoom_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=served))
    client = zoom_client(fake, zoom_http, clock, waits)
    adapter = ZoomAdapter(client)
    engine = Engine(store, clock, instance_id="zoom-test", adapters={"zoom": adapter})
    await engine.start()
    runtime = ZoomRuntime(engine, adapter, sync_interval=None)
    app = create_app(make_settings("sqlite:///unused.db", tmp_path), engine=engine)
    app.state.zoom_runtime = runtime
    tokens: dict[Role, str] = {}
    async with store.engine.begin() as connection:
        for role in Role:
            _id, token = await create_token(
                connection, name=f"{role.value} tester", role=role, at=START
            )
            tokens[role] = token
    harness: Harness | None = None
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://facilbot.test"
            ) as http:
                harness = Harness(app, http, clock, engine, store, fake, runtime, tokens, waits)
                yield harness
    finally:
        if harness is not None:
            for task in harness._listeners:
                task.cancel()
            await asyncio.gather(*harness._listeners, return_exceptions=True)
        await engine.stop()
        await zoom_http.aclose()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
