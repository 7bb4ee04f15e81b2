"""journey recap: answers outside the live hour (pre-work baseline, late poll answers) and
the recording and transcript links the producer adds to a session

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"],
        ["sessions.id"],
        name=op.f(f"fk_{table}_session_id_sessions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "journey_answers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("poll_key", sa.String(length=200), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=False),
        sa.Column(
            "answer",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('baseline', 'late')", name=op.f("ck_journey_answers_kind")),
        _session_fk("journey_answers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_answers")),
        sa.UniqueConstraint(
            "session_id",
            "poll_key",
            "participant_ref",
            name=op.f("uq_journey_answers_session_id_poll_key_participant_ref"),
        ),
    )
    op.create_table(
        "journey_recap_links",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("recording_url", sa.String(length=2000), nullable=True),
        sa.Column("transcript_url", sa.String(length=2000), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _session_fk("journey_recap_links"),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_journey_recap_links")),
    )


def downgrade() -> None:
    op.drop_table("journey_recap_links")
    op.drop_table("journey_answers")
