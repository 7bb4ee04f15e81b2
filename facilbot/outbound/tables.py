"""The outbound webhook tables: endpoints, the outbox, deliveries and their attempts.

An event row (``outbound_events``) is written in the same transaction as the state change
that causes it (:mod:`facilbot.outbound.outbox`). The worker fans each event out into one
delivery per subscribed endpoint, and every attempt at a delivery is claimed as a row of its
own, unique per (delivery, attempt number), like a cue's firing. Migration: ``0007_outbound``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store.models import Base, BigId, table_of
from facilbot.store.types import JSONType

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class OutboundEndpoint(Base):
    __tablename__ = "outbound_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500))
    #: event types this endpoint receives; empty means every type
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    #: the whsec_ secret, Fernet-encrypted with FACILBOT_SECRETS_KEY
    secret: Mapped[str] = mapped_column(Text)
    #: the secret before the last rotation, still signed with until ``previous_until``
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    #: the first failed attempt since the last success (disabled after days of failing)
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]


class OutboundEvent(Base):
    """The outbox: one row per event, written with the change that caused it."""

    __tablename__ = "outbound_events"
    __table_args__ = (Index(None, "dispatched", "id"), Index(None, "session_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the webhook-id, the same on every attempt and replay
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    session_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    #: fanned out into deliveries already
    dispatched: Mapped[bool] = mapped_column(Boolean)


class OutboundDelivery(Base):
    """One event to one endpoint; ``generation`` > 0 for a replay."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", "generation"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "endpoint_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("outbound_endpoints.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbound_events.id"))
    session_id: Mapped[str | None] = mapped_column(String(36))
    generation: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class OutboundAttempt(Base):
    """The delivery log: one row per attempt, inserted as its claim."""

    __tablename__ = "outbound_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outbound_deliveries.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    #: delivered, http_error, timeout, refused, error or interrupted
    outcome: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))
    excerpt: Mapped[str | None] = mapped_column(String(500))


endpoints = table_of(OutboundEndpoint)
events = table_of(OutboundEvent)
deliveries = table_of(OutboundDelivery)
attempts = table_of(OutboundAttempt)
