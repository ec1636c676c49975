"""The database schema, as SQLAlchemy 2 typed declarative models.

Portable between SQLite and PostgreSQL: no dialect-specific types, lists and
dicts in ``sqlalchemy.JSON``, timestamps in :class:`~storage.types.UTCDateTime`.
Every table but ``units`` carries ``unit_id`` so the same database can serve
many communes; deleting a unit deletes everything it owns (ON DELETE CASCADE).

The schema is created by the Alembic migrations in ``storage/migrations``,
never by ``metadata.create_all`` in production; a test checks that the two
agree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import TextId, UTCDateTime, utcnow

# Deterministic constraint names: Alembic needs a name to drop or alter a
# constraint, and SQLite (batch mode) and PostgreSQL must agree on it.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("officer", "coordinator", "leader", "admin")
PROGRESS_STATUSES = ("not_started", "in_progress", "done", "blocked")
PROGRESS_SOURCES = ("telegram", "cli", "zalo")
DELIVERY_STATUSES = ("claimed", "sent", "failed")

# JSON columns edited in place (a role appended, a setting changed) are
# wrapped so that the change is noticed and flushed; plain JSON columns are
# only ever replaced whole.
_JSON_DICT = MutableDict.as_mutable(JSON())
_JSON_LIST = MutableList.as_mutable(JSON())


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        date: Date(),
        str: String(),
    }


class _Id:
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-10)


class _UnitScoped(_Id):
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True, sort_order=-9
    )


class Unit(_Id, Base):
    """A commune (or ward) People's Committee: the tenant of everything else."""

    __tablename__ = "units"

    name: Mapped[str]
    name_key: Mapped[str] = mapped_column(unique=True)
    # None means "use the TIMEZONE setting".
    timezone: Mapped[str | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(_JSON_DICT, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Changed by database triggers (migration 0005), never by application code,
    # whenever a row of the unit's officers, plans, criteria, milestones or
    # assignment overrides changes: the per-unit cache of officers and plan
    # items compares it with the value its snapshot was built at to know
    # whether the snapshot is stale.
    data_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class Officer(_UnitScoped, Base):
    __tablename__ = "officers"
    __table_args__ = (UniqueConstraint("unit_id", "name_key"),)

    name: Mapped[str]
    name_key: Mapped[str]
    positions: Mapped[list[str]] = mapped_column(_JSON_LIST, default=list)
    roles: Mapped[list[str]] = mapped_column(_JSON_LIST, default=list)
    # A merged commune's department (a catalogue code such as "PKT"), and
    # whether this officer heads it (the head owns its items).
    department: Mapped[str | None] = mapped_column(String(16))
    department_head: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Chat accounts are rows of channel_accounts (0013); this is the channel reminders go
    # to first ("telegram", "zalo"); None: the channel the officer used last.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None]
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    last_activity_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a unit merge brought the officer in: the owners of the old unit's
    # plans (history) stay the people who were there. No foreign key (migration 0012).
    origin_unit_id: Mapped[int | None]


class PositionAlias(_UnitScoped, Base):
    """An admin's mapping of a lead text the parser did not know, reused on later imports."""

    __tablename__ = "position_aliases"
    __table_args__ = (UniqueConstraint("unit_id", "alias_key"),)

    alias_text: Mapped[str] = mapped_column(Text)
    alias_key: Mapped[str]  # core.text.fold_compact(alias_text)
    position_code: Mapped[str]
    created_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Plan(_UnitScoped, Base):
    __tablename__ = "plans"

    title: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None]
    period_start: Mapped[int | None]
    period_end: Mapped[int | None]
    indexes: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_name: Mapped[str | None]
    source_format: Mapped[str | None]
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Ended by hand (``plan close``): no longer current, still history.
    closed_at: Mapped[datetime | None]
    # Set when a unit merge brought the plan in from another unit: history, never
    # current. No foreign key (migration 0012 says why).
    origin_unit_id: Mapped[int | None]

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="plan",
        order_by="Criterion.ordinal",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PlanIndexClaim(_UnitScoped, Base):
    """Which current plan of a unit covers an index in a period: one plan per index.

    Plans are matched on overlapping index lists, which no single constraint
    expresses; a claim per (unit, period, index) does. Two imports racing to create
    the same plan cannot both claim its indexes (core.plan_store also takes a
    per-unit lock first, so the second import normally waits and updates instead).
    """

    __tablename__ = "plan_index_claims"
    __table_args__ = (UniqueConstraint("unit_id", "period_key", "index_name"),)

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    period_key: Mapped[str] = mapped_column(String(16))  # "2023-2025", "" without a year
    index_name: Mapped[str] = mapped_column(String(16))


class Criterion(_UnitScoped, Base):
    """One numbered item of a plan (a criterion, sub-criterion or task)."""

    __tablename__ = "criteria"
    __table_args__ = (
        UniqueConstraint("plan_id", "index_name", "code", "occurrence"),
        Index("ix_criteria_unit_id_index_name_code", "unit_id", "index_name", "code"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    index_name: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    occurrence: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("criteria.id", ondelete="SET NULL"), index=True
    )
    ordinal: Mapped[int]  # position in the source document
    title: Mapped[str] = mapped_column(Text)
    requirement: Mapped[str | None] = mapped_column(Text)
    task: Mapped[str | None] = mapped_column(Text)  # what to do, beside the requirement
    max_points: Mapped[float | None] = mapped_column(Float)
    target_points: Mapped[float | None] = mapped_column(Float)
    leads: Mapped[list[str]] = mapped_column(JSON, default=list)
    supports: Mapped[list[str]] = mapped_column(JSON, default=list)
    lead_text: Mapped[str | None] = mapped_column(Text)
    support_text: Mapped[str | None] = mapped_column(Text)
    deadline_text: Mapped[str | None] = mapped_column(Text)
    recurrence: Mapped[str | None]
    is_leaf: Mapped[bool] = mapped_column(default=True)  # the importer clears it on parents
    synthetic_code: Mapped[bool] = mapped_column(default=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="criteria")
    # Milestones are few and nearly always wanted with their criterion.
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="criterion",
        order_by="Milestone.ordinal",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class Milestone(_UnitScoped, Base):
    __tablename__ = "milestones"

    criterion_id: Mapped[int] = mapped_column(
        ForeignKey("criteria.id", ondelete="CASCADE"), index=True
    )
    due_date: Mapped[date]
    label: Mapped[str | None] = mapped_column(Text)
    leads: Mapped[list[str]] = mapped_column(JSON, default=list)
    ordinal: Mapped[int] = mapped_column(default=0)

    criterion: Mapped[Criterion] = relationship(back_populates="milestones")


class AssignmentOverride(_UnitScoped, Base):
    """An admin's choice of owner for one item; replace the row to reassign."""

    __tablename__ = "assignment_overrides"

    criterion_id: Mapped[int] = mapped_column(
        ForeignKey("criteria.id", ondelete="CASCADE"), unique=True
    )
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    assigned_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgressUpdate(_UnitScoped, Base):
    """One report of progress. Never updated in place: the history is the rows."""

    __tablename__ = "progress_updates"
    __table_args__ = (
        # NULL source_update_id (e.g. a CLI entry) may repeat; both dialects
        # treat NULLs as distinct in a unique constraint.
        UniqueConstraint("source", "source_update_id"),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        CheckConstraint(_in("status", PROGRESS_STATUSES), name="status"),
        Index("ix_progress_updates_criterion_id_created_at", "criterion_id", "created_at"),
    )

    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"))
    percent: Mapped[int]
    status: Mapped[str]
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str]
    source_update_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]  # undone (/hoantac): kept, but no longer counts


