"""Zoom webhook verification, parsing and normalisation against recorded payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.contract import (
    ChatCommand,
    ChatMessage,
    MeetingEnded,
    MeetingStarted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    Platform,
    Role,
)
from integrations.zoom.webhook import (
    MalformedEvent,
    WebhookRejected,
    normalise,
    parse_event,
    participant_key,
    url_validation_response,
    verify_request,
)

from .conftest import fixture_bytes, fixture_json

SECRET = b"zoom-secret-token-for-tests"
NOW = 1_700_000_000


def signed(body: bytes, ts: int = NOW, secret: bytes = SECRET) -> dict[str, str]:
    digest = hmac.new(secret, b"v0:%d:" % ts + body, hashlib.sha256).hexdigest()
    return {"x-zm-signature": f"v0={digest}", "x-zm-request-timestamp": str(ts)}


def events_of(body: bytes) -> list[Any]:
    return normalise(parse_event(body))


# -- verification ---------------------------------------------------------------------------


def test_docs_example_message_verifies() -> None:
    # the exact body and timestamp of Zoom's "Verify webhook events" example
    body = (
        b'{"event":"session.started","payload":{"account_id":"{ACCOUNT_ID}","object":'
        b'{"start_time":"2022-07-27T16:56:34Z","id":"{SESSION_ID}"}},"event_ts":1658940994914}'
    )
    verify_request(SECRET, signed(body, ts=1658940994), body, now=1658940994 + 2)


def test_fresh_signed_request_passes_with_any_header_casing() -> None:
    body = fixture_bytes("meeting_started_docs.json")
    headers = {k.upper(): v for k, v in signed(body).items()}
    verify_request(SECRET, headers, body, now=NOW + 299)


def test_signature_covers_the_raw_bytes_not_the_json() -> None:
    body = fixture_bytes("meeting_started_docs.json")
    reserialised = json.dumps(json.loads(body)).encode()
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_request(SECRET, signed(body), reserialised, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.pop("x-zm-signature"), "missing x-zm-signature"),
        (lambda h: h.pop("x-zm-request-timestamp"), "missing x-zm-request-timestamp"),
        (lambda h: h.update({"x-zm-request-timestamp": "17e8"}), "not a Unix time"),
        (lambda h: h.update({"x-zm-request-timestamp": "1700000000000"}), "not a Unix time"),
        (lambda h: h.update({"x-zm-signature": "v1=" + "0" * 64}), "64 hex digits"),
        (lambda h: h.update({"x-zm-signature": "v0=abc"}), "64 hex digits"),
        (lambda h: h.update({"x-zm-signature": "v0=" + "0" * 64}), "does not match"),
    ],
)
def test_unsigned_and_malformed_headers_are_refused(mutate: Any, reason: str) -> None:
    body = fixture_bytes("meeting_started_docs.json")
    headers = signed(body)
    mutate(headers)
    with pytest.raises(WebhookRejected, match=reason):
        verify_request(SECRET, headers, body, now=NOW)


def test_stale_replay_and_future_timestamps_are_refused() -> None:
    body = fixture_bytes("meeting_started_docs.json")
    headers = signed(body)
    with pytest.raises(WebhookRejected, match="stale request: timestamp is 301 s old"):
        verify_request(SECRET, headers, body, now=NOW + 301)
    with pytest.raises(WebhookRejected, match="in the future"):
        verify_request(SECRET, headers, body, now=NOW - 301)
    # the same captured request replayed an hour later, even with its valid signature
    with pytest.raises(WebhookRejected, match="stale"):
        verify_request(SECRET, headers, body, now=NOW + 3600)


def test_forged_with_another_secret_or_tampered_body_is_refused() -> None:
    body = fixture_bytes("meeting_started_docs.json")
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_request(SECRET, signed(body, secret=b"attacker"), body, now=NOW)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_request(SECRET, signed(body), body.replace(b"My Meeting", b"Evil"), now=NOW)


def test_no_secret_configured_refuses_everything() -> None:
    body = b"{}"
    with pytest.raises(WebhookRejected, match="no webhook secret"):
        verify_request(b"", signed(body, secret=b""), body, now=NOW)


def test_url_validation_answer_from_the_docs_request() -> None:
    body = fixture_bytes("url_validation_docs.json")
    envelope = parse_event(body)
    assert envelope.event == "endpoint.url_validation"
    answer = url_validation_response(SECRET, envelope.plain_token)
    expected = hmac.new(SECRET, b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert normalise(envelope) == []


def test_url_validation_without_a_token_is_malformed() -> None:
    envelope = parse_event(b'{"event":"endpoint.url_validation","event_ts":1,"payload":{}}')
    with pytest.raises(MalformedEvent, match="plainToken"):
        _ = envelope.plain_token


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON \\(line 1 column 2\\)"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "not a JSON object"),
        (b'{"event": 3, "event_ts": 1, "payload": {}}', "'event' is missing"),
        (b'{"event": "meeting.started", "payload": {}}', "'event_ts' is missing"),
        (b'{"event": "meeting.started", "event_ts": true, "payload": {}}', "'event_ts'"),
        (b'{"event": "meeting.started", "event_ts": "1", "payload": {}}', "'event_ts'"),
        (b'{"event": "meeting.started", "event_ts": 1, "payload": []}', "'payload'"),
    ],
)
def test_malformed_bodies_get_a_precise_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event":"meeting.started","event_ts":1,"payload":{}}', "payload.object"),
        (b'{"event":"meeting.started","event_ts":1,"payload":{"object":{}}}', "object.id"),
        (
            b'{"event":"meeting.participant_joined","event_ts":1,"payload":{"object":{"id":"1"}}}',
            "participant is missing",
        ),
        (
            b'{"event":"meeting.participant_left","event_ts":1,"payload":{"object":'
            b'{"id":"1","participant":{}}}}',
            "no participant_uuid",
        ),
        (
            b'{"event":"meeting.chat_message_sent","event_ts":1,"payload":{"object":{"id":1}}}',
            "chat_message is missing",
        ),
        (
            b'{"event":"meeting.participant_joined_breakout_room","event_ts":1,"payload":'
            b'{"object":{"id":"1","participant":{"participant_uuid":"p"}}}}',
            "breakout_room_uuid",
        ),
    ],
)
def test_known_events_with_missing_fields_are_malformed_not_keyerrors(
    body: bytes, reason: str
) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        events_of(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.sampled_from(
        [
            "meeting.started",
            "meeting.participant_joined",
            "meeting.participant_left_breakout_room",
            "meeting.chat_message_sent",
            "recording.completed",
        ]
    ),
    payload=json_values,
)
def test_any_shape_yields_events_or_a_rejection_never_a_crash(event: str, payload: Any) -> None:
    body = json.dumps({"event": event, "event_ts": 1, "payload": {"object": payload}}).encode()
    try:
        events_of(body)
    except WebhookRejected:
        pass


# -- normalising recorded payloads ----------------------------------------------------------

TS_2021 = datetime(2021, 7, 14, 2, 44, 51, 572000, tzinfo=UTC)


def test_meeting_started_from_the_docs() -> None:
    [event] = events_of(fixture_bytes("meeting_started_docs.json"))
    assert isinstance(event, MeetingStarted)
    assert (event.platform, event.meeting_ref) == (Platform.zoom, "1234567890")
    assert event.occurred_at == datetime.fromtimestamp(1626230691.572, tz=UTC)


def test_meeting_ended_from_the_docs() -> None:
    [event] = events_of(fixture_bytes("meeting_ended_docs.json"))
    assert isinstance(event, MeetingEnded)
    assert event.meeting_ref == "1234567890"


def test_participant_joined_from_the_docs_uses_participant_uuid() -> None:
    [event] = events_of(fixture_bytes("participant_joined_docs.json"))
    assert isinstance(event, ParticipantJoined)
    assert event.participant.id == "55555AAAiAAAAAiAiAiiAii"
    assert event.participant.name == "Jill Chill"
    assert event.participant.email == "jchill@example.com"
    assert event.participant.role is Role.attendee
    assert event.room is None


def test_older_payload_without_participant_uuid_falls_back_to_the_user_id() -> None:
    body = fixture_json("participant_joined_legacy.json")
    body["event_ts"] = 1563297193000  # the recorded sample omits it; Zoom always sends it
    [event] = events_of(json.dumps(body).encode())
    assert isinstance(event, ParticipantJoined)
    assert event.meeting_ref == "156"
    assert event.participant.id == "iFxeBPYun6SAiWUzBcEkX"
    assert event.participant.email is None


def test_participant_with_only_name_and_join_time_gets_a_stable_digest() -> None:
    one = participant_key({"user_name": "Ben Guest", "join_time": "2026-05-04T09:01:00Z"})
    again = participant_key({"user_name": "Ben Guest", "join_time": "2026-05-04T09:01:00Z"})
    other = participant_key({"user_name": "Ben Guest", "join_time": "2026-05-04T09:07:00Z"})
    assert one == again != other
    assert one.startswith("anon-")
    assert participant_key({"participant_uuid": "", "id": "", "user_id": 16778240}) == "16778240"


def test_captured_instant_meeting_host_detection_and_ended_before_left() -> None:
    stream = fixture_json("captured_instant_meeting_2022.json")
    produced = [events_of(json.dumps(item).encode()) for item in stream]
    started, joined, ended, left = (events[0] for events in produced)
    assert isinstance(started, MeetingStarted) and started.meeting_ref == "86431910364"
    assert isinstance(joined, ParticipantJoined)
    assert joined.participant.role is Role.host  # participant id == host_id
    assert joined.participant.id == "tUo7WohjTs6ELvl9WR3JAA"
    assert isinstance(ended, MeetingEnded)
    # Zoom delivered meeting.ended before the last participant_left: still normalised,
    # with the real times, so the engine can order them
    assert isinstance(left, ParticipantLeft)
    assert left.participant_id == joined.participant.id
    assert left.occurred_at > ended.occurred_at
    assert len({e.event_id for e in (started, joined, ended, left)}) == 4


def test_breakout_room_variants_become_room_moves() -> None:
    [into] = events_of(fixture_bytes("participant_joined_breakout_room_docs.json"))
    [back] = events_of(fixture_bytes("participant_left_breakout_room_docs.json"))
    assert isinstance(into, ParticipantMovedToRoom) and isinstance(back, ParticipantMovedToRoom)
    assert into.participant_id == back.participant_id == "55555AAAiAAAAAiAiAiiAii"
    assert into.room == "FkQbpP2UR028mDrwzEahqw=="
    assert back.room is None
    assert into.event_id != back.event_id


def _chat(text: str, message_id: str = "m-1") -> bytes:
    body = fixture_json("chat_message_sent_schema.json")
    body["payload"]["object"]["chat_message"]["message_content"] = text
    body["payload"]["object"]["chat_message"]["message_id"] = message_id
    return json.dumps(body).encode()


def test_chat_message_with_numeric_object_id() -> None:
    [event] = events_of(fixture_bytes("chat_message_sent_schema.json"))
    assert isinstance(event, ChatMessage)
    assert event.meeting_ref == "1234567890"  # object.id is a number in this event
    assert event.text == "Hello everyone"
    assert event.sender_id == "55555AAAiAAAAAiAiAiiAii"
    assert (event.sender_name, event.sender_email) == ("Jill Chill", "jchill@example.com")


def test_chat_commands_are_recognised() -> None:
    [command] = events_of(_chat("/fb extend 5"))
    assert isinstance(command, ChatCommand)
    assert (command.verb, command.args) == ("extend", ("5",))
    [bare] = events_of(_chat("  /FB  "))
    assert isinstance(bare, ChatCommand) and bare.verb == "help"
    [not_a_command] = events_of(_chat("/fbx hello"))
    assert isinstance(not_a_command, ChatMessage)


def test_event_ids_are_stable_across_redelivery_and_distinct_between_messages() -> None:
    first = events_of(_chat("one", "m-1"))[0].event_id
    assert events_of(_chat("one", "m-1"))[0].event_id == first
    assert events_of(_chat("two", "m-2"))[0].event_id != first


def test_unknown_events_are_ignored() -> None:
    body = b'{"event":"recording.completed","event_ts":1,"payload":{"object":{"id":1}}}'
    assert events_of(body) == []
