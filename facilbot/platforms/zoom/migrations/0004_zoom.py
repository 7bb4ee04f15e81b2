"""zoom: meeting occurrences (UUIDs), prepare reports, post-meeting poll results and attendance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"],
        ["sessions.id"],
        name=op.f(f"fk_{table}_session_id_sessions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "zoom_meeting_instances",
        sa.Column("uuid", sa.String(length=200), nullable=False),
        sa.Column("meeting_ref", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_zoom_meeting_instances")),
    )
    op.create_index(
        op.f("ix_zoom_meeting_instances_meeting_ref"), "zoom_meeting_instances", ["meeting_ref"]
    )
    op.create_table(
        "zoom_session_reports",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("meeting_uuid", sa.String(length=200), nullable=True),
        sa.Column("prepare_status", sa.String(length=16), nullable=False),
        sa.Column("prepare_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prepare_attempts", sa.Integer(), nullable=False),
        sa.Column("prepare_next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("polls", JSON, nullable=False),
        sa.Column("breakouts_assigned", sa.Boolean(), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("results_attempts", sa.Integer(), nullable=False),
        sa.Column("results_next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_error", sa.String(length=300), nullable=True),
        _session_fk("zoom_session_reports"),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_zoom_session_reports")),
    )
    op.create_table(
        "zoom_poll_results",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("poll_key", sa.String(length=200), nullable=True),
        sa.Column("zoom_poll_id", sa.String(length=100), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("participant_ref", sa.String(length=200), nullable=True),
        sa.Column("answer", JSON, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stored", sa.Boolean(), nullable=False),
        _session_fk("zoom_poll_results"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_poll_results")),
    )
    op.create_index(op.f("ix_zoom_poll_results_session_id"), "zoom_poll_results", ["session_id"])
    op.create_table(
        "zoom_attendance",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("report_seconds", sa.Integer(), nullable=True),
        sa.Column("seen_seconds", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        _session_fk("zoom_attendance"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_attendance")),
    )
    op.create_index(op.f("ix_zoom_attendance_session_id"), "zoom_attendance", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_zoom_attendance_session_id"), table_name="zoom_attendance")
    op.drop_table("zoom_attendance")
    op.drop_index(op.f("ix_zoom_poll_results_session_id"), table_name="zoom_poll_results")
    op.drop_table("zoom_poll_results")
    op.drop_table("zoom_session_reports")
    op.drop_index(
        op.f("ix_zoom_meeting_instances_meeting_ref"), table_name="zoom_meeting_instances"
    )
    op.drop_table("zoom_meeting_instances")
