"""firings: who pressed "done" on a producer cue, and when (issue 9's cue table)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: firings acknowledged before this revision keep no name (never guessed).
    # Plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column("firings", sa.Column("acknowledged_by", sa.String(length=200), nullable=True))
    op.add_column(
        "firings", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("firings") as batch:
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
