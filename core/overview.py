"""The unit at a glance: the overdue list (/quahan) and a short status (/tonghop).

Both read leaf items only (parents are the sum of their children) and run a
fixed number of queries however large the plan is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.items import live_leaf_criteria, natural_key
from core.ownership import DUE_SOON_DAYS, owners_by_criterion
from core.progress import NOT_STARTED, current_states, missed_date, report_days, unit_tz
from storage.models import Criterion, Officer, Unit


@dataclass(frozen=True)
class OverdueItem:
    criterion: Criterion
    owners: list[Officer]
    due_date: date  # the first milestone missed
    days_late: int
    status: str
    percent: int


@dataclass
class IndexStatus:
    index: str
    items: int = 0
    done: int = 0
    in_progress: int = 0
    blocked: int = 0
    not_started: int = 0
    overdue: int = 0
    due_next_7: int = 0  # not done, with a milestone in the next 7 days (today included)


@dataclass
class ShortStatus:
    indexes: list[IndexStatus] = field(default_factory=list)

    @property
    def total(self) -> IndexStatus:
        total = IndexStatus(index="")
        for part in self.indexes:
            for name in ("items", "done", "in_progress", "blocked", "not_started"):
                setattr(total, name, getattr(total, name) + getattr(part, name))
            total.overdue += part.overdue
            total.due_next_7 += part.due_next_7
        return total


def _dates(criterion: Criterion) -> list[date]:
    return [m.due_date for m in criterion.milestones]


async def overdue_items(session: AsyncSession, *, unit: Unit, today: date) -> list[OverdueItem]:
    """Every overdue leaf item with its owners, the most days late first."""
    criteria = await live_leaf_criteria(session, unit_id=unit.id)
    ids = [c.id for c in criteria]
    states = await current_states(session, criterion_ids=ids)
    reports = await report_days(session, criterion_ids=ids, tz=unit_tz(unit))
    late: list[tuple[Criterion, date]] = []
    for criterion in criteria:
        state = states.get(criterion.id, NOT_STARTED)
        missed = missed_date(
            _dates(criterion),
            state.status,
            criterion.recurrence,
            today,
            reports.get(criterion.id, ()),
        )
        if missed is not None:
            late.append((criterion, missed))
    owners = await owners_by_criterion(session, unit=unit, criteria=[c for c, _ in late])
    items = [
        OverdueItem(
            criterion=c,
            owners=owners[c.id],
            due_date=missed,
            days_late=(today - missed).days,
            status=states.get(c.id, NOT_STARTED).status,
            percent=states.get(c.id, NOT_STARTED).percent,
        )
        for c, missed in late
    ]
    items.sort(key=lambda i: (-i.days_late, i.criterion.index_name, natural_key(i.criterion.code)))
    return items


async def short_status(session: AsyncSession, *, unit: Unit, today: date) -> ShortStatus:
    criteria = await live_leaf_criteria(session, unit_id=unit.id)
    ids = [c.id for c in criteria]
    states = await current_states(session, criterion_ids=ids)
    reports = await report_days(session, criterion_ids=ids, tz=unit_tz(unit))
    by_index: dict[str, IndexStatus] = {}
    soon = today + timedelta(days=DUE_SOON_DAYS)
    for criterion in criteria:
        part = by_index.setdefault(criterion.index_name, IndexStatus(criterion.index_name))
        state = states.get(criterion.id, NOT_STARTED)
        part.items += 1
        setattr(part, state.status, getattr(part, state.status) + 1)
        dates = _dates(criterion)
        reported = reports.get(criterion.id, ())
        if missed_date(dates, state.status, criterion.recurrence, today, reported) is not None:
            part.overdue += 1
        if state.status != "done" and criterion.recurrence != "continuous":
            part.due_next_7 += any(today <= due <= soon for due in dates)
    return ShortStatus(indexes=list(by_index.values()))
