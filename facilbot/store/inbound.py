"""How a normalised inbound event is kept in ``platform_events.payload`` and read back.

Webhooks are acknowledged once the event is persisted and processed afterwards; an event
persisted but not processed when the process stopped is processed on the next start. For that
the stored row must hold the whole normalised event (never the platform's raw body, its
signature or any token): ``encode_event`` gives that, ``decode_event`` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from enum import Enum
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
    PollAnswer,
    Role,
)

FORMAT = 1
_TYPES: dict[str, type[InboundEvent]] = {
    cls.__name__: cls
    for cls in (
        MeetingStarted,
        MeetingEnded,
        ParticipantJoined,
        ParticipantLeft,
        ParticipantMovedToRoom,
        ChatMessage,
        ChatCommand,
        PollAnswer,
    )
}
# Kept in their own columns.
_COLUMNS = frozenset({"platform", "meeting_ref", "event_id", "occurred_at"})


class UndecodableEvent(ValueError):
    """The stored payload does not describe a whole event (written by an older version)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Participant):
        return {
            "id": value.id,
            "name": value.name,
            "email": value.email,
            "role": value.role.value,
            "attributes": dict(value.attributes),
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def encode_event(event: InboundEvent) -> dict[str, Any]:
    """The event as JSON-ready data for ``platform_events.payload``."""
    data = {f.name: _plain(getattr(event, f.name)) for f in fields(event) if f.name not in _COLUMNS}
    return {"format": FORMAT, "occurred_at": event.occurred_at.isoformat(), "event": data}


def decode_event(
    *, platform: str, event_id: str, type: str, meeting_ref: str | None, payload: Mapping[str, Any]
) -> InboundEvent:
    """Rebuild the event stored by :func:`encode_event`; :class:`UndecodableEvent` otherwise."""
    cls = _TYPES.get(type)
    data = payload.get("event")
    if cls is None or payload.get("format") != FORMAT or not isinstance(data, Mapping):
        raise UndecodableEvent(f"stored event {platform}/{event_id} ({type}) cannot be rebuilt")
    try:
        values: dict[str, Any] = dict(data)
        if "participant" in values:
            person = dict(values["participant"])
            person["role"] = Role(person.get("role", "attendee"))
            person["attributes"] = dict(person.get("attributes") or {})
            values["participant"] = Participant(**person)
        for name in ("args", "choices"):
            if name in values:
                values[name] = tuple(str(v) for v in values[name])
        if values.get("sender_role") is not None:
            values["sender_role"] = Role(values["sender_role"])
        return cls(
            platform=Platform(platform),
            meeting_ref=meeting_ref or "",
            event_id=event_id,
            occurred_at=datetime.fromisoformat(str(payload["occurred_at"])),
            **values,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UndecodableEvent(
            f"stored event {platform}/{event_id} ({type}) cannot be rebuilt: {_type_name(error)}"
        ) from None


def _type_name(error: BaseException) -> str:
    return type(error).__name__
