"""unit data version

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00+00:00

``units.data_version`` changes, with the writing transaction, whenever a
row the per-unit cache of officers and plan items depends on is inserted,
updated or deleted; the cache compares it with the value its snapshot was
built at. The bump is done by triggers rather than by application code so
that every writer bumps it: the bot, the CLI in another process, a future
Zalo adapter, ORM flushes and Core bulk statements alike. Session events in
one process would miss bulk statements and other processes.

On PostgreSQL the triggers are deferred to the commit. Bumping the unit's row
at once would lock it until the commit, and two transactions writing rows of
one unit in opposite orders (a roster import and /vitri) would deadlock on it.
Deferred, the version is written as the transaction commits, so a transaction
does not see its own change in it: core.unit_snapshot notices the session's
own writes instead. On SQLite writers take turns, and the bump is immediate.

The new value never repeats one that a rolled-back transaction may have
produced, so a snapshot built from uncommitted data is never taken for a
committed one: PostgreSQL takes it from a sequence (nextval is never rolled
back), SQLite from random().

Officers are watched only for the columns the cache holds: last_activity_at,
reachable, telegram_id, phone and zalo_id change often and would otherwise
empty the cache on every message.

SQLite drops a table's triggers with the table, so a later migration that
batch-alters (copies) one of the watched tables on SQLite must create that
table's triggers again; one that batch-alters ``units`` must drop the triggers
first (they name ``units``) and create them again after.

Frozen history like 0001: plain sqlalchemy types, no application imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the columns whose UPDATE bumps the version (None: any column).
WATCHED: dict[str, tuple[str, ...] | None] = {
    "officers": ("unit_id", "name", "name_key", "positions", "roles", "active"),
    "plans": None,
    "criteria": None,
    "milestones": None,
    "assignment_overrides": None,
}

PG_SEQUENCE = "unit_data_version_seq"
PG_FUNCTION = "bump_unit_data_version"
PG_FUNCTION_BODY = f"""
CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE units SET data_version = nextval('{PG_SEQUENCE}') WHERE id = NEW.unit_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE units SET data_version = nextval('{PG_SEQUENCE}') WHERE id = OLD.unit_id;
    ELSE  -- UPDATE: a row moved to another unit changes both
        UPDATE units SET data_version = nextval('{PG_SEQUENCE}')
        WHERE id IN (OLD.unit_id, NEW.unit_id);
    END IF;
    RETURN NULL;
END
$$
"""


def _update_of(columns: tuple[str, ...] | None) -> str:
    return f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"


def _pg_trigger(table: str) -> str:
    return f"{table}_bump_unit_data_version"


def _sqlite_trigger(table: str, event: str) -> str:
    return f"{table}_{event}_bump_unit_data_version"


def _sqlite_bump(where: str) -> str:
    # Not abs(random()): abs() of the smallest 64-bit integer overflows.
    return f"UPDATE units SET data_version = random() WHERE {where};"


def upgrade() -> None:
    op.add_column(
        "units",
        sa.Column("data_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE {PG_SEQUENCE} AS bigint")
        op.execute(PG_FUNCTION_BODY)
        for table, columns in WATCHED.items():
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {_pg_trigger(table)} "
                f"AFTER INSERT OR DELETE OR {_update_of(columns)} ON {table} "
                "DEFERRABLE INITIALLY DEFERRED "
                f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
            )
    else:
        for table, columns in WATCHED.items():
            bodies = {
                "insert": ("INSERT", _sqlite_bump("id = NEW.unit_id")),
                "delete": ("DELETE", _sqlite_bump("id = OLD.unit_id")),
                # A row moved to another unit changes both.
                "update": (_update_of(columns), _sqlite_bump("id IN (OLD.unit_id, NEW.unit_id)")),
            }
            for event, (when, body) in bodies.items():
                op.execute(
                    f"CREATE TRIGGER {_sqlite_trigger(table, event)} "
                    f"AFTER {when} ON {table} FOR EACH ROW BEGIN {body} END"
                )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {_pg_trigger(table)} ON {table}")
        op.execute(f"DROP FUNCTION {PG_FUNCTION}()")
        op.execute(f"DROP SEQUENCE {PG_SEQUENCE}")
    else:
        for table in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {_sqlite_trigger(table, event)}")
    with op.batch_alter_table("units") as batch_op:
        batch_op.drop_column("data_version")
