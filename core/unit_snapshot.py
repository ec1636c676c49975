"""A unit's slow-changing facts, kept in memory between updates.

Almost every chat update asks "who owns this item?" or "what are my items?",
and the answers depend on the unit's officers, its live plan items and the
admin's reassignments, which change a few times a year. Loading them afresh
for every update (about a hundred ORM objects, a dozen round trips to the
database) was most of the bot's time per update.

So they are loaded once into plain, immutable objects and reused while the
unit's ``data_version`` stays the same. Database triggers (migration 0005)
change that version in the same transaction as any write to officers, plans,
criteria, milestones or reassignments, whoever writes: this process, the CLI
in another one, a bulk statement. Reading the version costs one small query,
and because it is read in the caller's transaction, a caller that has just
changed something (and flushed) sees its own change.

A new version is a random number (SQLite) or a sequence value (PostgreSQL),
never an increment: a snapshot built from a transaction that later rolled
back is then filed under a version no committed state will ever have.

Within one transaction the snapshot is also remembered on the session, so a
card that checks ownership and then lists owners reads the version once. That
memo is forgotten at the end of the transaction and as soon as the session
writes to one of the watched tables; from then on, until the transaction
ends, the session gets facts read afresh (see unit_snapshot).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from core.plan_years import plans_of_year
from core.text import short_title
from storage.models import AssignmentOverride, Criterion, Milestone, Officer, Plan, Unit
from storage.types import utcnow

# Enough for every commune of a province in one process; the least recently
# used unit is dropped beyond it (about 70 KB per unit of 100 items).
MAX_CACHED_UNITS = 1024
# The tables whose triggers change units.data_version (migration 0005; a test
# checks the two lists agree).
WATCHED_TABLES = frozenset({"officers", "plans", "criteria", "milestones", "assignment_overrides"})
_MEMO = "dondoc.unit_snapshots"
_WROTE = "dondoc.wrote_watched_tables"
_UNITS = Unit.__table__.c
# Built once, on the table (no ORM on the way): every update reads it.
_VERSION = select(_UNITS.data_version).where(_UNITS.id == bindparam("unit_id"))
SHORT_TITLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Person:
    """An officer as the ownership rules see them."""

    id: int
    name: str
    name_key: str
    positions: tuple[str, ...]
    roles: tuple[str, ...]
    department: str | None = None  # a merged commune's department ("PKT")
    department_head: bool = False

    @classmethod
    def of(cls, officer: Officer) -> Person:
        positions, roles = tuple(officer.positions or ()), tuple(officer.roles or ())
        return cls(
            officer.id,
            officer.name,
            officer.name_key,
            positions,
            roles,
            officer.department,
            bool(officer.department_head) and officer.department is not None,
        )


@dataclass
class People:
    """A unit's active officers, indexed the ways the ownership rules need."""

    by_id: dict[int, Person]
    by_position: dict[str, list[Person]]
    fallback: list[Person]  # coordinators, or admins when there are none
    heads: dict[str, list[Person]] = field(default_factory=dict)  # department -> its heads

    @classmethod
    def of(cls, officers: list[Person]) -> People:
        """``officers`` must be active and in display order (name key, then id)."""
        by_position: dict[str, list[Person]] = {}
        heads: dict[str, list[Person]] = {}
        for officer in officers:
            for code in officer.positions:
                by_position.setdefault(code, []).append(officer)
            if officer.department_head and officer.department:
                heads.setdefault(officer.department, []).append(officer)
        coordinators = [o for o in officers if "coordinator" in o.roles]
        admins = [o for o in officers if "admin" in o.roles]
        return cls({o.id: o for o in officers}, by_position, coordinators or admins, heads)


@dataclass(frozen=True, slots=True)
class LeafItem:
    """A live leaf item as lists and ownership need it (not its requirement or raw row)."""

    id: int
    index_name: str
    code: str
    title: str
    short_title: str
    recurrence: str | None
    leads: tuple[str, ...]
    due_dates: tuple[date, ...]  # in milestone order


@dataclass(frozen=True)
class UnitSnapshot:
    unit_id: int
    version: int
    people: People  # active officers only
    names: dict[int, str]  # every officer's name, inactive ones too (for history lines)
    overrides: dict[int, int]  # item id -> the officer an admin gave it to
    items: tuple[LeafItem, ...]  # leaf items of the current plans, in document order
    indexes: frozenset[str]  # of the unit's current plans ("PAR", "PCI", …)
    year: int = 0  # the plan year the snapshot was taken for (core.plan_years)
    plan_ids: frozenset[int] = frozenset()  # the plans current in that year
    earlier_year: int | None = None  # set when they are from an earlier year
    by_id: dict[int, LeafItem] = field(init=False)
    # What other modules work out from these facts (who owns what), kept with
    # them: it holds as long as they do.
    derived: dict[Any, Any] = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {item.id: item for item in self.items})


_caches: WeakKeyDictionary[Engine, OrderedDict[tuple[int, int], UnitSnapshot]] = WeakKeyDictionary()


