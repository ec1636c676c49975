"""web dashboard: province users, one-time login links, browser sessions

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 05:30:00+00:00

Province users (Sở Nội vụ) belong to no unit. A login link and a session belong to
exactly one officer or one province user; only SHA-256 hashes of their tokens are
stored, so a copy of the database opens no session.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSON_TABLES = ("web_logins", "web_sessions")


def _person_columns(table: str) -> list[sa.Column[object] | sa.Constraint]:
    return [
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("province_user_id", sa.Integer(), nullable=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f(f"fk_{table}_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["province_user_id"],
            ["province_users.id"],
            name=op.f(f"fk_{table}_province_user_id_province_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("token_sha256", name=op.f(f"uq_{table}_token_sha256")),
    ]


def upgrade() -> None:
    op.create_table(
        "province_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("name_key", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_province_users")),
        sa.UniqueConstraint("name_key", name=op.f("uq_province_users_name_key")),
    )
    for table in PERSON_TABLES:
        extra = [sa.Column("used_at", sa.DateTime(timezone=True), nullable=True)]
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            *_person_columns(table),
            *(extra if table == "web_logins" else []),
        )
        for column in ("officer_id", "province_user_id"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table in PERSON_TABLES:
        op.drop_table(table)
    op.drop_table("province_users")
