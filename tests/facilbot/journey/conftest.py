"""A real SMTP server in process (aiosmtpd) and a session that ended with commitments."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from facilbot.engine.clock import VirtualClock
from facilbot.journey import identity
from facilbot.pages import companion
from facilbot.store.db import Database
from integrations.contract import ChatMessage, Participant, ParticipantJoined, Platform
from tests.support.api import SMALL_SHOW, ApiHarness, free_socket, open_api, service_settings

#: Friday 16:00 UTC = 17:00 in Berlin; the show ends at 16:26 UTC, after office hours there.
FRIDAY = datetime(2025, 3, 7, 16, 0, tzinfo=UTC)
MEETING = "sim-journey"
SHOW = (
    SMALL_SHOW
    + "timezone: Europe/Berlin\nfollow_up: {reminder_after: 7d, check_ins: [30d, 60d, 90d]}\n"
    + 'prework: [{title: "Primer", url: "https://example.org/primer"}]\n'
)
ANA = Participant("p-ana", "Ana Alves", email="ana@example.org")
BO = Participant("p-bo", "Bo Berg")  # the platform gave no address
CY = Participant("p-cy", "Cy Chen", email="cy@example.org")  # never consents
COMMITMENT = "I will book a 30-minute call with Bo before Friday."


@dataclass
class Inbox:
    """What the SMTP server accepted; ``replies`` makes it answer DATA with an error."""

    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("FACILBOT_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("FACILBOT_MAIL_FROM", "Facilitation team <team@example.net>")
    monkeypatch.setenv("FACILBOT_MAIL_RATE", "1000")
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
async def api(store: Database, tmp_path: Path, smtp: Inbox) -> AsyncIterator[ApiHarness]:
    settings = service_settings(tmp_path, pages_secret="journey-test-secret-0123456789abcdef")
    async with open_api(settings, store, clock=VirtualClock(FRIDAY)) as harness:
        yield harness


def joined(person: Participant) -> ParticipantJoined:
    return ParticipantJoined(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id=f"join-{person.id}",
        occurred_at=FRIDAY,
        participant=person,
    )


def said(person: Participant, text: str, n: int) -> ChatMessage:
    return ChatMessage(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id=f"chat-{person.id}-{n}",
        occurred_at=FRIDAY,
        sender_id=person.id,
        sender_name=person.name,
        text=text,
    )


def page_headers(api: ApiHarness, session_id: str, ref: str) -> dict[str, str]:
    """What a person's own companion link sends: the session's key and their own."""
    secret = api.services.pages_secret
    return {
        companion.KEY_HEADER: companion.companion_key(secret, session_id),
        identity.PARTICIPANT_KEY_HEADER: identity.participant_key(secret, session_id, ref),
    }


async def ended_session(
    api: ApiHarness,
    people: tuple[Participant, ...] = (ANA, BO, CY),
    consent: tuple[str, ...] = ("p-ana",),
    show: str = SHOW,
) -> str:
    """The show run to its end at 16:26 UTC; everyone committed in the chat; ``consent``
    said yes on the companion page (with the platform's address)."""
    version = await api.upload(show, name="journey")
    session_id = await api.attach(version, MEETING)
    for event in await api.engine.accept([joined(p) for p in people]):
        await api.engine.ingest(event)
    await api.control(session_id, "start")
    await api.advance(25 * 60 + 30)  # the commitments window (25–30m)
    events = [
        said(p, COMMITMENT if p is ANA else f"I will try the map with my team, {p.name}.", 1)
        for p in people
    ]
    for event in await api.engine.accept(events):
        await api.engine.ingest(event)
    await api.advance(30)
    await api.control(session_id, "end")
    for ref in consent:
        made = await api.client.post(
            f"/companion/{session_id}/contact",
            json={"consent": True},
            headers=page_headers(api, session_id, ref),
        )
        assert made.status_code == 200, made.text
    return session_id


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
