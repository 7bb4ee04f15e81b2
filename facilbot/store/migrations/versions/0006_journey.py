"""the journey: people's addresses and consent, pre-work marks, follow-up mail, unsubscribes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
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
        "journey_people",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _session_fk("journey_people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_people")),
        sa.UniqueConstraint(
            "session_id",
            "participant_ref",
            name=op.f("uq_journey_people_session_id_participant_ref"),
        ),
    )
    op.create_table(
        "journey_prework",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _session_fk("journey_prework"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_prework")),
        sa.UniqueConstraint(
            "session_id",
            "participant_ref",
            "item",
            name=op.f("uq_journey_prework_session_id_participant_ref_item"),
        ),
    )
    op.create_table(
        "journey_followups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('reminder', 'check_in')", name=op.f("ck_journey_followups_kind")
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'sent', 'failed', 'interrupted', 'cancelled')",
            name=op.f("ck_journey_followups_status"),
        ),
        _session_fk("journey_followups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_followups")),
        sa.UniqueConstraint(
            "session_id",
            "participant_ref",
            "key",
            name=op.f("uq_journey_followups_session_id_participant_ref_key"),
        ),
    )
    op.create_index(op.f("ix_journey_followups_status"), "journey_followups", ["status", "due_at"])
    op.create_table(
        "journey_unsubscribes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("show_name", sa.String(length=200), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_unsubscribes")),
        sa.UniqueConstraint(
            "show_name",
            "address_hash",
            name=op.f("uq_journey_unsubscribes_show_name_address_hash"),
        ),
    )


def downgrade() -> None:
    op.drop_table("journey_unsubscribes")
    op.drop_index(op.f("ix_journey_followups_status"), table_name="journey_followups")
    op.drop_table("journey_followups")
    op.drop_table("journey_prework")
    op.drop_table("journey_people")
