"""What a session looks like from outside: the live state the API, console and demo show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SegmentView(BaseModel):
    id: str
    kind: str
    title: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    state: str  # done | current | upcoming | skipped
    inserted: bool = False  # a break or filler the live guards or a producer put in


class ItemView(BaseModel):
    key: str
    segment_id: str
    action: str
    what: str  # human text: the prompt, the poll question, "open 4 rooms"…
    due: datetime | None = None
    origin: str = "show"  # show | guard | control
    state: str = "upcoming"  # upcoming | fired | skipped …
    countdown_seconds: float | None = None


class FiringView(BaseModel):
    id: int
    key: str
    action: str
    status: str  # firing | sent | acknowledged | failed | skipped | interrupted
    channel: str | None = None
    outcome: str | None = None
    planned_at: datetime
    sent_at: datetime | None = None
    late_ms: float | None = None
    error: str | None = None
    attempts: list[dict[str, object]] = Field(default_factory=list)


class ProducerCueView(BaseModel):
    firing_id: int
    key: str
    text: str
    paste: str | None = None
    since: datetime | None = None


class ParticipantView(BaseModel):
    id: str
    name: str
    role: str
    present: bool
    room: str | None = None
    department: str | None = None
    committed: bool = False


class CommitmentView(BaseModel):
    participant: str
    text: str
    at: datetime


class PollView(BaseModel):
    key: str
    question: str
    options: list[str]
    counts: dict[str, int]
    answers: int


class SessionState(BaseModel):
    id: str
    status: str  # attached | waiting | running | ended
    paused: bool = False
    show_title: str
    show_version_id: int
    platform: str
    meeting_ref: str
    now: datetime
    owner: str | None = None
    current_segment: SegmentView | None = None
    segment_time_left_seconds: float | None = None
    next_item: ItemView | None = None
    segments: list[SegmentView] = Field(default_factory=list)
    upcoming: list[ItemView] = Field(default_factory=list)
    firings: list[FiringView] = Field(default_factory=list)
    producer_cues: list[ProducerCueView] = Field(default_factory=list)
    participants: list[ParticipantView] = Field(default_factory=list)
    commitments: list[CommitmentView] = Field(default_factory=list)
    not_committed: list[str] = Field(default_factory=list)
    polls: list[PollView] = Field(default_factory=list)
    bridge_connected: bool = False
    version: int = 0
