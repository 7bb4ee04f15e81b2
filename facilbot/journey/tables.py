"""The journey's tables, on the shared metadata.

Every personal row hangs off its session (``ON DELETE CASCADE``), so pruning a session's
personal data (the retention issue) prunes these too. Unsubscribes are the exception: they
must outlive the session they came from, so they keep only a keyed hash of the address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store.models import Base, BigId, table_of
from facilbot.store.types import JSONType

FOLLOWUP_KINDS = ("reminder", "check_in")
FOLLOWUP_STATUSES = ("scheduled", "sending", "sent", "failed", "interrupted", "cancelled")
CHECK_IN_ANSWERS = ("done", "partly", "not_yet")
ANSWER_KINDS = ("baseline", "late")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class JourneyPerson(Base):
    """What a person told facilbot about reaching them: an address given on the companion
    page (a platform's address stays on ``participants.email``), consent, a time zone."""

    __tablename__ = "journey_people"
    __table_args__ = (UniqueConstraint("session_id", "participant_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    consent_at: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class PreworkMark(Base):
    """A person marked a pre-work item done (``item`` is its index in ``prework:``)."""

    __tablename__ = "journey_prework"
    __table_args__ = (UniqueConstraint("session_id", "participant_ref", "item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str] = mapped_column(String(200))
    item: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class FollowUpMessage(Base):
    """One follow-up mail to one person. The row is the schedule and the claim: a sender
    moves it from ``scheduled`` to ``sending`` in one conditional UPDATE before it sends,
    so it goes out at most once; a row left in ``sending`` is reported as ``interrupted``."""

    __tablename__ = "journey_followups"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_ref", "key"),
        CheckConstraint(_one_of("kind", FOLLOWUP_KINDS), name="kind"),
        CheckConstraint(_one_of("status", FOLLOWUP_STATUSES), name="status"),
        Index(None, "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    #: ``reminder`` or ``check_in:<seconds>`` (one row per offset)
    key: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(300))
    answer: Mapped[str | None] = mapped_column(String(16))
    answer_note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class Unsubscribe(Base):
    """No more mail about this show's sessions to this address (a keyed hash of it)."""

    __tablename__ = "journey_unsubscribes"
    __table_args__ = (UniqueConstraint("show_name", "address_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    show_name: Mapped[str] = mapped_column(String(200))
    address_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class JourneyAnswer(Base):
    """An answer given outside the live hour, kept apart from ``poll_answers`` so the live
    figures stay live: a pre-work baseline question (``baseline``, poll key ``prework:<i>``)
    or a poll of the session answered during the recap (``late``: asynchronous)."""

    __tablename__ = "journey_answers"
    __table_args__ = (
        UniqueConstraint("session_id", "poll_key", "participant_ref"),
        CheckConstraint(_one_of("kind", ANSWER_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    poll_key: Mapped[str] = mapped_column(String(200))
    participant_ref: Mapped[str] = mapped_column(String(200))
    answer: Mapped[list[str]] = mapped_column(JSONType)
    at: Mapped[datetime]


class RecapLinks(Base):
    """The recording and transcript the producer shares in the recap (one row a session)."""

    __tablename__ = "journey_recap_links"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    recording_url: Mapped[str | None] = mapped_column(String(2000))
    transcript_url: Mapped[str | None] = mapped_column(String(2000))
    updated_at: Mapped[datetime]


people = table_of(JourneyPerson)
prework_marks = table_of(PreworkMark)
followups = table_of(FollowUpMessage)
unsubscribes = table_of(Unsubscribe)
answers = table_of(JourneyAnswer)
recap_links = table_of(RecapLinks)
