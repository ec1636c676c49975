"""conversation state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:00:00+00:00

What the bot waits for between two messages (a reason, a file, a choice, an
album's item, a plan preview), in the database instead of one process's
memory, so that a restart or a second bot process carries on the conversation.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=80), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_conversation_state_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_state")),
        sa.UniqueConstraint(
            "channel",
            "chat_id",
            "user_id",
            "slot",
            name=op.f("uq_conversation_state_channel_chat_id_user_id_slot"),
        ),
    )
    op.create_index(
        op.f("ix_conversation_state_unit_id"), "conversation_state", ["unit_id"], unique=False
    )
    op.create_index(
        op.f("ix_conversation_state_expires_at"), "conversation_state", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("conversation_state")
