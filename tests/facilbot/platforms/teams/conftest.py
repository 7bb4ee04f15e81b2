"""The service with Teams on a migrated database (SQLite and PostgreSQL), a virtual clock (the
shared API harness, ``tests/support/api.py``, with Teams' side added), and the local Microsoft
fakes (Entra ID, Bot Framework keys, Bot Connector,
identity-platform keys, Graph) from ``tests/integrations/teams/fakes.py``.

Bot activities are signed here with the fake Bot Framework key (a real RS256 JWT); Graph
notifications are encrypted here with a certificate generated for the test.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cryptography import x509

from facilbot.engine.clock import VirtualClock
from facilbot.platforms.teams import TeamsPlatform
from facilbot.platforms.teams.runtime import TeamsRuntime, encryption_keys
from facilbot.platforms.teams.settings import TeamsSettings, load_teams_settings
from facilbot.settings import Settings
from facilbot.store.db import Database
from integrations.teams.adapter import TeamsAdapter
from integrations.teams.connector import BotConnectorClient
from integrations.teams.entra import BOT_FRAMEWORK_SCOPE, EntraTokenProvider
from tests.integrations.teams.fakes import (
    APP_ID,
    APP_PASSWORD,
    SERVICE_URL,
    TENANT,
    FakeMicrosoft,
    Recorded,
    rsa_key,
)
from tests.support.api import START, ApiHarness, open_api, service_settings
from tests.support.clock import EpochView
from tests.support.graph import graph_encrypt, notification_certificate

pytest.importorskip("msgraph", reason="the teams extra (msgraph-sdk) is not installed")

MEETING = "19:meeting_NTM3ZDJjOTUtZGRhOS00MzYxLTk5NDAtMzY4M2IzZWFjZGE1@thread.v2"
TEAMS_MEETING_ID = (
    "MCMxOTptZWV0aW5nX05UTTNaREpqT1RVdFpHUmhPUzAwTXpZeExUazVOREF0TXpZNE0ySXpaV0ZqWkdFMUB0aHJl"
    "YWQudjIjMA=="
)
ORGANIZER = "550fae72-d251-43ec-868c-373732c2704f"
ONLINE_MEETING_ID = "MSpkYzE3NjctYmZiMi04ZdFpHRTNaR1F6WGhyZWFkLnYy"
CATALOG_APP = "3b5a9b3c-1d0e-4c8f-9a5b-6c7d8e9f0a1b"
CLIENT_STATE = "client-state-for-tests-0123456789"
JOIN_URL = (  # a real join URL's shape, with a short meeting id: under the API's 200 characters
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTM3ZDJj%40thread.v2/0?context="
    f"%7b%22Oid%22%3a%22{ORGANIZER}%22%7d"
)
BOT = {"id": "28:" + APP_ID, "name": "facilbot"}


def person(n: int, name: str) -> dict[str, Any]:
    """A Teams channel account of someone in the tenant (Entra object id known)."""
    return {
        "id": f"29:teams-user-{n:03d}",
        "name": name,
        "aadObjectId": f"00000000-0000-4000-8000-{n:012d}",
    }


@dataclass
class FakeMicrosoftWithChats(FakeMicrosoft):
    """The fake, plus ``GET /chats/{id}/messages`` (for resync after missed notifications)."""

    chat_messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _graph(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path).removeprefix("/v1.0")
        match = re.fullmatch(r"/chats/([^/]+)/messages", path)
        if match and request.method == "GET" and self._authorised(request):
            self.graph.append(Recorded("GET", str(request.url), path, dict(request.headers), None))
            messages = sorted(
                self.chat_messages.get(match[1], []),
                key=lambda m: str(m["createdDateTime"]),
                reverse=True,
            )
            return httpx.Response(200, json={"value": messages})
        return super()._graph(request)


def self_signed_certificate() -> tuple[x509.Certificate, Any]:
    key = rsa_key()
    return notification_certificate(key, at=START), key


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "platforms": "teams",
        "instance_id": "teams-test",
        "base_url": "https://facilbot.example",
    }
    values.update(extra)
    return service_settings(tmp_path, **values)


def teams_settings(**extra: Any) -> TeamsSettings:
    values: dict[str, Any] = {
        "_env_file": None,
        "app_id": APP_ID,
        "app_password": APP_PASSWORD,
        "tenant_id": TENANT,
        "graph_client_state": CLIENT_STATE,
        "catalog_app_id": CATALOG_APP,
    }
    values.update(extra)
    return load_teams_settings(**values)


@dataclass(kw_only=True)
class Harness(ApiHarness):
    """The API harness with Teams' side: the Microsoft fakes, signed activities, encrypted
    Graph notifications."""

    fake: FakeMicrosoftWithChats
    certificate_b64: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_741_078_800_001))

    @property
    def runtime(self) -> TeamsRuntime:
        return self.platform(TeamsPlatform).runtime

    # -- the API --------------------------------------------------------------------------

    async def attach(  # type: ignore[override]
        self, version_id: int, meeting: str = MEETING, **extra: Any
    ) -> str:
        return await super().attach(version_id, meeting, "teams", **extra)

    # -- the bot's side of Teams ----------------------------------------------------------

    def activity(self, kind: str, sender: dict[str, Any], **fields: Any) -> dict[str, Any]:
        stamp = self.clock.now().isoformat().replace("+00:00", "Z")
        activity: dict[str, Any] = {
            "type": kind,
            "id": str(next(self._ids)),
            "timestamp": stamp,
            "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": dict(sender),
            "conversation": {
                "isGroup": True,
                "conversationType": "groupChat",
                "tenantId": TENANT,
                "id": MEETING,
            },
            "recipient": dict(BOT),
            "channelData": {"tenant": {"id": TENANT}, "meeting": {"id": TEAMS_MEETING_ID}},
        }
        activity.update(fields)
        return activity

    def meeting_event(self, name: str, sender: dict[str, Any], **value: Any) -> dict[str, Any]:
        return self.activity(
            "event", sender, name=f"application/vnd.microsoft.{name}", value=dict(value)
        )

    def members(
        self, name: str, users: list[dict[str, Any]], role: str = "Attendee"
    ) -> dict[str, Any]:
        activity = self.meeting_event(
            name,
            users[0],
            members=[{"user": u, "meeting": {"inMeeting": True, "role": role}} for u in users],
        )
        del activity["id"]  # Teams may send participant events without an id
        return activity

    def message(self, sender: dict[str, Any], text: str) -> dict[str, Any]:
        return self.activity("message", sender, text=text, textFormat="plain")

    async def post_activity(
        self, activity: dict[str, Any], *, token: str | None = None
    ) -> httpx.Response:
        token = token if token is not None else self.fake.mint()
        return await self.client.post(
            "/webhooks/teams/bot",
            content=json.dumps(activity).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    async def deliver(self, activity: dict[str, Any]) -> dict[str, Any]:
        response = await self.post_activity(activity)
        assert response.status_code == 200, response.text
        await self.settle()
        body: dict[str, Any] = response.json()
        return body

    # -- Graph's side ---------------------------------------------------------------------

    def chat_message(self, sender: dict[str, Any], text: str, message_id: str) -> dict[str, Any]:
        """A Graph ``chatMessage`` as the meeting chat holds it."""
        return {
            "id": message_id,
            "replyToId": None,
            "messageType": "message",
            "createdDateTime": self.clock.now().isoformat().replace("+00:00", "Z"),
            "lastModifiedDateTime": self.clock.now().isoformat().replace("+00:00", "Z"),
            "deletedDateTime": None,
            "chatId": MEETING,
            "from": {
                "application": None,
                "device": None,
                "user": {
                    "id": sender["aadObjectId"],
                    "displayName": sender["name"],
                    "userIdentityType": "aadUser",
                },
            },
            "body": {"contentType": "text", "content": text},
        }

    def subscription_id(self) -> str:
        [sub_id] = list(self.fake.subscriptions)
        return sub_id

    def encrypted_notification(
        self, message: dict[str, Any], *, client_state: str = CLIENT_STATE
    ) -> dict[str, Any]:
        sub_id = self.subscription_id()
        expires = self.fake.subscriptions[sub_id]["expirationDateTime"]
        return {
            "value": [
                {
                    "subscriptionId": sub_id,
                    "changeType": "created",
                    "clientState": client_state,
                    "subscriptionExpirationDateTime": expires,
                    "resource": f"chats('{MEETING}')/messages('{message['id']}')",
                    "resourceData": {
                        "id": message["id"],
                        "@odata.type": "#Microsoft.Graph.chatMessage",
                        "@odata.id": f"chats('{MEETING}')/messages('{message['id']}')",
                    },
                    "encryptedContent": graph_encrypt(message, self.certificate_b64),
                    "tenantId": TENANT,
                }
            ],
            "validationTokens": [self.fake.mint_validation_token()],
        }

    async def post_graph(
        self, body: dict[str, Any], path: str = "/webhooks/teams/graph"
    ) -> httpx.Response:
        return await self.client.post(
            path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )

    def texts_sent(self) -> list[str]:
        return [r.body["text"] for r in self.fake.sent("POST") if r.body and r.body.get("text")]

    def cards_sent(self, method: str = "POST") -> list[dict[str, Any]]:
        return [
            r.body["attachments"][0]["content"]
            for r in self.fake.sent(method)
            if r.body and r.body.get("attachments")
        ]


@pytest.fixture
async def h(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in open_harness(store, tmp_path):
        yield harness


async def open_harness(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    clock = VirtualClock(START)
    epoch = EpochView(clock)
    fake = FakeMicrosoftWithChats(clock=epoch)  # type: ignore[arg-type]
    online = json.loads(
        (Path(__file__).parents[3] / "integrations/teams/fixtures/online_meeting.json").read_text()
    )
    online.update(joinWebUrl=JOIN_URL, chatInfo={"threadId": MEETING}, id=ONLINE_MEETING_ID)
    fake.meetings[JOIN_URL] = {**online, "_organizer": ORGANIZER}
    http = fake.client()
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=APP_PASSWORD,
        tenant=TENANT,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        clock=epoch,
    )
    connector = BotConnectorClient(tokens, http=http, clock=epoch, sleep=epoch.sleep)
    adapter = TeamsAdapter(connector, clock=epoch)
    cert, key = self_signed_certificate()
    keys = encryption_keys(cert, key, "facilbot-1")
    teams = TeamsPlatform(
        teams_settings(), adapter=adapter, http=http, keys=keys, sync_interval=None
    )
    try:
        async with open_api(
            make_settings(tmp_path),
            store,
            clock=clock,
            platforms=[teams],
            base_url="https://facilbot.example",
            kind=Harness,
            fields={"fake": fake, "certificate_b64": keys.certificate_b64},
        ) as harness:
            yield harness
    finally:
        await http.aclose()
