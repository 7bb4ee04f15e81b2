"""meeting bindings: a show bound to a (recurring) meeting id

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_bindings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("meeting_ref", sa.String(length=200), nullable=False),
        sa.Column("show_name", sa.String(length=200), nullable=False),
        sa.Column(
            "producers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_bindings")),
        sa.UniqueConstraint(
            "platform", "meeting_ref", name=op.f("uq_meeting_bindings_platform_meeting_ref")
        ),
    )


def downgrade() -> None:
    op.drop_table("meeting_bindings")
