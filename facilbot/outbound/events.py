"""The event types facilbot sends, named ``noun.verb``, each with a description and an example.

Adding a type is one :func:`register` call; ``docs/webhooks.md`` and ``facilbot webhooks
types`` list what is registered. Later issues register ``report.ready`` and
``followup.answered`` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    example: Mapping[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, EventType] = {}


def register(name: str, description: str, example: Mapping[str, Any]) -> EventType:
    """Declare an event type (``noun.verb``); returns it."""
    noun, dot, verb = name.partition(".")
    if not (noun and dot and verb) or not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"event types are named noun.verb, not {name!r}")
    kind = EventType(name, description, dict(example))
    EVENT_TYPES[name] = kind
    return kind


_SESSION = "3f1c2a4e-8d52-4b8e-9a55-0c1f7f0e2b6d"

register(
    "session.attached",
    "A show was attached to a meeting (by a producer, automation or a binding).",
    {
        "session_id": _SESSION,
        "show_version_id": 12,
        "platform": "zoom",
        "meeting_ref": "85746352411",
        "planned_start": "2026-03-04T09:00:00+00:00",
        "by": "lms-sync",
    },
)
register(
    "session.started",
    "The show started running (its clock began).",
    {"session_id": _SESSION, "at": "2026-03-04T09:00:02+00:00"},
)
register(
    "session.ended",
    "The show ended (its plan ran out, a producer ended it, or the meeting ended).",
    {"session_id": _SESSION, "at": "2026-03-04T10:30:00+00:00"},
)
register(
    "segment.started",
    "A piece of the show began: a segment of the run-of-show, or a break a producer or a guard "
    "inserted. Sent once per start (a segment jumped back to starts again, as `key` `#2`); "
    "a segment that began while no instance ran the session is announced when one takes it "
    "over.",
    {
        "session_id": _SESSION,
        "segment_id": "roleplay",
        "key": "roleplay",
        "kind": "practice",
        "inserted": False,
        "at": "2026-03-04T09:41:00+00:00",
        "ends_at": "2026-03-04T10:11:00+00:00",
    },
)
register(
    "control.applied",
    "A control was applied to the session: start, pause, resume, extend, skip, jump, fire, "
    "break or end.",
    {
        "session_id": _SESSION,
        "seq": 4,
        "kind": "extend",
        "payload": {"seconds": 300},
        "by": "Ana (producer)",
        "at": "2026-03-04T09:41:00+00:00",
    },
)
register(
    "cue.fired",
    "A cue went out: when it was planned, how late it was, the channel that carried it and "
    "the outcome (sent, failed or skipped).",
    {
        "session_id": _SESSION,
        "key": "kickoff.poll-1",
        "action": "poll_open",
        "segment_id": "kickoff",
        "planned_at": "2026-03-04T09:11:00+00:00",
        "sent_at": "2026-03-04T09:11:00.004000+00:00",
        "late_ms": 4,
        "channel": "companion",
        "outcome": "delivered",
        "status": "sent",
    },
)
register(
    "cue.needs_producer",
    "No automatic channel could carry a cue: it fell back to the producer, with the text to use.",
    {
        "session_id": _SESSION,
        "key": "roleplay.breakout_open",
        "action": "breakout_open",
        "text": "Open 4 breakout rooms (3 people each) now.",
        "paste": None,
    },
)
register(
    "guard.break_inserted",
    "A live guard inserted a break (50/10 or 90/20 rule).",
    {"session_id": _SESSION, "key": "guard-break@5400", "at": "2026-03-04T10:20:00+00:00"},
)
register(
    "guard.prompt_inserted",
    "A live guard inserted a filler prompt (the interaction gap was too long).",
    {"session_id": _SESSION, "key": "guard-prompt@1320", "at": "2026-03-04T09:22:00+00:00"},
)
register(
    "poll.closed",
    "A poll closed; its results so far.",
    {
        "session_id": _SESSION,
        "poll_key": "kickoff.poll-1",
        "question": "Which stakeholder resists most?",
        "results": {"CFO": 7, "Plant manager": 3, "Procurement": 2},
        "answers": 12,
    },
)
register(
    "commitment.created",
    "A participant made (or changed) their closing commitment.",
    {
        "session_id": _SESSION,
        "participant_ref": "zoom:16778240",
        "name": "Sam Lee",
        "text": "Book a 30-minute review with my plant manager by Friday.",
        "source": "chat",
        "at": "2026-03-04T10:27:41+00:00",
    },
)
register(
    "endpoint.disabled",
    "An endpoint was disabled: it answered 410 Gone, or failed for days. Sent to the other "
    "endpoints that subscribe to it.",
    {
        "endpoint_id": "ep_2b7c9d",
        "url": "https://lms.example.com/hooks/facilbot",
        "reason": "failing since 2026-03-01T09:00:00+00:00 (5 days)",
    },
)
