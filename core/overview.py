"""The unit at a glance: the overdue list (/quahan) and a short status (/tonghop).

Both read leaf items only (parents are the sum of their children) and run a
fixed number of queries however large the plan is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.items import live_leaf_criteria, natural_key
from core.ownership import owners_by_criterion
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


def _dates(criterion: Criterion) -> list[date]:
    return [m.due_date for m in criterion.milestones]


async def overdue_items(session: AsyncSession, *, unit: Unit, today: date) -> list[OverdueItem]:
    """Every overdue leaf item with its owners, the most days late first."""
    criteria = await live_leaf_criteria(session, unit_id=unit.id, day=today)
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