async def unit_snapshot(
    session: AsyncSession, *, unit_id: int, day: date | None = None
) -> UnitSnapshot:
    """The unit's facts on ``day`` as of this transaction: from the cache when its version holds.

    The items are those of the plans current on ``day`` (core.plan_years), so the
    cache keys on the day's year as well as the data version: on 1 January the
    plan imported in December takes over without any write. Without a day, the
    UTC date (callers that only need officers and overrides).

    A transaction that has written to the watched tables gets facts read
    afresh, and they are not cached: on PostgreSQL its own change is not in
    the version until it commits, and it may yet roll back.
    """
    if _touches_watched_rows(session.sync_session):
        await session.flush()  # the events below note the write
    year = (day or utcnow().date()).year
    memo: dict[tuple[int, int], UnitSnapshot] = session.info.setdefault(_MEMO, {})
    key = (unit_id, year)
    if key not in memo:
        if session.info.get(_WROTE):
            memo[key] = await _load(session, unit_id, 0, year)
        else:
            memo[key] = await _current(session, unit_id, year)
    return memo[key]


async def _current(session: AsyncSession, unit_id: int, year: int) -> UnitSnapshot:
    version = await session.scalar(_VERSION, {"unit_id": unit_id})
    cache = _caches.setdefault(_engine(session), OrderedDict())
    key = (unit_id, year)
    found = cache.get(key)
    if found is not None and found.version == version:
        cache.move_to_end(key)
        return found
    snapshot = await _load(session, unit_id, version or 0, year)
    cache[key] = snapshot
    if len(cache) > MAX_CACHED_UNITS:
        cache.popitem(last=False)
    return snapshot


def _engine(session: AsyncSession) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


async def _load(session: AsyncSession, unit_id: int, version: int, year: int) -> UnitSnapshot:
    officers = await session.execute(
        select(
            Officer.id,
            Officer.name,
            Officer.name_key,
            Officer.positions,
            Officer.roles,
            Officer.active,
            Officer.department,
            Officer.department_head,
        )
        .where(Officer.unit_id == unit_id)
        .order_by(Officer.name_key, Officer.id)
    )
    active: list[Person] = []
    names: dict[int, str] = {}
    for row in officers:
        names[row.id] = row.name
        if row.active:
            positions, roles = tuple(row.positions or ()), tuple(row.roles or ())
            head = bool(row.department_head) and row.department is not None
            active.append(
                Person(row.id, row.name, row.name_key, positions, roles, row.department, head)
            )
    overrides = await session.execute(
        select(AssignmentOverride.criterion_id, AssignmentOverride.officer_id).where(
            AssignmentOverride.unit_id == unit_id
        )
    )
    choice = await plans_of_year(session, unit_id=unit_id, year=year)
    plans = await session.scalars(select(Plan.indexes).where(Plan.id.in_(choice.plan_ids)))
    return UnitSnapshot(
        unit_id=unit_id,
        version=version,
        people=People.of(active),
        names=names,
        overrides={criterion_id: officer_id for criterion_id, officer_id in overrides},
        items=await _leaf_items(session, unit_id, choice.plan_ids),
        indexes=frozenset(index for indexes in plans for index in indexes or ()),
        year=year,
        plan_ids=choice.plan_ids,
        earlier_year=choice.earlier_year,
    )


async def _leaf_items(
    session: AsyncSession, unit_id: int, plan_ids: frozenset[int]
) -> tuple[LeafItem, ...]:
    rows = await session.execute(
        select(
            Criterion.id,
            Criterion.index_name,
            Criterion.code,
            Criterion.title,
            Criterion.recurrence,
            Criterion.leads,
            Milestone.due_date,
        )
        .join(Plan, Plan.id == Criterion.plan_id)
        .outerjoin(Milestone, Milestone.criterion_id == Criterion.id)
        .where(
            Criterion.unit_id == unit_id,
            Criterion.active.is_(True),
            Criterion.is_leaf.is_(True),
            Plan.active.is_(True),
            Criterion.plan_id.in_(plan_ids),
        )
        .order_by(Criterion.plan_id, Criterion.ordinal, Milestone.ordinal, Milestone.id)
    )
    dates: dict[int, list[date]] = {}
    heads: dict[int, tuple[str, str, str, str | None, tuple[str, ...]]] = {}
    for row in rows:
        if row.id not in heads:
            heads[row.id] = (
                row.index_name,
                row.code,
                row.title,
                row.recurrence,
                tuple(row.leads or ()),
            )
            dates[row.id] = []
        if row.due_date is not None:
            dates[row.id].append(row.due_date)
    return tuple(
        LeafItem(
            id=item_id,
            index_name=index_name,
            code=code,
            title=title,
            short_title=short_title(title, SHORT_TITLE_CHARS),
            recurrence=recurrence,
            leads=leads,
            due_dates=tuple(dates[item_id]),
        )
        for item_id, (index_name, code, title, recurrence, leads) in heads.items()
    )


# --- forgetting the per-transaction memo -----------------------------------------------------


def _forget(session: Session) -> None:
    """The session wrote to a watched table: what it remembered may be out of date."""
    session.info.pop(_MEMO, None)
    session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    session.info.pop(_MEMO, None)
    if transaction.parent is None:  # not a savepoint: the writes are committed or gone
        session.info.pop(_WROTE, None)


def _touches_watched_rows(session: Session) -> bool:
    """Pending (or, in after_flush, just flushed) changes to a watched table."""
    return any(
        getattr(instance, "__tablename__", None) in WATCHED_TABLES
        for instance in chain(session.new, session.dirty, session.deleted)
    )


@event.listens_for(Session, "after_flush")
def _forget_after_flushing_watched_rows(session: Session, context: object) -> None:
    # In after_flush, new/dirty/deleted still list what was just flushed.
    if _touches_watched_rows(session):
        _forget(session)


@event.listens_for(Session, "do_orm_execute")
def _forget_before_writing_watched_rows(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    if table is None or getattr(table, "name", None) in WATCHED_TABLES:
        _forget(state.session)