class Evidence(_UnitScoped, Base):
    """A file proving work on an item, stored on disk under its content hash."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("criterion_id", "sha256"),)

    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    file_unique_id: Mapped[str | None]
    mime: Mapped[str | None]
    size_bytes: Mapped[int]
    original_name: Mapped[str | None] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)
    storage_path: Mapped[str] = mapped_column(Text)
    source_update_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]  # undone (/hoantac): file kept, no longer counts


class Delivery(_UnitScoped, Base):
    """An outbound message, claimed under ``dedupe_key`` before it is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),)

    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str]
    key_date: Mapped[date]
    dedupe_key: Mapped[str] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(default="claimed")
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The channel the message went through ("telegram", …) and, on it, the chat.
    channel: Mapped[str] = mapped_column(
        String(16), default="telegram", server_default=text("'telegram'")
    )
    chat_id: Mapped[str | None] = mapped_column(TextId())  # text since 0013: Zalo's ids are
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class AuditLog(_UnitScoped, Base):
    __tablename__ = "audit_log"

    actor_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL")
    )
    actor: Mapped[str]  # "cli", "telegram:<user id>", …
    action: Mapped[str]
    entity: Mapped[str]
    entity_id: Mapped[int | None]
    # none_as_null: a missing old/new value is SQL NULL, not the JSON text 'null'.
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(_Id, Base):
    """Inbound updates already handled, so a redelivered update is a no-op."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("channel", "update_id"),)

    # Nullable, unlike everywhere else: strangers who belong to no unit send
    # updates too, and those must be deduplicated as well.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True, sort_order=-9
    )
    channel: Mapped[str]  # "telegram", "zalo"
    update_id: Mapped[str] = mapped_column(TextId())  # the channel's id, as text (0010)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class _InviteCode:
    """A single-use code that ties a chat account to a person: typed, or in a deep link
    (``t.me/<bot>?start=<code>``). core.officers makes and checks them, of either kind."""

    # Typed codes (core.officers.INVITE_ALPHABET); older links: secrets.token_urlsafe.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Who used it: the channel and that channel's id of the account, as text (0010).
    used_by_channel: Mapped[str | None] = mapped_column(String(16))
    used_by_account: Mapped[str | None] = mapped_column(String(64))


class Invite(_UnitScoped, _InviteCode, Base):
    """An invite for an officer of the unit."""

    __tablename__ = "invites"

    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    created_by_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="SET NULL")
    )


class ProvinceInvite(_Id, _InviteCode, Base):
    """An invite for a province user (of no unit, so not with the units' invites)."""

    __tablename__ = "province_invites"

    province_user_id: Mapped[int] = mapped_column(
        ForeignKey("province_users.id", ondelete="CASCADE"), index=True
    )


class Snooze(_UnitScoped, Base):
    """An officer's pause of reminders about one item (/hoanlai), up to and including ``until``."""

    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("officer_id", "criterion_id"),)

    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    until: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Absence(_UnitScoped, Base):
    """An officer away (leave, illness) up to and including ``until`` (/nghi): no digests;
    their overdue items go to the coordinators meanwhile."""

    __tablename__ = "absences"

    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), unique=True
    )
    until: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(_UnitScoped, Base):
    """An overdue item reported to the unit's coordinators and leaders, once per milestone."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("criterion_id", "milestone"),)

    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    milestone: Mapped[date]
    escalated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProvinceUser(_Id, Base):
    """Someone at the province (Sở Nội vụ) following every unit on the web; of no unit."""

    __tablename__ = "province_users"

    name: Mapped[str]
    name_key: Mapped[str] = mapped_column(unique=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelAccount(_Id, Base):
    """One chat account of one person: (channel, the channel's id of the account, as text).

    One account is one person; a person has at most one account per channel. The
    person is an officer or a province user (exactly one). ``unreachable``: the
    account blocked the bot (the last message to it came back Blocked); a message
    from it clears the flag. core.accounts reads and writes these rows.
    """

    __tablename__ = "channel_accounts"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        UniqueConstraint("channel", "officer_id"),
        UniqueConstraint("channel", "province_user_id"),
        CheckConstraint("(officer_id IS NULL) <> (province_user_id IS NULL)", name="one_person"),
    )

    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    province_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("province_users.id", ondelete="CASCADE"), index=True
    )
    unreachable: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class _WebPerson:
    """Who a web login or session is for: an officer or a province user (exactly one)."""

    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    province_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("province_users.id", ondelete="CASCADE"), index=True
    )


class WebLogin(_Id, _WebPerson, Base):
    """A one-time login link (``/dangnhap/<token>``); only the token's SHA-256 is stored."""

    __tablename__ = "web_logins"

    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(_Id, _WebPerson, Base):
    """A browser's session cookie; only the cookie's SHA-256 is stored."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ConversationState(_Id, Base):
    """What the bot waits for or remembers between two messages of one person in one chat.

    Keyed by (channel, chat, user) and a slot: "await" (the reason after "Gặp
    khó khăn", a file after "Gửi minh chứng", a plan after /kehoach),
    "choice:<ref>" (an action waiting for the item to be picked), "album:<id>"
    (which item an album's caption named), "plan:<token>" (a plan preview
    waiting for "Xác nhận"). A row past ``expires_at`` is never acted on; the
    minute tick deletes it.
    """

    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "user_id", "slot"),)

    # The asker's unit; nullable, as in processed_updates: strangers and admins
    # without a unit have conversations too.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True, sort_order=-9
    )
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SendBudgetRow(Base):
    """When a bot (key ``channel:token-hash``) or one of its chats (``…:chat``) may next send.

    Shared by every process on the database: see core.send_budget. Wall-clock
    seconds, not a timestamp column, because the pacing arithmetic is in seconds.
    """

    __tablename__ = "send_budgets"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float(53))


class ZaloInbox(Base):
    """Every update Zalo's ``getUpdates`` handed over, written before it is handled.

    ``getUpdates`` has no offset: once a call returns, Zalo will not send that
    message again, so a process that died before handling it would lose it.
    The raw update is committed here first and handled from here; a row whose
    ``handled_at`` is empty after a restart is handled then. ``message_id`` is
    unique per bot, so the same message delivered twice is kept (and handled)
    once. No unit: an update arrives before anyone knows who sent it.
    """

    __tablename__ = "zalo_inbox"
    __table_args__ = (UniqueConstraint("bot", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot: Mapped[str] = mapped_column(String(64))  # the bot id, the token's part before ":"
    message_id: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(index=True)
