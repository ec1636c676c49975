"""Who owns a plan item, who may report on it, and each officer's list of items.

The rules (issue 3, "Who is who → Ownership"):

* An admin's override names the single owner of an item.
* Otherwise the owners are the active officers holding one of the item's lead
  positions (officer positions only: VPTK, TPHT, …) and, for a lead that is a
  merged commune's department (PKT, VPUB, …), the department's head.
* Items led only by everyone (ALL), by the committee (UBND) or an outside body
  (MTTQ), items with no mapped lead, and items whose lead position nobody holds
  go to the unit's coordinators, who chase or reassign them. A unit without a
  coordinator gives them to its admins, so that no item is left without anyone.
* ALL items are also everybody's "Việc chung": every officer sees them and may
  report on them.
* A department's items are its members' "Việc của phòng": they see them and
  may report on them, but are not reminded about them for being members (only
  owners are reminded).

Nothing ever crosses units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.items import natural_key
from core.positions import PositionCatalogue, default_catalogue
from core.progress import (
    NOT_STARTED,
    ItemState,
    current_states,
    missed_date,
    open_milestone,
    report_days,
    unit_tz,
)
from core.unit_snapshot import LeafItem, People, Person, UnitSnapshot, unit_snapshot
from storage.models import AssignmentOverride, Criterion, Officer, Unit

DUE_SOON_DAYS = 7
GROUPS = ("overdue", "due_7", "later", "ongoing", "unscheduled")
SHARED_GROUPS = ("department", "common")  # seen and reported on, not owned


class OwnershipError(ValueError):
    """A reassignment that is not allowed; the message is Vietnamese."""


async def _people(session: AsyncSession, unit_id: int) -> tuple[People, dict[int, Officer]]:
    """The rules' view of the unit's active officers, and the ORM officers by id."""
    rows = await session.scalars(
        select(Officer)
        .where(Officer.unit_id == unit_id, Officer.active.is_(True))
        .order_by(Officer.name_key, Officer.id)
    )
    officers = list(rows.all())
    return People.of([Person.of(o) for o in officers]), {o.id: o for o in officers}


async def _overrides(session: AsyncSession, unit_id: int) -> dict[int, int]:
    # The whole unit's overrides in one query: they are few, and a list of
    # thousands of criterion ids would not fit in one IN (...).
    rows = await session.execute(
        select(AssignmentOverride.criterion_id, AssignmentOverride.officer_id).where(
            AssignmentOverride.unit_id == unit_id
        )
    )
    return {criterion_id: officer_id for criterion_id, officer_id in rows}


class _Led(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def leads(self) -> list[str] | tuple[str, ...]: ...


def _owners(
    criterion: _Led, people: People, overrides: dict[int, int], catalogue: PositionCatalogue
) -> list[Person]:
    chosen = people.by_id.get(overrides.get(criterion.id, -1))
    if chosen is not None:  # an override to someone since deactivated falls back to the rules
        return [chosen]
    holders: dict[int, Person] = {}
    for code in criterion.leads or ():
        kind = catalogue.kind(code)
        if kind == "officer":
            holders.update((o.id, o) for o in people.by_position.get(code, ()))
        elif kind == "department":
            holders.update((o.id, o) for o in people.heads.get(code, ()))
    if holders:
        return sorted(holders.values(), key=lambda o: (o.name_key, o.id))
    return list(people.fallback)


def is_common(criterion: _Led, catalogue: PositionCatalogue | None = None) -> bool:
    """An ALL item: everybody's "Việc chung"."""
    catalogue = catalogue or default_catalogue()
    return any(catalogue.kind(code) == "everyone" for code in criterion.leads or ())


def in_department(criterion: _Led, department: str | None) -> bool:
    """Is this one of ``department``'s items ("Việc của phòng" for its members)?"""
    return department is not None and department in (criterion.leads or ())


async def owners_by_criterion(
    session: AsyncSession, *, unit: Unit, criteria: Sequence[Criterion]
) -> dict[int, list[Officer]]:
    """Owners of many items of one unit in two queries, however many items."""
    people, officers = await _people(session, unit.id)
    overrides = await _overrides(session, unit.id)
    catalogue = default_catalogue()
    return {
        c.id: [officers[p.id] for p in _owners(c, people, overrides, catalogue)]
        for c in criteria
        if c.unit_id == unit.id
    }


