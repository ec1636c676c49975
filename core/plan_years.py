"""Which of a unit's plans are current on a day, and which are history.

The rule (issue 18), per unit and never per index:

- the current plans are those whose period covers the day's year (several
  indexes of one year together, a 2023–2025 plan through 2025);
- if none covers it yet (the new plan comes in February), the plans of the
  latest earlier year stay current until one does, so a late import leaves no
  gap; a plan imported in December for next year takes over on 1 January;
- a unit with only plans of later years (its first plan, imported for next
  year) has those current: there is nothing else to work on yet;
- a plan closed by hand (``plan close``) is no longer current, and it still
  counts as its year's plan, so closing last year's plans revives nothing older;
- a plan brought in by a unit merge is history, never current.

Summaries and evidence packs dated on a day look at the same rule with the
merged-in history included: a 2025 summary of a merged unit shows the 2025
plans of the units it was made from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import AuditLog, Criterion, Officer, Plan, Unit
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class PlanYears:
    """A plan as the rule sees it."""

    id: int
    start: int | None
    end: int | None
    closed_at: datetime | None = None
    origin_unit_id: int | None = None
    origin_name: str | None = None  # the unit a merge brought it from
    imported_at: datetime | None = None

    def covers(self, year: int) -> bool:
        return (self.start is None or self.start <= year) and (self.end is None or self.end >= year)

    def before(self, year: int) -> bool:
        return self.end is not None and self.end < year


@dataclass(frozen=True)
class Choice:
    """The plans of a day: their ids, and the year they are from when it is earlier."""

    plan_ids: frozenset[int]
    earlier_year: int | None  # set when no plan covers the day's year yet


def choose_plans(
    plans: Iterable[PlanYears],
    *,
    year: int,
    history: bool = False,
    closed_before: datetime | None = None,
) -> Choice:
    """The plans current in ``year``.

    ``history`` includes the plans a merge brought in (summaries and packs).
    ``closed_before``: plans closed at or after it still count (a summary dated
    before the closing); None means closed plans are never current.
    """
    pool = [p for p in plans if history or p.origin_unit_id is None]
    covering = [p for p in pool if p.covers(year)]
    earlier_year = None
    if not covering:
        ends = [p.end for p in pool if p.before(year) and p.end is not None]
        starts = [p.start for p in pool if p.start is not None and p.start > year]
        if ends:
            earlier_year = max(ends)
            covering = [p for p in pool if p.covers(earlier_year)]
        elif starts:
            covering = [p for p in pool if p.covers(min(starts))]
    return Choice(frozenset(p.id for p in covering if _open(p, closed_before)), earlier_year)


def _open(plan: PlanYears, closed_before: datetime | None) -> bool:
    if plan.closed_at is None:
        return True
    return closed_before is not None and plan.closed_at >= closed_before


_ORIGIN = aliased(Unit)
_PLAN_ROWS = (
    Plan.id,
    Plan.period_start,
    Plan.period_end,
    Plan.year,
    Plan.closed_at,
    Plan.origin_unit_id,
    _ORIGIN.name,
    Plan.imported_at,
)


async def unit_plan_years(session: AsyncSession, *, unit_id: int) -> list[PlanYears]:
    rows = await session.execute(
        select(*_PLAN_ROWS)
        .outerjoin(_ORIGIN, _ORIGIN.id == Plan.origin_unit_id)
        .where(Plan.unit_id == unit_id, Plan.active.is_(True))
        .order_by(Plan.id)
    )
    # A plan without a period but with a year covers that year; one with neither, every year.
    return [
        PlanYears(
            row.id,
            row.period_start if row.period_start is not None else row.year,
            row.period_end if row.period_end is not None else row.year,
            row.closed_at,
            row.origin_unit_id,
            row.name,
            row.imported_at,
        )
        for row in rows
    ]


async def plans_of_year(
    session: AsyncSession,
    *,
    unit_id: int,
    year: int,
    history: bool = False,
    closed_before: datetime | None = None,
) -> Choice:
    """The unit's plans for ``year`` (see the module's rule)."""
    plans = await unit_plan_years(session, unit_id=unit_id)
    return choose_plans(plans, year=year, history=history, closed_before=closed_before)


def years_label(start: int | None, end: int | None) -> str:
    if start is None:
        return "không rõ năm"
    return str(start) if end in (None, start) else f"{start}–{end}"


def keep_history_owners(
    owners: dict[int, list[Officer]], criteria: Iterable[Criterion], plans: Iterable[PlanYears]
) -> None:
    """Owners of a merged-in plan's items are the officers who came from its unit (in place)."""
    origin_of = {p.id: p.origin_unit_id for p in plans if p.origin_unit_id is not None}
    for criterion in criteria:
        origin = origin_of.get(criterion.plan_id)
        if origin is not None and criterion.id in owners:
            owners[criterion.id] = [o for o in owners[criterion.id] if o.origin_unit_id == origin]


