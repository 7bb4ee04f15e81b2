"""The real app and engine on a migrated database (SQLite and PostgreSQL), a virtual clock, the
fake Zoom REST server behind the real Zoom adapter, and signed webhook requests.

Signatures are computed here with the secret and Zoom's published recipe; bodies come from the
recorded fixtures in ``tests/integrations/zoom/fixtures``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from facilbot.api.app import create_app
from facilbot.auth import Role, create_token
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.settings import Settings, load_settings
from facilbot.store import events as store_events
from facilbot.store.db import Database, reading
from facilbot.webhooks.ingest import WebhookIngest
from integrations.contract import MeetingAdapter
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient, ZoomCredentials
from tests.integrations.zoom.fake_zoom import FakeZoom

FIXTURES = Path(__file__).resolve().parents[2] / "integrations" / "zoom" / "fixtures"
SECRET = "zoom-webhook-secret-for-tests"
START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
MEETING = "1234567890"  # the meeting id in Zoom's documentation examples


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(body: bytes, ts: int, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


def signed_headers(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-zm-signature": signature(body, ts, secret),
        "x-zm-request-timestamp": str(ts),
        "content-type": "application/json",
    }


def body_of(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def joined(n: int, name: str, *, meeting: str = MEETING, event_ts: int) -> bytes:
    """Zoom's participant_joined example, for another person."""
    data = copy.deepcopy(fixture("participant_joined_docs.json"))
    data["event_ts"] = event_ts
    obj = data["payload"]["object"]
    obj["id"] = meeting
    person = obj["participant"]
    person.update(
        user_id=str(16778240 + n),
        user_name=name,
        id=f"user{n:03d}",
        participant_uuid=f"uuid-{n:03d}",
        email=f"{name.split()[0].lower()}@example.com",
        participant_user_id=f"puid-{n:03d}",
    )
    return body_of(data)


def chat(text: str, sender: str, n: int, *, event_ts: int, meeting: str = MEETING) -> bytes:
    data = copy.deepcopy(fixture("chat_message_sent_schema.json"))
    data["event_ts"] = event_ts
    data["payload"]["object"]["id"] = int(meeting)
    message = data["payload"]["object"]["chat_message"]
    message.update(
        message_content=text,
        sender_name=sender,
        sender_session_id=f"uuid-{n:03d}",
        sender_email=f"{sender.split()[0].lower()}@example.com",
        sender_type="participant",
        message_id=f"msg-{event_ts}-{n}",
    )
    return body_of(data)


def meeting_event(kind: str, *, uuid: str, event_ts: int, meeting: str = MEETING) -> bytes:
    name = "meeting_started_docs.json" if kind == "started" else "meeting_ended_docs.json"
    data = copy.deepcopy(fixture(name))
    data["event_ts"] = event_ts
    data["payload"]["object"].update(id=meeting, uuid=uuid)
    return body_of(data)


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: VirtualClock
    engine: Engine
    db: Database
    zoom: FakeZoom
    tokens: dict[Role, str]

    @property
    def ingest(self) -> WebhookIngest:
        ingest = self.app.state.webhook_ingest
        assert isinstance(ingest, WebhookIngest)
        return ingest

    def now_ts(self) -> int:
        return int(self.clock.now().timestamp())

    def event_ts(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def auth(self, role: Role = Role.producer) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def post(
        self, body: bytes, *, ts: int | None = None, secret: str = SECRET, **headers: str
    ) -> httpx.Response:
        sent = signed_headers(body, self.now_ts() if ts is None else ts, secret)
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return await self.client.post("/webhooks/zoom", content=body, headers=sent)

    async def deliver(self, body: bytes) -> dict[str, Any]:
        """A signed delivery that must be accepted; returns the ack body."""
        response = await self.post(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def settle(self) -> None:
        await self.ingest.drain()
        await self.clock.settle()

    async def upload(self, text: str, name: str) -> int:
        response = await self.client.post(
            "/shows",
            params={"name": name},
            content=text.encode(),
            headers={**self.auth(Role.facilitator), "Content-Type": "application/yaml"},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["version"]["id"])

    async def attach(self, version_id: int, meeting: str = MEETING, **extra: Any) -> str:
        response = await self.client.post(
            "/sessions",
            json={
                "show_version_id": version_id,
                "platform": "zoom",
                "meeting_ref": meeting,
                **extra,
            },
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def stored_events(self) -> list[store_events.StoredEvent]:
        from sqlalchemy import select

        from facilbot.store.models import PlatformEvent, table_of

        table = table_of(PlatformEvent)
        async with reading(self.db.engine) as connection:
            rows = await connection.execute(select(table).order_by(table.c.id))
            return [store_events.StoredEvent(**row._mapping) for row in rows]


def make_settings(database_url: str, data_dir: Path, secret: str | None = SECRET) -> Settings:
    return load_settings(
        _env_file=None,
        env="test",
        database_url=database_url,
        data_dir=data_dir,
        platforms="sim,zoom",
        instance_id="webhook-test",
        lease_seconds=30,
        zoom_webhook_secret_token=secret,
        zoom_account_id="fake-account-id",
        zoom_client_id="fake-client-id",
        zoom_client_secret="unused: the test builds its own client",
    )


@dataclass
class ZoomSide:
    fake: FakeZoom
    adapter: ZoomAdapter
    http: httpx.AsyncClient


async def _no_wait(_seconds: float) -> None:
    return None


def zoom_side(clock: VirtualClock) -> ZoomSide:
    def epoch() -> float:
        return clock.now().timestamp()

    fake = FakeZoom(clock=epoch)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    client = ZoomClient(
        ZoomCredentials(fake.account_id, fake.client_id, fake.client_secret),
        api_base_url="https://api.zoom.us/v2",
        oauth_url="https://zoom.us/oauth/token",
        http=http,
        clock=epoch,
        sleep=_no_wait,
        jitter=lambda: 0.5,
    )
    return ZoomSide(fake, ZoomAdapter(client), http)


@pytest.fixture
async def h(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in open_harness(store, tmp_path):
        yield h


async def open_harness(
    store: Database, tmp_path: Path, *, secret: str | None = SECRET, serve: bool = False
) -> AsyncIterator[Harness]:
    """The app on the engine; in process (ASGI transport) or, with ``serve``, by uvicorn on a
    free port of 127.0.0.1 (streams such as the bridge's need a real server)."""
    clock = VirtualClock(START)
    zoom = zoom_side(clock)
    adapters: dict[str, MeetingAdapter] = {"zoom": zoom.adapter}
    engine = Engine(store, clock, instance_id="webhook-test", adapters=adapters, lease_seconds=30)
    await engine.start()
    app = create_app(make_settings("sqlite:///unused.db", tmp_path, secret), engine=engine)
    tokens: dict[Role, str] = {}
    async with store.engine.begin() as connection:
        for role in Role:
            _id, token = await create_token(
                connection, name=f"{role.value} tester", role=role, at=START
            )
            tokens[role] = token
    try:
        if serve:
            async with served(app) as base_url, httpx.AsyncClient(base_url=base_url) as c:
                yield Harness(app, c, clock, engine, store, zoom.fake, tokens)
        else:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="https://facilbot.test"
                ) as c:
                    yield Harness(app, c, clock, engine, store, zoom.fake, tokens)
    finally:
        await engine.stop()
        await zoom.http.aclose()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
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
