"""plan index claims: one current plan per unit, period and index

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06 05:00:00+00:00

Two imports of the same unit and period at once created two identical plans.
Plans are matched on overlapping index lists, which no single constraint
expresses; a row per (unit, period, index) naming the plan that covers it does.
Existing plans claim their indexes in the order they were created (the first
plan keeps an index two plans share).

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    claims = op.create_table(
        "plan_index_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("index_name", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_index_claims_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_plan_index_claims_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_index_claims")),
        sa.UniqueConstraint(
            "unit_id",
            "period_key",
            "index_name",
            name=op.f("uq_plan_index_claims_unit_id_period_key_index_name"),
        ),
    )
    op.create_index(
        op.f("ix_plan_index_claims_unit_id"), "plan_index_claims", ["unit_id"], unique=False
    )
    op.create_index(
        op.f("ix_plan_index_claims_plan_id"), "plan_index_claims", ["plan_id"], unique=False
    )
    plans = sa.table(
        "plans",
        sa.column("id", sa.Integer()),
        sa.column("unit_id", sa.Integer()),
        sa.column("period_start", sa.Integer()),
        sa.column("period_end", sa.Integer()),
        sa.column("indexes", sa.JSON()),
        sa.column("active", sa.Boolean()),
    )
    seen: set[tuple[int, str, str]] = set()
    rows = []
    query = sa.select(plans).where(plans.c.active.is_(True)).order_by(plans.c.id)
    for plan in op.get_bind().execute(query):
        start, end = plan.period_start, plan.period_end
        period = f"{start}-{end}" if start is not None and end is not None else ""
        for index in plan.indexes or []:
            key = (plan.unit_id, period, str(index)[:16])
            if key not in seen:
                seen.add(key)
                rows.append(
                    {
                        "unit_id": key[0],
                        "plan_id": plan.id,
                        "period_key": key[1],
                        "index_name": key[2],
                    }
                )
    if rows:
        op.bulk_insert(claims, rows)


def downgrade() -> None:
    op.drop_table("plan_index_claims")
