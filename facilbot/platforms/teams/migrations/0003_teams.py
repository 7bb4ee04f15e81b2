"""teams: meeting chats (service URL, Graph subscription), attendance reconciliation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "teams_conversations",
        sa.Column("meeting_ref", sa.String(length=200), nullable=False),
        sa.Column("service_url", sa.String(length=500), nullable=True),
        sa.Column("teams_meeting_id", sa.String(length=500), nullable=True),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("organizer_id", sa.String(length=100), nullable=True),
        sa.Column("online_meeting_id", sa.String(length=500), nullable=True),
        sa.Column("app_installed", sa.Boolean(), nullable=False),
        sa.Column("subscription_id", sa.String(length=200), nullable=True),
        sa.Column("subscription_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meeting_ref", name=op.f("pk_teams_conversations")),
    )
    op.create_index(
        op.f("ix_teams_conversations_subscription_id"),
        "teams_conversations",
        ["subscription_id"],
    )
    op.create_table(
        "teams_attendance",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("role", sa.String(length=50), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_teams_attendance_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams_attendance")),
    )
    op.create_index(op.f("ix_teams_attendance_session_id"), "teams_attendance", ["session_id"])
    op.create_table(
        "teams_attendance_runs",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_teams_attendance_runs_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_teams_attendance_runs")),
    )


def downgrade() -> None:
    op.drop_table("teams_attendance_runs")
    op.drop_index(op.f("ix_teams_attendance_session_id"), table_name="teams_attendance")
    op.drop_table("teams_attendance")
    op.drop_index(op.f("ix_teams_conversations_subscription_id"), table_name="teams_conversations")
    op.drop_table("teams_conversations")
