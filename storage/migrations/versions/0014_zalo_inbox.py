"""zalo inbox: raw Zalo updates kept until handled

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 07:30:00+00:00

Zalo's getUpdates returns one update per call and has no offset: a process
that dies after the call returned would lose the message. Each raw update is
written to ``zalo_inbox`` before it is handled, and handled from there; the
(bot, message id) pair is unique so a message delivered twice is kept once.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zalo_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zalo_inbox")),
        sa.UniqueConstraint("bot", "message_id", name=op.f("uq_zalo_inbox_bot_message_id")),
    )
    op.create_index(op.f("ix_zalo_inbox_handled_at"), "zalo_inbox", ["handled_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_zalo_inbox_handled_at"), table_name="zalo_inbox")
    op.drop_table("zalo_inbox")
