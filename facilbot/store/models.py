"""The tables. Every timestamp is UTC with a timezone; JSON columns work on both databases.

The repository modules in this package use these tables through SQLAlchemy Core: the hot
paths (claiming a cue, renewing a lease) are single statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from facilbot.store.types import JSONType, UTCDateTime

# Named constraints let Alembic drop and alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite needs plain INTEGER for its rowid primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")

SESSION_STATUSES = ("attached", "waiting", "running", "ended")
FIRING_STATUSES = ("firing", "sent", "acknowledged", "failed", "skipped", "interrupted")
COMMITMENT_SOURCES = ("chat", "form")
TOKEN_ROLES = ("producer", "facilitator", "viewer")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class ShowVersion(Base):
    """Each uploaded text of a show is kept; the same text uploaded twice is one version."""

    __tablename__ = "show_versions"
    __table_args__ = (
        UniqueConstraint("name", "sha256"),
        UniqueConstraint("name", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    yaml_text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(500))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str | None] = mapped_column(String(200))


class Session(Base):
    """A show attached to one meeting. ``owner``/``lease_until`` say which instance runs it."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(_one_of("status", SESSION_STATUSES), name="status"),
        Index(None, "platform", "meeting_ref"),
        Index(None, "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    show_version_id: Mapped[int] = mapped_column(ForeignKey("show_versions.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    meeting_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default="attached")
    planned_start: Mapped[datetime | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    # Bumped with every control so that instances can notice changes cheaply.
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    producers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    recurring_ref: Mapped[str | None] = mapped_column(String(200))


class Instance(Base):
    """A running engine instance on PostgreSQL, renewed by its heartbeat (``store.leases``):
    the live ones are those whose ``lease_until`` (database clock) has not passed. Adoption
    divides the unfinished sessions by their number. Unused on SQLite (one instance)."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lease_until: Mapped[datetime]
    started_at: Mapped[datetime]


class Control(Base):
    """One entry of a session's control log: the session's state is this log."""

    __tablename__ = "controls"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Firing(Base):
    """A cue claimed for sending; the unique (session, key) makes firing exactly-once."""

    __tablename__ = "firings"
    __table_args__ = (
        UniqueConstraint("session_id", "key"),
        CheckConstraint(_one_of("status", FIRING_STATUSES), name="status"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    planned_at: Mapped[datetime]
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str] = mapped_column(String(200))
    #: who pressed "done" on a producer cue (or "bridge"), and when, for the report
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("session_id", "participant_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    attributes: Mapped[dict[str, Any]]
    first_seen_at: Mapped[datetime]


class Presence(Base):
    """One interval of a participant in the meeting (``room`` set while in a breakout room)."""

    __tablename__ = "presence"
    __table_args__ = (Index(None, "participant_id", "left_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    room: Mapped[str | None] = mapped_column(String(200))


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "platform_message_id"),
        Index(None, "session_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str | None] = mapped_column(String(200))
    sender_name: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    platform_message_id: Mapped[str | None] = mapped_column(String(200))


class PollAnswer(Base):
    __tablename__ = "poll_answers"
    __table_args__ = (UniqueConstraint("session_id", "poll_key", "participant_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    poll_key: Mapped[str] = mapped_column(String(200))
    participant_ref: Mapped[str] = mapped_column(String(200))
    answer: Mapped[list[str]] = mapped_column(JSONType)
    at: Mapped[datetime]


class Commitment(Base):
    """A participant's closing commitment; the latest one written wins."""

    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_ref"),
        CheckConstraint(_one_of("source", COMMITMENT_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_ref: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(10))


class PlatformEvent(Base):
    """A received webhook/activity, kept for de-duplication and processed after the ack."""

    __tablename__ = "platform_events"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index(None, "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(100))
    meeting_ref: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]]


class ApiToken(Base):
    """An API bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("role", TOKEN_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


def table_of(model: type[Base]) -> Table:
    """The model's Core table, typed as such (repository code uses Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
