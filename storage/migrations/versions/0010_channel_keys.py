"""channel keys: processed updates keyed by text ids; deliveries name their channel; invites
record who used them as (channel, account id)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:00:00+00:00

Telegram's update ids are integers, Zalo's event ids are not: the idempotency
key of processed_updates becomes (channel, text id); every existing key is
kept as its decimal text. Each delivery records the channel it went through
("telegram" for every existing row). An invite records who used it as
(channel, account id as text) instead of a Telegram integer.

Downgrade: only Telegram's keys and accounts fit an integer again; other
channels' update keys (none before this revision) are dropped, which at worst
lets such an update be handled a second time, and an invite used from another
channel keeps its use time but no longer says by whom.

None of these tables is watched by the data-version triggers of 0005, so SQLite's
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
    op.add_column("invites", sa.Column("used_by_channel", sa.String(16), nullable=True))
    op.add_column("invites", sa.Column("used_by_account", sa.String(64), nullable=True))
    op.execute(
        "UPDATE invites SET used_by_channel = 'telegram', "
        "used_by_account = CAST(used_by_telegram_id AS VARCHAR(64)) "
        "WHERE used_by_telegram_id IS NOT NULL"
    )
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("used_by_telegram_id")


def downgrade() -> None:
    op.add_column("invites", sa.Column("used_by_telegram_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE invites SET used_by_telegram_id = CAST(used_by_account AS BIGINT) "
        "WHERE used_by_channel = 'telegram'"
    )
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("used_by_account")
        batch.drop_column("used_by_channel")
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
