"""channel accounts: a person's chat accounts, one per channel; the channel they prefer

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 07:30:00+00:00

A commune may run dondoc on Telegram, on Zalo, or on both, and one officer may
use both. ``channel_accounts`` holds (channel, the channel's id of the
account as text) for an officer or a province user (exactly one), unique per
channel and at most one per person and channel. "Unreachable" (the account
blocked the bot) belongs to the account now, not to the person.

Every ``officers.telegram_id`` becomes a 'telegram' account (unreachable =
not reachable; last used = the officer's last activity), every
``officers.zalo_id`` a 'zalo' one (no code ever wrote it; should two officers
share one, the first officer keeps it), and the three columns go: the
accounts are the one place that says how to reach someone.
``officers.preferred_channel`` is where reminders go first (None: the channel
used last). ``deliveries.chat_id`` becomes text, like every other chat id
since 0010: Zalo's ids are not integers.

Dropping the unique ``telegram_id`` copies ``officers`` on SQLite, which drops
its data-version triggers (see 0005): they are created again after the copy,
with the columns 0007 watches.

Downgrade: each officer's Telegram account goes back into ``telegram_id``
(and ``reachable``), their Zalo account into ``zalo_id``; accounts on other
channels and province users' accounts are dropped, and deliveries to a chat
id that is not an integer lose that id.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED_OFFICER_COLUMNS = (
    "unit_id",
    "name",
    "name_key",
    "positions",
    "roles",
    "active",
    "department",
    "department_head",
)


def _sqlite_officer_triggers() -> None:
    """The data-version triggers of 0005 (update as widened by 0007), after a table copy."""
    if op.get_context().dialect.name != "sqlite":
        return
    bump = "UPDATE units SET data_version = random() WHERE"
    bodies = {
        "insert": ("INSERT", f"{bump} id = NEW.unit_id;"),
        "delete": ("DELETE", f"{bump} id = OLD.unit_id;"),
        "update": (
            f"UPDATE OF {', '.join(WATCHED_OFFICER_COLUMNS)}",
            f"{bump} id IN (OLD.unit_id, NEW.unit_id);",
        ),
    }
    for event, (when, body) in bodies.items():
        name = f"officers_{event}_bump_unit_data_version"
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} AFTER {when} ON officers FOR EACH ROW BEGIN {body} END")


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("province_user_id", sa.Integer(), nullable=True),
        sa.Column("unreachable", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(officer_id IS NULL) <> (province_user_id IS NULL)",
            name=op.f("ck_channel_accounts_one_person"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_channel_accounts_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["province_user_id"],
            ["province_users.id"],
            name=op.f("fk_channel_accounts_province_user_id_province_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_accounts_channel_external_id")
        ),
        sa.UniqueConstraint(
            "channel", "officer_id", name=op.f("uq_channel_accounts_channel_officer_id")
        ),
        sa.UniqueConstraint(
            "channel",
            "province_user_id",
            name=op.f("uq_channel_accounts_channel_province_user_id"),
        ),
    )
    for column in ("officer_id", "province_user_id"):
        op.create_index(
            op.f(f"ix_channel_accounts_{column}"), "channel_accounts", [column], unique=False
        )
    op.execute(
        "INSERT INTO channel_accounts "
        "(channel, external_id, officer_id, unreachable, last_used_at, created_at) "
        "SELECT 'telegram', CAST(telegram_id AS VARCHAR(64)), id, NOT reachable, "
        "last_activity_at, created_at FROM officers WHERE telegram_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO channel_accounts (channel, external_id, officer_id, unreachable, created_at) "
        "SELECT 'zalo', o.zalo_id, o.id, false, o.created_at FROM officers o "
        "WHERE o.zalo_id IS NOT NULL AND o.id = "
        "(SELECT min(t.id) FROM officers t WHERE t.zalo_id = o.zalo_id)"
    )
    with op.batch_alter_table("officers") as batch:
        batch.add_column(sa.Column("preferred_channel", sa.String(length=16), nullable=True))
        batch.drop_constraint("uq_officers_telegram_id", type_="unique")
        batch.drop_column("telegram_id")
        batch.drop_column("reachable")
        batch.drop_column("zalo_id")
    _sqlite_officer_triggers()
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column(
            "chat_id",
            type_=sa.String(64),
            existing_type=sa.BigInteger(),
            existing_nullable=True,
            postgresql_using="chat_id::text",
        )


def downgrade() -> None:
    op.execute(
        "UPDATE deliveries SET chat_id = NULL "
        "WHERE channel <> 'telegram' OR chat_id IS NULL OR chat_id = '' "
        "OR NOT (ltrim(chat_id, '-0123456789') = '')"
        if op.get_context().dialect.name == "sqlite"
        else "UPDATE deliveries SET chat_id = NULL WHERE channel <> 'telegram' "
        "OR chat_id !~ '^-?[0-9]+$'"
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column(
            "chat_id",
            type_=sa.BigInteger(),
            existing_type=sa.String(64),
            existing_nullable=True,
            postgresql_using="chat_id::bigint",
        )
    with op.batch_alter_table("officers") as batch:
        batch.add_column(sa.Column("telegram_id", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("reachable", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(sa.Column("zalo_id", sa.String(), nullable=True))
        batch.create_unique_constraint("uq_officers_telegram_id", ["telegram_id"])
        batch.drop_column("preferred_channel")
    _sqlite_officer_triggers()
    telegram = "FROM channel_accounts a WHERE a.officer_id = officers.id AND a.channel = 'telegram'"
    op.execute(
        f"UPDATE officers SET telegram_id = (SELECT CAST(a.external_id AS BIGINT) {telegram}), "
        f"reachable = NOT EXISTS (SELECT 1 {telegram} AND a.unreachable), "
        "zalo_id = (SELECT a.external_id FROM channel_accounts a "
        "WHERE a.officer_id = officers.id AND a.channel = 'zalo')"
    )
    op.drop_table("channel_accounts")
