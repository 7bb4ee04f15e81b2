"""The Zoom harness for the contract suite.

Inbound: the standard scenario is sent the way Zoom sends it: the recorded payload shapes in
``tests/integrations/zoom/fixtures`` filled with the scenario's people, signed with the webhook
secret (``x-zm-signature`` over the raw bytes and ``x-zm-request-timestamp``), then verified,
parsed and normalised by ``integrations.zoom.webhook``. Outbound: the real ``ZoomAdapter`` and
``ZoomClient`` talk to the fake Zoom (OAuth + REST) in-process; ``reached_platform`` reads its log.

Zoom names breakout rooms only by UUID in webhooks and has no live poll answers, so neither
optional feature is supported.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from integrations.contract import InboundEvent, MeetingAdapter, Platform
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient, ZoomCredentials
from integrations.zoom.webhook import normalise, parse_event, verify_request
from tests.support.clock import FakeClock

from ..zoom.fake_zoom import FakeZoom
from .harness import CHAT_TEXT, COMMAND_TEXT, GUEST_NAME, HOST_EMAIL, HOST_NAME

FIXTURES = Path(__file__).parent.parent / "zoom" / "fixtures"
MEETING_ID = 85746065432
MEETING_UUID = "gkPRM6yDSaCk0qO3KHsxwA=="
HOST_USER_ID = "x1yCzABCDEfg23HiJKl4mN"


def _template(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


class ZoomHarness:
    platform = Platform.zoom
    supports: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.webhook_secret = secrets.token_urlsafe(24)
        self.fake = FakeZoom(clock=self.clock)
        self.fake.add_meeting(
            MEETING_ID,
            uuid=MEETING_UUID,
            status="started",
            recording="recording",
            host_id=HOST_USER_ID,
        )
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.fake))
        self._client = ZoomClient(
            ZoomCredentials(self.fake.account_id, self.fake.client_id, self.fake.client_secret),
            http=self._http,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        self._adapter = ZoomAdapter(self._client)
        self._last_body: bytes | None = None
        self._event_ts = 1_777_000_000_000

    @property
    def adapter(self) -> MeetingAdapter:
        return self._adapter

    @property
    def meeting_ref(self) -> str:
        return str(MEETING_ID)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.webhook_secret, self.fake.client_secret, *self.fake.issued)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()
        await self._http.aclose()

    # -- Zoom's side: build and sign deliveries --------------------------------------------

    def _envelope(self, template: str, **object_fields: Any) -> dict[str, Any]:
        body = copy.deepcopy(_template(template))
        self._event_ts += 7_000
        body["event_ts"] = self._event_ts
        obj = body["payload"]["object"]
        obj.update(id=str(MEETING_ID), uuid=MEETING_UUID, host_id=HOST_USER_ID)
        obj.update(object_fields)
        return body

    @staticmethod
    def _person(name: str, uuid: str, user_id: str | None, email: str) -> dict[str, Any]:
        return {
            "user_id": str(16778240 + len(uuid)),
            "user_name": name,
            "id": user_id or "",
            "participant_uuid": uuid,
            "join_time": "2026-05-04T09:00:00Z",
            "email": email,  # Zoom sends "" for guests outside the account
        }

    def _chat(self, name: str, uuid: str, email: str, text: str) -> dict[str, Any]:
        body = copy.deepcopy(_template("chat_message_sent_schema.json"))
        self._event_ts += 7_000
        body["event_ts"] = self._event_ts
        obj = body["payload"]["object"]
        obj.update(id=MEETING_ID, uuid=MEETING_UUID)  # a number here, as Zoom sends it
        obj["chat_message"].update(
            sender_session_id=uuid,
            sender_name=name,
            sender_email=email,
            message_id=hashlib.sha256(text.encode()).hexdigest()[:32],
            message_content=text,
        )
        return body

    def _deliver(self, body: bytes) -> list[InboundEvent]:
        timestamp = str(int(self.clock()))
        digest = hmac.new(
            self.webhook_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
        ).hexdigest()
        headers = {"x-zm-signature": f"v0={digest}", "x-zm-request-timestamp": timestamp}
        verify_request(self.webhook_secret.encode(), headers, body, now=self.clock())
        self._last_body = body
        return normalise(parse_event(body))

    async def play_standard_scenario(self) -> list[InboundEvent]:
        host = self._person(HOST_NAME, "host-pu-7GkM2", HOST_USER_ID, HOST_EMAIL)
        guest = self._person(GUEST_NAME, "guest-pu-Q81zX", None, "")
        left = dict(guest, leave_time="2026-05-04T10:20:00Z", leave_reason="left the meeting")
        del left["join_time"]
        deliveries = [
            self._envelope("meeting_started_docs.json"),
            self._envelope("participant_joined_docs.json", participant=host),
            self._envelope("participant_joined_docs.json", participant=guest),
            self._chat(GUEST_NAME, guest["participant_uuid"], "", CHAT_TEXT),
            self._chat(HOST_NAME, host["participant_uuid"], HOST_EMAIL, COMMAND_TEXT),
            self._envelope("participant_joined_docs.json", participant=left),
            self._envelope("meeting_ended_docs.json"),
        ]
        deliveries[5]["event"] = "meeting.participant_left"
        events: list[InboundEvent] = []
        for body in deliveries:
            self.clock.advance(7)
            events += self._deliver(json.dumps(body, ensure_ascii=False).encode())
        return events

    async def replay_last(self) -> list[InboundEvent]:
        assert self._last_body is not None, "nothing delivered yet"
        self.clock.advance(300 - 1)  # Zoom's first retry, freshly signed, same body
        return self._deliver(self._last_body)

    async def reached_platform(self) -> list[str]:
        kinds = {"recording.pause": "start_break", "recording.resume": "end_break"}
        reached: list[str] = []
        for entry in self.fake.api_log():
            if entry.path.startswith("/v2/live_meetings/") and entry.status < 300:
                method = entry.body.get("method") if isinstance(entry.body, dict) else None
                reached.append(kinds.get(method, f"unexpected:{method}"))
            elif entry.method != "GET" and entry.status < 300:
                reached.append(f"unexpected:{entry.method} {entry.path}")
        return reached


def make_harness() -> ZoomHarness:
    return ZoomHarness()
