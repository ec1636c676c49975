"""plan years: plans closed by hand, and plans brought in by a unit merge

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06 06:00:00+00:00

Which plans of a unit are current on a day is worked out from their years
(core.plan_years); three columns record what the years cannot say:
``plans.closed_at`` (an admin ended the plan, ``plan close``),
``plans.origin_unit_id`` (the plan came from another unit merged into this
one: history, never current) and ``officers.origin_unit_id`` (the officer
came with it, so the old plan's owners stay the old unit's people). None
needs a backfill: every existing plan and officer is the unit's own. The
origin columns have no foreign key on purpose: the merged-away unit's row
stays, and SQLite can then drop them on downgrade without the batch copy that
would lose the data-version triggers of 0005 on these tables.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("plans", sa.Column("origin_unit_id", sa.Integer(), nullable=True))
    op.add_column("officers", sa.Column("origin_unit_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("officers", "origin_unit_id")
    op.drop_column("plans", "origin_unit_id")
    op.drop_column("plans", "closed_at")
