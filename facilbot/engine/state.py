"""What a session looks like from outside: the live state the API, console and demo show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NotesView(BaseModel):
    """The run-of-show's producer notes for a segment (a plain string is ``watch_for``)."""

    watch_for: str | None = None
    keep_same: str | None = None
    flex: str | None = None


class SegmentView(BaseModel):
    id: str
    kind: str
    title: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    state: str  # done | current | upcoming | skipped
    inserted: bool = False  # a break or filler the live guards or a producer put in
    producer_notes: NotesView | None = None
    facilitator_notes: str | None = None


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


class NoticeView(BaseModel):
    """A chat command the session refused or answered (shown on the console)."""

    at: datetime
    sender: str
    command: str
    reply: str
    refused: bool
    replied_via: str | None = None  # the channel that posted the reply in the meeting chat


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


class ReplanOptionView(BaseModel):
    option: int  # what to send as {"kind": "replan", "option": N}
    label: str  # "shrink debrief 25m → 20m: ends on time"
    end: datetime
    late_by_seconds: int
    changes: dict[str, int]  # segment id -> its new length in seconds (0: dropped)


class ReplanView(BaseModel):
    """How the session can still land on its planned end (runofshow.replan)."""

    planned_end: datetime
    end: datetime  # as things stand, without a re-plan
    late_by_seconds: int
    reasons: list[str]
    options: list[ReplanOptionView]  # the first is the recommended one
    auto: bool  # "always accept for this session" is on


class TimingView(BaseModel):
    """How late the session ends (or will end) against the plan, and why."""

    planned_end: datetime
    end: datetime
    late_by_seconds: int  # negative: early
    reasons: list[str]
    summary: str  # "5m late: extended roleplay by 5m" | "on time"


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
    notices: list[NoticeView] = Field(default_factory=list)
    bridge_connected: bool = False
    version: int = 0
    timing: TimingView | None = None
    replan: ReplanView | None = None