async def owners_of(session: AsyncSession, *, criterion: Criterion) -> list[Officer]:
    people, officers = await _people(session, criterion.unit_id)
    override = await session.scalar(
        select(AssignmentOverride.officer_id).where(AssignmentOverride.criterion_id == criterion.id)
    )
    overrides = {criterion.id: override} if override is not None else {}
    return [officers[p.id] for p in _owners(criterion, people, overrides, default_catalogue())]


def snapshot_owners(snapshot: UnitSnapshot, criterion: _Led) -> list[Person]:
    """Owners of one item of the snapshot's unit, from the cached facts (no query)."""
    return _owners(criterion, snapshot.people, snapshot.overrides, default_catalogue())


async def can_update(session: AsyncSession, *, officer: Officer, criterion: Criterion) -> bool:
    """Owners, the unit's coordinators and admins, and anyone for "Việc chung"."""
    if not officer.active or not criterion.active or officer.unit_id != criterion.unit_id:
        return False
    if {"coordinator", "admin"} & set(officer.roles or ()) or is_common(criterion):
        return True
    if in_department(criterion, officer.department):
        return True
    snapshot = await unit_snapshot(session, unit_id=criterion.unit_id)
    return any(owner.id == officer.id for owner in snapshot_owners(snapshot, criterion))


async def assign(
    session: AsyncSession,
    *,
    criterion: Criterion,
    officer: Officer,
    actor: str,
    actor_officer_id: int | None,
) -> None:
    """Make ``officer`` the only owner of ``criterion`` (replacing an earlier override)."""
    if officer.unit_id != criterion.unit_id:
        raise OwnershipError("Cán bộ và mục không cùng đơn vị.")
    if not officer.active:
        raise OwnershipError(f"{officer.name} đã ngừng hoạt động.")
    row = await session.scalar(
        select(AssignmentOverride).where(AssignmentOverride.criterion_id == criterion.id)
    )
    old = {"officer_id": row.officer_id} if row else None
    if row is None:
        row = AssignmentOverride(unit_id=criterion.unit_id, criterion_id=criterion.id)
        session.add(row)
    row.officer_id, row.assigned_by_officer_id = officer.id, actor_officer_id
    _audit_assignment(session, criterion, actor, actor_officer_id, old, {"officer_id": officer.id})
    await session.flush()


async def clear_assignment(
    session: AsyncSession, *, criterion: Criterion, actor: str, actor_officer_id: int | None
) -> bool:
    """Give the item back to the position rules; False when there was no override."""
    row = await session.scalar(
        select(AssignmentOverride).where(AssignmentOverride.criterion_id == criterion.id)
    )
    if row is None:
        return False
    _audit_assignment(session, criterion, actor, actor_officer_id, {"officer_id": row.officer_id})
    await session.delete(row)
    await session.flush()
    return True


def _audit_assignment(
    session: AsyncSession,
    criterion: Criterion,
    actor: str,
    actor_officer_id: int | None,
    old: dict[str, int] | None,
    new: dict[str, int] | None = None,
) -> None:
    audit(
        session,
        unit_id=criterion.unit_id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action="assignment.set" if new else "assignment.clear",
        entity="criterion",
        entity_id=criterion.id,
        old=old,
        new=new,
    )


# --- an officer's list of items --------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    criterion_id: int
    index: str
    code: str
    title: str
    short_title: str
    due_date: date | None
    recurrence: str | None
    status: str
    percent: int
    days_late: int
    group: str


@dataclass
class OfficerItems:
    overdue: list[ItemView] = field(default_factory=list)
    due_7: list[ItemView] = field(default_factory=list)
    later: list[ItemView] = field(default_factory=list)
    ongoing: list[ItemView] = field(default_factory=list)
    unscheduled: list[ItemView] = field(default_factory=list)
    # "Việc của phòng": the officer's department's items they do not own.
    department: list[ItemView] = field(default_factory=list)
    common: list[ItemView] = field(default_factory=list)  # "Việc chung", not owned

    def groups(self) -> list[tuple[str, list[ItemView]]]:
        """Non-empty groups in display order, "department" then "common" last."""
        named = [(name, getattr(self, name)) for name in (*GROUPS, *SHARED_GROUPS)]
        return [(name, items) for name, items in named if items]

    def owned(self) -> list[ItemView]:
        return [item for name in GROUPS for item in getattr(self, name)]

    def __len__(self) -> int:
        return len(self.owned()) + len(self.department) + len(self.common)


