"""channel keys: processed updates keyed by text ids; deliveries name their channel

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:00:00+00:00

Telegram's update ids are integers, Zalo's event ids are not: the idempotency
key of processed_updates becomes (channel, text id); every existing key is
kept as its decimal text. Each delivery records the channel it went through
("telegram" for every existing row).

Downgrade: only Telegram's keys fit an integer again; other channels' keys
(none before this revision) are dropped, which at worst lets such an update
be handled a second time.

Neither table is watched by the data-version triggers of 0005, so SQLite's
batch copies lose no trigger. Frozen history like 0001: plain sqlalchemy
types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            type_=sa.String(64),
            existing_type=sa.BigInteger(),
            existing_nullable=False,
            postgresql_using="update_id::text",
        )
    op.add_column(
        "deliveries",
        sa.Column("channel", sa.String(16), nullable=False, server_default=sa.text("'telegram'")),
    )


def downgrade() -> None:
    op.execute("DELETE FROM processed_updates WHERE channel <> 'telegram'")
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            type_=sa.BigInteger(),
            existing_type=sa.String(64),
            existing_nullable=False,
            postgresql_using="update_id::bigint",
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("channel")