def index_label(index: str, origin: str | None) -> str:
    """ "PAR", or "PAR (Xã A)" for a merged-in plan: two old units' codes never mix."""
    return f"{index} ({origin})" if origin else index


# --- which plans are current, as people read it (plan list, /kehoach) ----------------------


@dataclass(frozen=True)
class PlanStatus:
    plan: Plan
    status: str  # "hiện hành", "sắp tới", "đã qua", "đã đóng", "lịch sử (từ Xã A)"
    current: bool


async def plan_statuses(session: AsyncSession, *, unit_id: int, day: date) -> list[PlanStatus]:
    """Every plan of the unit with what it is on ``day``, oldest first."""
    plans = list(
        await session.scalars(
            select(Plan)
            .where(Plan.unit_id == unit_id, Plan.active.is_(True))
            .order_by(Plan.period_start, Plan.id)
        )
    )
    rows = await unit_plan_years(session, unit_id=unit_id)
    choice = choose_plans(rows, year=day.year)
    by_id = {row.id: row for row in rows}
    result = []
    for plan in plans:
        row = by_id[plan.id]
        if plan.id in choice.plan_ids:
            status = "hiện hành"
            if choice.earlier_year is not None:
                status += f" (của năm {choice.earlier_year}, chưa có kế hoạch năm {day.year})"
        elif plan.origin_unit_id is not None:
            status = f"lịch sử (từ {row.origin_name or '?'})"
        elif plan.closed_at is not None:
            status = "đã đóng"
        elif row.start is not None and row.start > day.year:
            status = f"sắp tới (hiện hành từ 01/01/{row.start})"
        else:
            status = "đã qua"
        result.append(PlanStatus(plan, status, plan.id in choice.plan_ids))
    return result


def current_plans_text(statuses: list[PlanStatus], *, year: int) -> str:
    """One line for the admin: the current plans, and whether they are from an earlier year."""
    current = [s.plan for s in statuses if s.current]
    if not current:
        return "Chưa có kế hoạch hiện hành."
    names = "; ".join(
        f"{', '.join(p.indexes or [])} {years_label(p.period_start, p.period_end)}" for p in current
    )
    start = min((p.period_end or p.period_start or year) for p in current)
    if start < year:
        return (
            f"Kế hoạch hiện hành: {names}, của năm trước (chưa có kế hoạch năm {year}; "
            "vẫn nhắc việc theo kế hoạch này đến khi nhập kế hoạch mới)."
        )
    return f"Kế hoạch hiện hành: {names}."


class PlanCloseError(ValueError):
    """Nothing to close: the message says why, in Vietnamese."""


async def close_plans(
    session: AsyncSession,
    *,
    unit: Unit,
    year: int,
    index: str | None,
    actor: str,
    officer_id: int | None = None,
) -> list[Plan]:
    """End the unit's own open plans covering ``year`` (one index's, with ``index``); audited.

    Closing one index of a plan that holds several would end the others too:
    refused, with the plan's indexes named. Closing twice changes nothing more.
    """
    wanted = index.strip().upper() if index else None
    rows = await unit_plan_years(session, unit_id=unit.id)
    ids = [r.id for r in rows if r.origin_unit_id is None and r.covers(year)]
    plans = list(await session.scalars(select(Plan).where(Plan.id.in_(ids)).order_by(Plan.id)))
    if wanted:
        plans = [p for p in plans if wanted in (p.indexes or [])]
    if not plans:
        what = f"bộ chỉ số {wanted} " if wanted else ""
        raise PlanCloseError(f"{unit.name} không có kế hoạch {what}năm {year}.")
    mixed = [p for p in plans if wanted and set(p.indexes or []) != {wanted}]
    if mixed:
        both = ", ".join(mixed[0].indexes or [])
        raise PlanCloseError(
            f"Kế hoạch năm {year} của {unit.name} gồm {both} trong một văn bản: "
            f"không đóng riêng {wanted} được. Bỏ --index để đóng cả kế hoạch."
        )
    now = utcnow()
    closed = [p for p in plans if p.closed_at is None]
    for plan in closed:
        plan.closed_at = now
        session.add(
            AuditLog(
                unit_id=unit.id,
                actor_officer_id=officer_id,
                actor=actor,
                action="plan.close",
                entity="plan",
                entity_id=plan.id,
                old={"closed_at": None},
                new={"closed_at": now.isoformat(), "year": year, "indexes": plan.indexes},
            )
        )
    await session.flush()
    return closed
