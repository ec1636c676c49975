"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 18:50:14.896381+00:00

Migrations must run on SQLite and PostgreSQL alike. They are frozen history:
use plain sqlalchemy types here, never import the application's models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("name_key", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("name_key", name=op.f("uq_units_name_key")),
    )
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("name_key", sa.String(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("zalo_id", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("reachable", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_officers_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_officers_telegram_id")),
        sa.UniqueConstraint("unit_id", "name_key", name=op.f("uq_officers_unit_id_name_key")),
    )
    op.create_index(op.f("ix_officers_unit_id"), "officers", ["unit_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Integer(), nullable=True),
        sa.Column("period_end", sa.Integer(), nullable=True),
        sa.Column("indexes", sa.JSON(), nullable=False),
        sa.Column("source_name", sa.String(), nullable=True),
        sa.Column("source_format", sa.String(), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_plans_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_unit_id"), "plans", ["unit_id"], unique=False)

    op.create_table(
        "processed_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_processed_updates_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_updates")),
        sa.UniqueConstraint(
            "channel", "update_id", name=op.f("uq_processed_updates_channel_update_id")
        ),
    )
    op.create_index(
        op.f("ix_processed_updates_unit_id"), "processed_updates", ["unit_id"], unique=False
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("actor_officer_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("old", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("new", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_officer_id"],
            ["officers.id"],
            name=op.f("fk_audit_log_actor_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_audit_log_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_unit_id"), "audit_log", ["unit_id"], unique=False)

    op.create_table(
        "criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("index_name", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=True),
        sa.Column("target_points", sa.Float(), nullable=True),
        sa.Column("leads", sa.JSON(), nullable=False),
        sa.Column("supports", sa.JSON(), nullable=False),
        sa.Column("lead_text", sa.Text(), nullable=True),
        sa.Column("support_text", sa.Text(), nullable=True),
        sa.Column("deadline_text", sa.Text(), nullable=True),
        sa.Column("recurrence", sa.String(), nullable=True),
        sa.Column("is_leaf", sa.Boolean(), nullable=False),
        sa.Column("synthetic_code", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["criteria.id"],
            name=op.f("fk_criteria_parent_id_criteria"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_criteria_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_criteria_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria")),
        sa.UniqueConstraint(
            "plan_id",
            "index_name",
            "code",
            "occurrence",
            name=op.f("uq_criteria_plan_id_index_name_code_occurrence"),
        ),
    )
    op.create_index(op.f("ix_criteria_parent_id"), "criteria", ["parent_id"], unique=False)
    op.create_index(op.f("ix_criteria_unit_id"), "criteria", ["unit_id"], unique=False)
    op.create_index(
        "ix_criteria_unit_id_index_name_code",
        "criteria",
        ["unit_id", "index_name", "code"],
        unique=False,
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key_date", sa.Date(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('claimed', 'sent', 'failed')", name=op.f("ck_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_deliveries_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_deliveries_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_deliveries_dedupe_key")),
    )
    op.create_index(op.f("ix_deliveries_officer_id"), "deliveries", ["officer_id"], unique=False)
    op.create_index(op.f("ix_deliveries_unit_id"), "deliveries", ["unit_id"], unique=False)

    op.create_table(
        "position_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("alias_text", sa.Text(), nullable=False),
        sa.Column("alias_key", sa.String(), nullable=False),
        sa.Column("position_code", sa.String(), nullable=False),
        sa.Column("created_by_officer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_officer_id"],
            ["officers.id"],
            name=op.f("fk_position_aliases_created_by_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_position_aliases_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_aliases")),
        sa.UniqueConstraint(
            "unit_id", "alias_key", name=op.f("uq_position_aliases_unit_id_alias_key")
        ),
    )
    op.create_index(
        op.f("ix_position_aliases_unit_id"), "position_aliases", ["unit_id"], unique=False
    )

    op.create_table(
        "assignment_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_officer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by_officer_id"],
            ["officers.id"],
            name=op.f("fk_assignment_overrides_assigned_by_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criteria.id"],
            name=op.f("fk_assignment_overrides_criterion_id_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_assignment_overrides_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_assignment_overrides_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_overrides")),
        sa.UniqueConstraint("criterion_id", name=op.f("uq_assignment_overrides_criterion_id")),
    )
    op.create_index(
        op.f("ix_assignment_overrides_officer_id"),
        "assignment_overrides",
        ["officer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_assignment_overrides_unit_id"), "assignment_overrides", ["unit_id"], unique=False
    )

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_unique_id", sa.String(), nullable=True),
        sa.Column("mime", sa.String(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("storage_path", sa.Text(), nullable=False),
        sa.Column("source_update_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criteria.id"],
            name=op.f("fk_evidence_criterion_id_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_evidence_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_evidence_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("criterion_id", "sha256", name=op.f("uq_evidence_criterion_id_sha256")),
    )
    op.create_index(op.f("ix_evidence_unit_id"), "evidence", ["unit_id"], unique=False)

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("leads", sa.JSON(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criteria.id"],
            name=op.f("fk_milestones_criterion_id_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_milestones_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    op.create_index(
        op.f("ix_milestones_criterion_id"), "milestones", ["criterion_id"], unique=False
    )
    op.create_index(op.f("ix_milestones_unit_id"), "milestones", ["unit_id"], unique=False)

    op.create_table(
        "progress_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_update_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('not_started', 'in_progress', 'done', 'blocked')",
            name=op.f("ck_progress_updates_status"),
        ),
        sa.CheckConstraint(
            "percent >= 0 AND percent <= 100", name=op.f("ck_progress_updates_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criteria.id"],
            name=op.f("fk_progress_updates_criterion_id_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_progress_updates_officer_id_officers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_progress_updates_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_updates")),
        sa.UniqueConstraint(
            "source", "source_update_id", name=op.f("uq_progress_updates_source_source_update_id")
        ),
    )
    op.create_index(
        "ix_progress_updates_criterion_id_created_at",
        "progress_updates",
        ["criterion_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_progress_updates_unit_id"), "progress_updates", ["unit_id"], unique=False
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    op.drop_table("progress_updates")
    op.drop_table("milestones")
    op.drop_table("evidence")
    op.drop_table("assignment_overrides")
    op.drop_table("position_aliases")
    op.drop_table("deliveries")
    op.drop_table("criteria")
    op.drop_table("audit_log")
    op.drop_table("processed_updates")
    op.drop_table("plans")
    op.drop_table("officers")
    op.drop_table("units")
