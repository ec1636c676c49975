"""send budgets: one pacing row per bot and per chat, shared by every process

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 07:40:00+00:00

See core.send_budget. Nothing to backfill: an absent row means "may send now".

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_budgets",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("next_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_budgets")),
    )


def downgrade() -> None:
    op.drop_table("send_budgets")
