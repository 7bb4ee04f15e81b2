"""Zoom webhooks in: verify the signature, parse the envelope, normalise into the contract.

Zoom signs every request (``x-zm-signature: v0=<hex HMAC-SHA256(secret,
"v0:{x-zm-request-timestamp}:{raw body}")>``, the timestamp in seconds) and checks the endpoint
with ``endpoint.url_validation`` (answer ``{plainToken, encryptedToken}``). Zoom retries a failed
delivery 5, 20 and 60 minutes later with the same body, so ``event_id`` is a digest of the body's
identifying fields, never of the delivery. See ``NOTES.md`` for the sources.

The service's order is: :func:`verify_request` on the raw bytes, then :func:`parse_event`, then
either :func:`url_validation_response` or persist and :func:`normalise`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.contract import (
    ChatCommand,
    ChatMessage,
    InboundEvent,
    MeetingEnded,
    MeetingStarted,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    Platform,
    Role,
    parse_command,
)

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
URL_VALIDATION = "endpoint.url_validation"
DEFAULT_WINDOW = 300  # seconds either side of our clock

_SIGNATURE = re.compile(r"v0=([0-9a-f]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WebhookRejected(Exception):
    """The request is not a genuine, fresh Zoom webhook. ``reason`` is safe to return in a 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedEvent(WebhookRejected):
    """The request is signed but its body is not a Zoom event we can read (answer 400)."""


# ---------------------------------------------------------------------------------------------
# Verification


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():  # a plain dict may keep Zoom's own casing
        if key.lower() == name:
            return candidate
    return None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``x-zm-signature`` value Zoom sends for ``body`` at ``timestamp``."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_request(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window: int = DEFAULT_WINDOW,
) -> None:
    """Raise :class:`WebhookRejected` unless the request is signed by Zoom within ``window``."""
    if not secret:
        raise WebhookRejected("no webhook secret token is configured")
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if signature is None:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
    if timestamp is None:
        raise WebhookRejected(f"missing {TIMESTAMP_HEADER} header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRejected(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    given = _SIGNATURE.fullmatch(signature.strip().lower())
    if given is None:
        raise WebhookRejected(f"{SIGNATURE_HEADER} is not 'v0=' and 64 hex digits")
    age = now - int(timestamp)
    if age > window:
        raise WebhookRejected(f"stale request: timestamp is {int(age)} s old (limit {window} s)")
    if -age > window:
        raise WebhookRejected(f"timestamp is {int(-age)} s in the future (limit {window} s)")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), ("v0=" + given[1]).encode("ascii")):
        raise WebhookRejected("signature does not match")


def url_validation_response(secret: bytes, plain_token: str) -> dict[str, str]:
    """The body answering ``endpoint.url_validation``."""
    encrypted = hmac.new(secret, plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class ZoomEnvelope:
    """One Zoom event: ``{"event", "event_ts" (ms), "payload"}``."""

    event: str
    event_ts: int
    payload: Mapping[str, Any]

    @property
    def object(self) -> Mapping[str, Any]:
        obj = self.payload.get("object")
        if not isinstance(obj, Mapping):
            raise MalformedEvent(f"{self.event}: payload.object is missing or not an object")
        return obj

    @property
    def plain_token(self) -> str:
        """``payload.plainToken`` of an ``endpoint.url_validation`` request."""
        token = self.payload.get("plainToken")
        if not isinstance(token, str) or not token:
            raise MalformedEvent(f"{self.event}: payload.plainToken is missing or not a string")
        return token

    @property
    def meeting_uuid(self) -> str | None:
        """The meeting instance's UUID (past-meeting endpoints want it), when present."""
        uuid = self.object.get("uuid")
        return uuid if isinstance(uuid, str) and uuid else None

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.event_ts / 1000, tz=UTC)


