"""console: the chat commands the service answered (refused, help, status)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "command_notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(length=300), nullable=False),
        sa.Column("command", sa.String(length=500), nullable=False),
        sa.Column("reply", sa.String(length=500), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("replied_via", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_command_notices_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_notices")),
    )
    op.create_index(op.f("ix_command_notices_session_id"), "command_notices", ["session_id", "at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_command_notices_session_id"), table_name="command_notices")
    op.drop_table("command_notices")
