"""The service with Zoom on a migrated database (SQLite and PostgreSQL), a virtual clock, the
fake Zoom REST server behind the real Zoom client, and signed webhook requests (the shared API
harness, ``tests/support/api.py``, with Zoom's side added).

Signatures are computed here with the secret and Zoom's published recipe; bodies come from the
recorded fixtures in ``tests/integrations/zoom/fixtures``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from facilbot.auth import Role
from facilbot.engine.clock import VirtualClock
from facilbot.platforms.sim import SimPlatform
from facilbot.platforms.zoom import ZoomPlatform
from facilbot.platforms.zoom.runtime import ZoomRuntime
from facilbot.platforms.zoom.settings import ZoomSettings, load_zoom_settings
from facilbot.settings import Settings
from facilbot.store import events as store_events
from facilbot.store.db import Database, reading
from integrations.zoom.rest import ZoomClient, ZoomCredentials
from tests.integrations.zoom.fake_zoom import FakeZoom
from tests.support.api import START, ApiHarness, free_socket, open_api, service_settings

FIXTURES = Path(__file__).resolve().parents[3] / "integrations" / "zoom" / "fixtures"
SECRET = "zoom-webhook-secret-for-tests"
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


@dataclass(kw_only=True)
class Harness(ApiHarness):
    """The API harness with Zoom's side: the fake Zoom, signed webhook deliveries."""

    zoom: FakeZoom
    meeting: str
    client_waits: list[float]

    @property
    def runtime(self) -> ZoomRuntime:
        return self.platform(ZoomPlatform).runtime

    def now_ts(self) -> int:
        return int(self.clock.now().timestamp())

    def event_ts(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    async def post(
        self, body: bytes, *, ts: int | None = None, secret: str = SECRET, **headers: str
    ) -> httpx.Response:
        sent = signed_headers(body, self.now_ts() if ts is None else ts, secret)
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return await self.client.post("/webhooks/zoom", content=body, headers=sent)

    async def deliver(self, body: bytes) -> dict[str, Any]:
        """A signed delivery that must be accepted; returns the ack body (not yet applied)."""
        response = await self.post(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def receive(self, body: bytes) -> None:
        """A signed delivery, accepted and applied."""
        await self.deliver(body)
        await self.settle()

    async def attach(  # type: ignore[override]
        self, version_id: int, meeting: str | None = None, **extra: Any
    ) -> str:
        session_id = await super().attach(version_id, meeting or self.meeting, "zoom", **extra)
        self.listen(session_id)
        return session_id

    async def sync(self) -> None:
        """What the runtime's periodic loop does (off in these tests)."""
        await self.runtime.sync()
        await self.settle()

    async def report(self, session_id: str, role: Role = Role.viewer) -> dict[str, Any]:
        response = await self.client.get(
            f"/sessions/{session_id}/zoom/report", headers=self.auth(role)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def zoom_events(self, session_id: str, kind: str) -> list[dict[str, Any]]:
        return self.events(session_id, kind)

    def past_calls(self) -> list[str]:
        return [e.path for e in self.zoom.api_log() if e.path.startswith("/v2/past_meetings")]

    async def stored_events(self) -> list[store_events.StoredEvent]:
        from sqlalchemy import select

        from facilbot.store.models import PlatformEvent, table_of

        table = table_of(PlatformEvent)
        async with reading(self.db.engine) as connection:
            rows = await connection.execute(select(table).order_by(table.c.id))
            return [store_events.StoredEvent(**row._mapping) for row in rows]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    return service_settings(data_dir, platforms="sim,zoom", instance_id="zoom-test", **overrides)


def zoom_settings(secret: str | None = SECRET) -> ZoomSettings:
    return load_zoom_settings(
        _env_file=None,
        webhook_secret_token=secret,
        account_id="fake-account-id",
        client_id="fake-client-id",
        client_secret="unused: the test builds its own client",
    )


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


@contextlib.asynccontextmanager
async def open_harness(
    store: Database,
    tmp_path: Path,
    *,
    secret: str | None = SECRET,
    serve: bool = False,
    meeting: str = MEETING,
    app_for_zoom: Callable[[FakeZoom], Any] | None = None,
    **runtime: Any,
) -> AsyncIterator[Harness]:
    """The service with sim and Zoom; in process or, with ``serve``, by uvicorn on a free port
    of 127.0.0.1 (streams such as the bridge's need a real server). ``app_for_zoom`` wraps the
    fake Zoom's ASGI app (to make it hang, say); ``runtime`` options go to the Zoom runtime."""
    clock = VirtualClock(START)
    fake = FakeZoom(clock=lambda: clock.now().timestamp())
    waits: list[float] = []
    served = fake if app_for_zoom is None else app_for_zoom(fake)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served)) as zoom_http:
        zoom = ZoomPlatform(
            zoom_settings(secret), client=zoom_client(fake, zoom_http, clock, waits), **runtime
        )
        async with open_api(
            make_settings(tmp_path),
            store,
            clock=clock,
            platforms=[SimPlatform(), zoom],
            sock=free_socket() if serve else None,
            kind=Harness,
            # A served harness carries through a bridge over HTTP: generous, so that a loaded
            # CI machine does not turn a slow acknowledgement into a fallback (as in tests/pages).
            **({"channel_timeout": 15.0} if serve else {}),
            fields={"zoom": fake, "meeting": meeting, "client_waits": waits},
        ) as harness:
            yield harness


@pytest.fixture
async def h(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(store, tmp_path) as harness:
        yield harness