def parse_event(body: bytes) -> ZoomEnvelope:
    """Read a verified body; anything unexpected raises :class:`MalformedEvent`, never KeyError."""
    try:
        text = body.decode("utf-8")  # json.loads(bytes) would guess UTF-16/32 too
    except UnicodeDecodeError:
        raise MalformedEvent("body is not UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise MalformedEvent(f"body is not JSON ({where})") from None
    if not isinstance(data, dict):
        raise MalformedEvent("body is not a JSON object")
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedEvent("'event' is missing or not a string")
    event_ts = data.get("event_ts")
    if isinstance(event_ts, bool) or not isinstance(event_ts, int) or event_ts < 0:
        raise MalformedEvent(f"{event}: 'event_ts' is missing or not a millisecond timestamp")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise MalformedEvent(f"{event}: 'payload' is missing or not an object")
    return ZoomEnvelope(event=event, event_ts=event_ts, payload=payload)


# ---------------------------------------------------------------------------------------------
# Normalising


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _meeting_ref(envelope: ZoomEnvelope) -> str:
    # object.id is a number in some events (chat_message_sent) and a string in others
    ref = _text(envelope.object, "id")
    if ref is None:
        raise MalformedEvent(f"{envelope.event}: payload.object.id is missing")
    return ref


def _participant_block(envelope: ZoomEnvelope) -> Mapping[str, Any]:
    block = envelope.object.get("participant")
    if not isinstance(block, Mapping):
        raise MalformedEvent(f"{envelope.event}: payload.object.participant is missing")
    return block


def participant_key(block: Mapping[str, Any]) -> str:
    """A stable id for a participant in one meeting.

    ``participant_uuid`` when present; older payloads lack it, so then the Zoom user ``id``
    (signed-in users), then the per-session ``user_id``, then a digest of name and join time.
    """
    for key in ("participant_uuid", "id", "user_id"):
        value = _text(block, key)
        if value is not None:
            return value
    name = _text(block, "user_name") or ""
    joined = _text(block, "join_time") or ""
    if not name and not joined:
        raise MalformedEvent("participant has no participant_uuid, id, user_id or name")
    digest = hashlib.sha256(f"{name}\x00{joined}".encode()).hexdigest()[:24]
    return f"anon-{digest}"


def _event_id(envelope: ZoomEnvelope, *parts: str) -> str:
    material = "\x1f".join((envelope.event, str(envelope.event_ts), *parts))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _role(envelope: ZoomEnvelope, block: Mapping[str, Any]) -> Role:
    host_id = _text(envelope.object, "host_id")
    if host_id is None:
        return Role.attendee
    for key in ("id", "participant_user_id"):
        if _text(block, key) == host_id:
            return Role.host
    return Role.attendee


def _joined(envelope: ZoomEnvelope) -> list[InboundEvent]:
    block = _participant_block(envelope)
    pid = participant_key(block)
    ref = _meeting_ref(envelope)
    participant = Participant(
        id=pid,
        name=_text(block, "user_name") or "",
        email=_text(block, "email"),
        role=_role(envelope, block),
    )
    return [
        ParticipantJoined(
            platform=Platform.zoom,
            meeting_ref=ref,
            event_id=_event_id(envelope, ref, pid),
            occurred_at=envelope.occurred_at,
            participant=participant,
        )
    ]


def _left(envelope: ZoomEnvelope) -> list[InboundEvent]:
    block = _participant_block(envelope)
    pid = participant_key(block)
    ref = _meeting_ref(envelope)
    return [
        ParticipantLeft(
            platform=Platform.zoom,
            meeting_ref=ref,
            event_id=_event_id(envelope, ref, pid),
            occurred_at=envelope.occurred_at,
            participant_id=pid,
        )
    ]


def _moved(envelope: ZoomEnvelope, into_room: bool) -> list[InboundEvent]:
    block = _participant_block(envelope)
    pid = participant_key(block)
    ref = _meeting_ref(envelope)
    # Zoom names the room only by breakout_room_uuid; names live in the client (bridge)
    room = _text(envelope.object, "breakout_room_uuid")
    if into_room and room is None:
        raise MalformedEvent(f"{envelope.event}: payload.object.breakout_room_uuid is missing")
    return [
        ParticipantMovedToRoom(
            platform=Platform.zoom,
            meeting_ref=ref,
            event_id=_event_id(envelope, ref, pid, room or ""),
            occurred_at=envelope.occurred_at,
            participant_id=pid,
            room=room if into_room else None,
        )
    ]


def _meeting(envelope: ZoomEnvelope, started: bool) -> list[InboundEvent]:
    ref = _meeting_ref(envelope)
    cls = MeetingStarted if started else MeetingEnded
    return [
        cls(
            platform=Platform.zoom,
            meeting_ref=ref,
            event_id=_event_id(envelope, ref, envelope.meeting_uuid or ""),
            occurred_at=envelope.occurred_at,
        )
    ]


def _chat(envelope: ZoomEnvelope) -> list[InboundEvent]:
    ref = _meeting_ref(envelope)
    message = envelope.object.get("chat_message")
    if not isinstance(message, Mapping):
        raise MalformedEvent(f"{envelope.event}: payload.object.chat_message is missing")
    text = message.get("message_content")
    if not isinstance(text, str):
        raise MalformedEvent(f"{envelope.event}: chat_message.message_content is missing")
    sender = _text(message, "sender_session_id")
    if sender is None:
        raise MalformedEvent(f"{envelope.event}: chat_message.sender_session_id is missing")
    message_id = _text(message, "message_id") or ""
    common: dict[str, Any] = {
        "platform": Platform.zoom,
        "meeting_ref": ref,
        "event_id": _event_id(envelope, ref, sender, message_id),
        "occurred_at": envelope.occurred_at,
        "sender_id": sender,
        "sender_name": _text(message, "sender_name") or "",
        "sender_email": _text(message, "sender_email"),
    }
    command = parse_command(text)
    if command is not None:
        verb, args = command
        return [ChatCommand(verb=verb, args=args, **common)]
    return [ChatMessage(text=text, **common)]


_HANDLERS: dict[str, Callable[[ZoomEnvelope], list[InboundEvent]]] = {
    "meeting.started": lambda e: _meeting(e, started=True),
    "meeting.ended": lambda e: _meeting(e, started=False),
    "meeting.participant_joined": _joined,
    "meeting.participant_left": _left,
    "meeting.participant_joined_breakout_room": lambda e: _moved(e, into_room=True),
    "meeting.participant_left_breakout_room": lambda e: _moved(e, into_room=False),
    "meeting.chat_message_sent": _chat,
}

#: events :func:`normalise` turns into contract events; others are stored and ignored
HANDLED_EVENTS = frozenset(_HANDLERS)


def normalise(envelope: ZoomEnvelope) -> list[InboundEvent]:
    """Contract events for one Zoom event; ``[]`` for events we do not use."""
    handler = _HANDLERS.get(envelope.event)
    return handler(envelope) if handler is not None else []