def display_due(
    due_dates: Sequence[date], status: str, report_days: Sequence[date] = ()
) -> date | None:
    """The open milestone (missed or next), else the last one (done items)."""
    milestone = open_milestone(due_dates, done=status == "done", update_days=report_days)
    if milestone is not None:
        return milestone
    return max(due_dates) if due_dates else None


def item_view(
    criterion: LeafItem, state: ItemState, today: date, report_days: Sequence[date] = ()
) -> ItemView:
    dates = list(criterion.due_dates)
    due = display_due(dates, state.status, report_days)
    missed = missed_date(dates, state.status, criterion.recurrence, today, report_days)
    if criterion.recurrence == "continuous":
        group = "ongoing"
    elif not dates:
        group = "unscheduled"
    elif missed is not None:
        group = "overdue"
    elif due is not None and today <= due <= today + timedelta(days=DUE_SOON_DAYS):
        group = "due_7"
    else:
        group = "later"  # also done items whose dates have passed
    return ItemView(
        criterion_id=criterion.id,
        index=criterion.index_name,
        code=criterion.code,
        title=criterion.title,
        short_title=criterion.short_title,
        due_date=due,
        recurrence=criterion.recurrence,
        status=state.status,
        percent=state.percent,
        days_late=(today - missed).days if missed else 0,
        group=group,
    )


_Items = tuple[LeafItem, ...]


def _items_of(snapshot: UnitSnapshot, officer_id: int) -> tuple[_Items, _Items, _Items]:
    """The officer's own items, their department's items and the "Việc chung" they do
    not own; worked out once per snapshot and officer."""
    key = ("items_of", officer_id)
    if key not in snapshot.derived:
        catalogue = default_catalogue()
        person = snapshot.people.by_id.get(officer_id)
        department = person.department if person else None
        owned = tuple(
            item
            for item in snapshot.items
            if any(o.id == officer_id for o in snapshot_owners(snapshot, item))
        )
        owned_ids = {item.id for item in owned}
        own_department = tuple(
            i for i in snapshot.items if i.id not in owned_ids and in_department(i, department)
        )
        seen = owned_ids | {item.id for item in own_department}
        common = tuple(i for i in snapshot.items if i.id not in seen and is_common(i, catalogue))
        snapshot.derived[key] = (owned, own_department, common)
    found: tuple[_Items, _Items, _Items] = snapshot.derived[key]
    return found


def _sort_key(item: ItemView) -> tuple[object, ...]:
    return (item.due_date or date.max, natural_key(item.code), item.index)


async def officer_items(session: AsyncSession, *, officer: Officer, today: date) -> OfficerItems:
    """The officer's leaf items, grouped, plus the unit's "Việc chung" they do not own."""
    unit = await session.get_one(Unit, officer.unit_id)
    snapshot = await unit_snapshot(session, unit_id=unit.id, day=today)
    owned, own_department, common = _items_of(snapshot, officer.id)
    everything = (*owned, *own_department, *common)
    states = await current_states(session, criterion_ids=[item.id for item in everything])
    # Report days decide which milestone is open only for items with several.
    stepped = [item.id for item in everything if len(item.due_dates) > 1]
    reports = await report_days(session, criterion_ids=stepped, tz=unit_tz(unit))

    def view(item: LeafItem) -> ItemView:
        state = states.get(item.id, NOT_STARTED)
        return item_view(item, state, today, reports.get(item.id, ()))

    result = OfficerItems()
    for item in owned:
        shown = view(item)
        getattr(result, shown.group).append(shown)
    result.department = [view(i) for i in own_department]
    result.common = [view(i) for i in common]
    for name in (*GROUPS, *SHARED_GROUPS):
        items: list[ItemView] = getattr(result, name)
        if name in SHARED_GROUPS:
            items.sort(key=lambda v: (GROUPS.index(v.group), *_sort_key(v)))
        else:
            items.sort(key=_sort_key)
    return result
