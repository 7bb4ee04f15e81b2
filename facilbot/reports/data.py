"""The recorded rows a session report is computed from, bundled (no I/O here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from facilbot.store.activity import ChatRecord, CommitmentRecord, PollAnswerRecord
from facilbot.store.controls import ControlRecord
from facilbot.store.firings import FiringRecord
from facilbot.store.participants import ParticipantRecord, PresenceRecord
from facilbot.store.sessions import SessionRecord
from runofshow.model import Show


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """A debrief note: what slowed learners down, what needed clarifying, what was fixed."""

    id: int
    session_id: str
    segment_id: str | None
    text: str
    author: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionData:
    session: SessionRecord
    show: Show
    show_name: str
    show_version: int
    controls: Sequence[ControlRecord]
    firings: Sequence[FiringRecord]
    participants: Sequence[ParticipantRecord]
    presence: Sequence[PresenceRecord]
    chat: Sequence[ChatRecord]
    answers: Sequence[PollAnswerRecord]
    commitments: Sequence[CommitmentRecord]
    notes: Sequence[NoteRecord] = ()
    #: when the report is computed (a running session is reported up to now, as partial)
    now: datetime | None = None
    #: stored aggregate figures of a pruned session (personal rows gone), else None
    aggregates: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: Extension point for the journey (pre-work, follow-ups, check-ins; issue 10): given the
#: session's data and the participant refs, a provider returns per-person sections that the
#: report puts under each participant's ``journey`` key.
JourneyProvider = Callable[[SessionData, Sequence[str]], Mapping[str, Mapping[str, Any]]]
