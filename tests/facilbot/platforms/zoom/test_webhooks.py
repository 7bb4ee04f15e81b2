"""``POST /webhooks/zoom`` through the real app: verification, validation, malformed input,
unknown events, duplicates, out-of-order delivery, and recovery of stored, unprocessed events."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, reading
from facilbot.store.models import Control, table_of
from facilbot.webhooks.ingest import WebhookIngest
from integrations.zoom.webhook import normalise, parse_event

from .conftest import (
    MEETING,
    SECRET,
    Harness,
    body_of,
    chat,
    fixture,
    fixture_bytes,
    joined,
    meeting_event,
    open_harness,
)

SHOW = """\
title: Webhook route test
duration: 30m
segments:
  - id: arrive
    kind: connection
    duration: 10m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
  - id: work
    kind: activity
    duration: 15m
    cues:
      - at: 5m
        say: "Share one example in the chat."
  - id: commit
    kind: commitments
    duration: 5m
"""


async def controls_of(h: Harness, session_id: str) -> list[str]:
    table = table_of(Control)
    async with reading(h.db.engine) as connection:
        rows = await connection.execute(
            select(table.c.kind).where(table.c.session_id == session_id).order_by(table.c.seq)
        )
        return [row.kind for row in rows]


# -- endpoint validation -----------------------------------------------------------------------


async def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(h: Harness) -> None:
    body = fixture_bytes("url_validation_docs.json")
    response = await h.post(body)
    assert response.status_code == 200
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    expected = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": plain, "encryptedToken": expected}
    assert await h.stored_events() == []


async def test_url_validation_must_be_signed_too(h: Harness) -> None:
    body = fixture_bytes("url_validation_docs.json")
    response = await h.client.post("/webhooks/zoom", content=body)
    assert response.status_code == 401
    assert "missing x-zm-signature" in response.json()["detail"]


# -- verification: nothing stored, nothing applied --------------------------------------------


async def test_forged_stale_unsigned_and_replayed_requests_are_refused(h: Harness) -> None:
    version = await h.upload(SHOW, "route")
    session_id = await h.attach(version)
    body = meeting_event("started", uuid="occ-1==", event_ts=h.event_ts())
    now = h.now_ts()

    forged = await h.post(body, secret="not-the-secret")
    assert (forged.status_code, forged.json()["detail"]) == (401, "signature does not match")
    assert forged.json()["error"] == "bad_signature"

    stale = await h.post(body, ts=now - 301)
    assert stale.status_code == 401 and "stale request" in stale.json()["detail"]
    future = await h.post(body, ts=now + 301)
    assert future.status_code == 401 and "in the future" in future.json()["detail"]

    unsigned = await h.client.post("/webhooks/zoom", content=body)
    assert unsigned.status_code == 401
    no_time = await h.client.post(
        "/webhooks/zoom", content=body, headers={"x-zm-signature": "v0=" + "0" * 64}
    )
    assert no_time.status_code == 401
    assert no_time.json()["detail"] == "missing x-zm-request-timestamp header"

    # a body changed after signing (same headers) is a forgery
    headers = {"x-zm-signature": "", "x-zm-request-timestamp": str(now)}
    from .conftest import signature

    headers["x-zm-signature"] = signature(body, now)
    tampered = body.replace(b"occ-1==", b"occ-2==")
    changed = await h.client.post("/webhooks/zoom", content=tampered, headers=headers)
    assert changed.status_code == 401

    # a captured genuine request replayed ten minutes later
    genuine = await h.client.post("/webhooks/zoom", content=body, headers=headers)
    assert genuine.status_code == 200
    await h.settle()
    await h.clock.advance(600)
    replayed = await h.client.post("/webhooks/zoom", content=body, headers=headers)
    assert replayed.status_code == 401 and "stale" in replayed.json()["detail"]

    stored = await h.stored_events()
    assert [e.type for e in stored] == ["MeetingStarted"]  # only the genuine one
    assert (await controls_of(h, session_id)).count("start") == 1


async def test_without_a_secret_the_route_says_it_is_not_configured(
    store: Database, tmp_path: Path
) -> None:
    async with open_harness(store, tmp_path, secret=None) as h:
        body = fixture_bytes("meeting_started_docs.json")
        response = await h.post(body)
        assert response.status_code == 503
        assert response.json()["error"] == "not_configured"
        assert "FACILBOT_ZOOM_WEBHOOK_SECRET_TOKEN" in response.json()["detail"]
        assert await h.stored_events() == []


# -- bad input ----------------------------------------------------------------------------------


async def test_malformed_signed_bodies_get_400_with_the_reason(h: Harness) -> None:
    cases = {
        b'{"event": "meeting.started", ': "body is not JSON (line 1 column 30)",
        b"[1, 2]": "body is not a JSON object",
        body_of({"event_ts": 1, "payload": {}}): "'event' is missing or not a string",
        body_of({"event": "meeting.started", "event_ts": 1, "payload": {"object": {}}}): (
            "meeting.started: payload.object.id is missing"
        ),
        body_of(
            {"event": "meeting.participant_joined", "event_ts": 1, "payload": {"object": {"id": 1}}}
        ): "meeting.participant_joined: payload.object.participant is missing",
        body_of({"event": "endpoint.url_validation", "event_ts": 1, "payload": {}}): (
            "endpoint.url_validation: payload.plainToken is missing or not a string"
        ),
        b"\xff\xfe": "body is not UTF-8",
    }
    for body, reason in cases.items():
        response = await h.post(body)
        assert response.status_code == 400, body
        assert response.json() == {"error": "malformed_event", "detail": reason}
    # the legacy payload lacks event_ts: signed, but not an event we can date
    legacy = await h.post(fixture_bytes("participant_joined_legacy.json"))
    assert legacy.status_code == 400 and "event_ts" in legacy.json()["detail"]
    assert await h.stored_events() == []


async def test_oversized_bodies_are_refused_before_verification(h: Harness) -> None:
    body = b'{"event": "x", "pad": "' + b"a" * (256 * 1024) + b'"}'
    response = await h.post(body)
    assert response.status_code == 413
    assert "262,144 bytes" in response.json()["detail"]


async def test_unknown_events_are_stored_and_ignored(h: Harness) -> None:
    data = fixture("meeting_started_docs.json")
    data["event"] = "meeting.sharing_started"
    body = body_of(data)
    first = await h.deliver(body)
    assert first == {"status": "ignored", "event": "meeting.sharing_started", "duplicate": False}
    second = await h.deliver(body)
    assert second["duplicate"] is True
    [stored] = await h.stored_events()
    assert stored.type == "meeting.sharing_started"
    assert stored.meeting_ref == MEETING
    assert stored.processed_at is not None
    assert stored.payload == {"ignored": True}  # never the body


# -- duplicates and order -------------------------------------------------------------------------


async def test_duplicate_deliveries_are_applied_once(h: Harness) -> None:
    version = await h.upload(SHOW, "route")
    session_id = await h.attach(version)
    ts = h.event_ts()
    started = meeting_event("started", uuid="occ-1==", event_ts=ts)
    person = joined(1, "Ada Lovelace", event_ts=ts + 1000)
    acks = [await h.deliver(started), await h.deliver(person)]
    # Zoom redelivers (its retry after 5 minutes, or simply twice): same bodies, new timestamps
    await h.clock.advance(300)
    acks += [await h.deliver(started), await h.deliver(person)]
    assert [(a["new"], a["duplicates"]) for a in acks] == [(1, 0), (1, 0), (0, 1), (0, 1)]
    await h.settle()

    assert (await controls_of(h, session_id)).count("start") == 1
    async with reading(h.db.engine) as connection:
        presence = await store_participants.presence_for(connection, session_id)
    assert len(presence) == 1
    stored = await h.stored_events()
    assert len(stored) == 2 and all(e.processed_at is not None for e in stored)
    assert h.engine.counters["duplicate_events"] == 2


async def test_meeting_ended_before_the_last_participant_left(h: Harness) -> None:
    """The captured 2022 deliveries: meeting.ended arrives before the host's participant_left."""
    deliveries = fixture("captured_instant_meeting_2022.json")
    version = await h.upload(SHOW, "route")
    session_id = await h.attach(version, meeting="86431910364")
    for data in deliveries:
        ack = await h.deliver(body_of(data))
        assert ack["status"] == "accepted" and ack["new"] == 1
        await h.settle()
    async with reading(h.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
        people = await store_participants.participants_for(connection, session_id)
    assert record is not None and record.status == "ended"
    assert [(p.name, p.role) for p in people] == [("Jan Šimonek", "host")]
    assert await controls_of(h, session_id) == ["attach", "start", "end"]
    stored = await h.stored_events()
    assert [e.type for e in stored] == [
        "MeetingStarted",
        "ParticipantJoined",
        "MeetingEnded",
        "ParticipantLeft",
    ]
    assert all(e.processed_at is not None for e in stored)


async def test_chat_number_ids_reach_the_session(h: Harness) -> None:
    version = await h.upload(SHOW, "route")
    session_id = await h.attach(version)
    # object.id is a number in chat_message_sent and a string elsewhere: same meeting
    await h.deliver(chat("Hello everyone", "Jill Chill", 1, event_ts=h.event_ts()))
    await h.settle()
    from facilbot.store import activity

    async with reading(h.db.engine) as connection:
        messages = await activity.chat_for(connection, session_id)
    assert [m.text for m in messages] == ["Hello everyone"]


# -- persist, answer, then process ----------------------------------------------------------


async def test_events_stored_but_not_processed_are_processed_on_the_next_start(
    h: Harness,
) -> None:
    version = await h.upload(SHOW, "route")
    session_id = await h.attach(version)
    ts = h.event_ts()
    bodies = [
        meeting_event("started", uuid="occ-9==", event_ts=ts),
        joined(2, "Grace Hopper", event_ts=ts + 10),
        chat("Hello from Grace", "Grace Hopper", 2, event_ts=ts + 20),
    ]
    events = [e for body in bodies for e in normalise(parse_event(body))]
    # an earlier process persisted them (the ack went out) and died before processing
    assert len(await h.engine.accept(events)) == 3
    assert all(e.processed_at is None for e in await h.stored_events())

    restarted = WebhookIngest(h.engine)
    await restarted.start()
    try:
        await restarted.drain()
    finally:
        await restarted.stop()
    await h.clock.settle()
    assert all(e.processed_at is not None for e in await h.stored_events())
    assert (await controls_of(h, session_id)).count("start") == 1
    async with reading(h.db.engine) as connection:
        people = await store_participants.participants_for(connection, session_id)
    assert [(p.name, p.email) for p in people] == [("Grace Hopper", "grace@example.com")]

    # a second start finds nothing left to do
    again = WebhookIngest(h.engine)
    assert await again.recover() == 0


async def test_the_ack_does_not_wait_for_processing(h: Harness) -> None:
    version = await h.upload(SHOW, "route")
    await h.attach(version)
    # With the worker stopped, the ack must still come back, the event stored, unprocessed.
    await h.ingest.stop()
    ack = await h.deliver(meeting_event("started", uuid="occ-5==", event_ts=h.event_ts()))
    assert ack["new"] == 1
    [stored] = await h.stored_events()
    assert stored.processed_at is None
    await h.ingest.start()  # a start picks up what was stored and not processed
    await h.settle()
    [stored] = await h.stored_events()
    assert stored.processed_at is not None


def test_stored_payload_holds_no_signature_or_raw_body() -> None:
    body = chat("Hello everyone", "Jill Chill", 1, event_ts=1_741_078_800_000)
    from facilbot.store.inbound import decode_event, encode_event

    [event] = normalise(parse_event(body))
    stored = encode_event(event)
    text = json.dumps(stored)
    assert "v0=" not in text and "account_id" not in text and "AAAAAABBBB" not in text
    again = decode_event(
        platform="zoom",
        event_id=event.event_id,
        type=type(event).__name__,
        meeting_ref=event.meeting_ref,
        payload=stored,
    )
    assert again == event
    assert timedelta(0) == again.occurred_at - event.occurred_at
