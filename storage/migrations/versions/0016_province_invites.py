"""province invites: single-use codes that link a chat account to a province user

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 08:20:00+00:00

The same codes as the officers' invites (typed, or in a Telegram deep link), in a table
of their own because province users belong to no unit. Nothing to backfill.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "province_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_user_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_channel", sa.String(length=16), nullable=True),
        sa.Column("used_by_account", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["province_user_id"],
            ["province_users.id"],
            name=op.f("fk_province_invites_province_user_id_province_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_province_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_province_invites_code")),
    )
    op.create_index(
        op.f("ix_province_invites_province_user_id"),
        "province_invites",
        ["province_user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("province_invites")
