"""departments: an officer's department and head flag; a criterion's task text

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06 05:00:00+00:00

Merged communes (from 07/2025) work through departments ("Phòng Kinh tế", …).
An officer may belong to one (``officers.department``, a catalogue code such
as ``PKT``) and may head it (``officers.department_head``): the head owns the
department's items. Both are in the per-unit snapshot, so the officers'
update trigger of 0005 must watch them too; it is created again with the
longer column list.

``criteria.task`` is what to do, where a plan has a task column beside its
requirement column ("Nhiệm vụ cụ thể").

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COLUMNS = ("unit_id", "name", "name_key", "positions", "roles", "active")
NEW_COLUMNS = (*OLD_COLUMNS, "department", "department_head")
PG_TRIGGER = "officers_bump_unit_data_version"
PG_FUNCTION = "bump_unit_data_version"
SQLITE_TRIGGER = "officers_update_bump_unit_data_version"


def _watch_officers(columns: tuple[str, ...]) -> None:
    """Create the officers' update trigger of 0005 again, watching ``columns``."""
    update_of = f"UPDATE OF {', '.join(columns)}"
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {PG_TRIGGER} ON officers")
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {PG_TRIGGER} "
            f"AFTER INSERT OR DELETE OR {update_of} ON officers "
            "DEFERRABLE INITIALLY DEFERRED "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
        )
    else:
        op.execute(f"DROP TRIGGER {SQLITE_TRIGGER}")
        op.execute(
            f"CREATE TRIGGER {SQLITE_TRIGGER} AFTER {update_of} ON officers FOR EACH ROW "
            "BEGIN UPDATE units SET data_version = random() "
            "WHERE id IN (OLD.unit_id, NEW.unit_id); END"
        )


def upgrade() -> None:
    op.add_column("officers", sa.Column("department", sa.String(16), nullable=True))
    op.add_column(
        "officers",
        sa.Column("department_head", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("criteria", sa.Column("task", sa.Text(), nullable=True))
    _watch_officers(NEW_COLUMNS)


def downgrade() -> None:
    _watch_officers(OLD_COLUMNS)
    # Dropping a column copies the table on SQLite, which drops its triggers
    # (see 0005); plain ALTER TABLE DROP COLUMN keeps them on both databases.
    op.drop_column("criteria", "task")
    op.drop_column("officers", "department_head")
    op.drop_column("officers", "department")
