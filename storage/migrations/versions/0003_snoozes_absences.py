"""snoozes and absences

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:20:00+00:00

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _unit_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["unit_id"], ["units.id"], name=op.f(f"fk_{table}_unit_id_units"), ondelete="CASCADE"
    )


def _officer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["officer_id"],
        ["officers.id"],
        name=op.f(f"fk_{table}_officer_id_officers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criteria.id"],
            name=op.f("fk_snoozes_criterion_id_criteria"),
            ondelete="CASCADE",
        ),
        _officer_fk("snoozes"),
        _unit_fk("snoozes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snoozes")),
        sa.UniqueConstraint(
            "officer_id", "criterion_id", name=op.f("uq_snoozes_officer_id_criterion_id")
        ),
    )
    op.create_index(op.f("ix_snoozes_unit_id"), "snoozes", ["unit_id"], unique=False)
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _officer_fk("absences"),
        _unit_fk("absences"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absences")),
        sa.UniqueConstraint("officer_id", name=op.f("uq_absences_officer_id")),
    )
    op.create_index(op.f("ix_absences_unit_id"), "absences", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_table("absences")
    op.drop_table("snoozes")
