"""undo: progress reports and evidence can be withdrawn

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-06 05:00:00+00:00

/hoantac withdraws an officer's last report or file: the row (and the file)
stay, marked with when they were withdrawn, and every count leaves them out.
Neither table is watched by the data-version triggers of 0005, so the batch
copy SQLite needs to drop a column on downgrade loses no trigger.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("progress_updates", "evidence")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("withdrawn_at")
