"""Computing the weekly summary of a unit from the database.

"As of" a date means as of the end of that day in the unit's time zone:
progress reports and evidence made later are left out, so the summary of a
past week can be recomputed exactly, and the trend is simply the same
computation one week earlier. The number of SQL statements is fixed, however
many items and reports the unit has.

Counting rules (the issue's): leaf items only (parents are derived), for the
maximum and target points too; *secured*
points are the target points of leaf items done with evidence; *at risk* are
the target points of leaf items overdue, blocked, or done without evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.items import live_criteria_query, natural_key
from core.ownership import display_due, owners_by_criterion
from core.plan_years import choose_plans, index_label, keep_history_owners, unit_plan_years
from core.progress import missed_date, unit_tz
from core.summary_model import (
    AreaRow,
    IndexSummary,
    ItemLine,
    OfficerRow,
    Points,
    Summary,
    Totals,
    Trend,
)
from core.text import short_title as shorten
from storage.models import Criterion, Evidence, Officer, ProgressUpdate, Unit

SILENT_AFTER_DAYS = 14
DUE_SOON_DAYS = 7


@dataclass
class _State:
    percent: int = 0
    status: str = "not_started"
    note: str | None = None
    updated_at: datetime | None = None


@dataclass
class _Facts:
    """Everything the summary needs, loaded once (a fixed number of queries)."""

    criteria: list[Criterion]  # active, every level, document order
    reports: list[ProgressUpdate]  # every report up to the cutoff, oldest first
    evidence: list[tuple[int, datetime]]  # (criterion id, uploaded at) up to the cutoff
    officers: list[Officer]
    owners: dict[int, list[Officer]]
    first_import: datetime | None
    # plan id -> the unit a merge brought it from ("Xã A"): its index is shown apart
    origins: dict[int, str] = field(default_factory=dict)


async def compute_summary(session: AsyncSession, *, unit: Unit, as_of: date) -> Summary:
    tz = unit_tz(unit)
    cutoff = end_of_day(as_of, tz)
    facts = await _load(session, unit=unit, as_of=as_of, cutoff=cutoff)
    indexes = _indexes(facts, as_of, cutoff, tz)
    leaves = [line for index in indexes for line in index.items]
    return Summary(
        unit=unit.name,
        as_of=as_of,
        indexes=indexes,
        officers=_officer_rows(facts, leaves, cutoff),
        silent_officers=_silent(facts, leaves, cutoff),
        evidence_added=sum(1 for _, at in facts.evidence if at > cutoff - timedelta(days=7)),
        trend=_trend(facts, indexes, as_of, tz),
    )


def end_of_day(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


async def _load(session: AsyncSession, *, unit: Unit, as_of: date, cutoff: datetime) -> _Facts:
    # The plans of as_of's year, history included, as they stood then: a later
    # import, a merge or a plan closed afterwards leaves a past summary as it was.
    rows = await unit_plan_years(session, unit_id=unit.id)
    plans = choose_plans(rows, year=as_of.year, history=True, closed_before=cutoff)
    criteria = list(
        (
            await session.scalars(
                live_criteria_query(unit.id, plans.plan_ids).options(
                    selectinload(Criterion.milestones)
                )
            )
        ).all()
    )
    reports = list(
        (
            await session.scalars(
                select(ProgressUpdate)
                .where(
                    ProgressUpdate.unit_id == unit.id,
                    ProgressUpdate.created_at < cutoff,
                    ProgressUpdate.withdrawn_at.is_(None),
                )
                .order_by(ProgressUpdate.created_at, ProgressUpdate.id)
            )
        ).all()
    )
    evidence = [
        (criterion_id, created_at)
        for criterion_id, created_at in await session.execute(
            select(Evidence.criterion_id, Evidence.created_at).where(
                Evidence.unit_id == unit.id,
                Evidence.created_at < cutoff,
                Evidence.withdrawn_at.is_(None),
            )
        )
    ]
    officers = list(
        (
            await session.scalars(
                select(Officer)
                .where(Officer.unit_id == unit.id, Officer.active.is_(True))
                .order_by(Officer.name_key)
            )
        ).all()
    )
    leaves = [c for c in criteria if c.is_leaf]
    owners = await owners_by_criterion(session, unit=unit, criteria=leaves)
    keep_history_owners(owners, leaves, rows)
    first_import = min((r.imported_at for r in rows if r.imported_at is not None), default=None)
    origins = {r.id: r.origin_name for r in rows if r.origin_name is not None}
    return _Facts(criteria, reports, evidence, officers, owners, first_import, origins)


def _states(reports: Iterable[ProgressUpdate], before: datetime) -> dict[int, _State]:
    states: dict[int, _State] = {}
    for report in reports:  # oldest first: the last one wins
        if report.created_at < before:
            states[report.criterion_id] = _State(
                report.percent, report.status, report.note, report.created_at
            )
    return states


def _report_days(
    reports: Iterable[ProgressUpdate], before: datetime, tz: tzinfo
) -> dict[int, list[date]]:
    days: dict[int, list[date]] = defaultdict(list)
    for report in reports:
        if report.created_at < before:
            days[report.criterion_id].append(report.created_at.astimezone(tz).date())
    return days


def _indexes(facts: _Facts, as_of: date, cutoff: datetime, tz: tzinfo) -> list[IndexSummary]:
    states = _states(facts.reports, cutoff)
    reports = _report_days(facts.reports, cutoff, tz)
    evidence_count: dict[int, int] = defaultdict(int)
    for criterion_id, _ in facts.evidence:
        evidence_count[criterion_id] += 1
    lines = {
        c.id: _item_line(c, states, reports, evidence_count, facts.owners, as_of)
        for c in facts.criteria
        if c.is_leaf
    }
    by_index: dict[str, list[Criterion]] = defaultdict(list)
    for criterion in facts.criteria:
        by_index[index_label(criterion.index_name, facts.origins.get(criterion.plan_id))].append(
            criterion
        )
    return [_index_summary(name, rows, lines, as_of) for name, rows in by_index.items()]


def _item_line(
    criterion: Criterion,
    states: dict[int, _State],
    reports: dict[int, list[date]],
    evidence_count: dict[int, int],
    owners: dict[int, list[Officer]],
    as_of: date,
) -> ItemLine:
    state = states.get(criterion.id, _State())
    dates = [m.due_date for m in criterion.milestones]
    reported = reports.get(criterion.id, [])
    missed = missed_date(dates, state.status, criterion.recurrence, as_of, reported)
    return ItemLine(
        criterion_id=criterion.id,
        index=criterion.index_name,
        code=criterion.code,
        title=criterion.title,
        short_title=shorten(criterion.title),
        owners=[o.name for o in owners.get(criterion.id, [])],
        due_date=display_due(dates, state.status, reported),
        status=state.status,
        percent=state.percent,
        overdue=missed is not None,
        days_late=(as_of - missed).days if missed else 0,
        last_note=state.note,
        evidence_count=evidence_count.get(criterion.id, 0),
        max_points=criterion.max_points,
        target_points=criterion.target_points,
    )


def _index_summary(
    name: str, criteria: Sequence[Criterion], lines: dict[int, ItemLine], as_of: date
) -> IndexSummary:
    items = [lines[c.id] for c in criteria if c.id in lines]
    soon = as_of + timedelta(days=DUE_SOON_DAYS)
    due_next_week = [
        line
        for line in items
        if line.status != "done"
        and not line.overdue
        and line.due_date is not None
        and as_of <= line.due_date <= soon
    ]
    overdue = sorted(
        (line for line in items if line.overdue),
        key=lambda line: (-line.days_late, natural_key(line.code)),
    )
    return IndexSummary(
        index=name,
        totals=_totals(items, len(due_next_week)),
        points=_points(criteria, items),
        areas=_areas(criteria, lines),
        overdue=overdue,
        due_next_week=sorted(
            due_next_week, key=lambda line: (line.due_date or soon, natural_key(line.code))
        ),
        items=items,
    )


def _totals(items: Sequence[ItemLine], due_next_7: int) -> Totals:
    totals = Totals(items=len(items), due_next_7=due_next_7)
    for line in items:
        setattr(totals, line.status, getattr(totals, line.status) + 1)
        totals.overdue += line.overdue
    return totals


def _points(criteria: Sequence[Criterion], items: Sequence[ItemLine]) -> Points | None:
    if not any(c.max_points is not None for c in criteria):
        return None
    secured = at_risk = 0.0
    for line in items:
        target = line.target_points or 0.0
        if line.status == "done" and line.evidence_count:
            secured += target
        elif line.overdue or line.status == "blocked" or line.status == "done":
            at_risk += target  # late, stuck, or done but nothing to show the inspectors
    return Points(
        # From the leaves, like secured and at risk: points are earned on leaves, and a
        # document's area rows may add up differently (Phường 6: 97,9 against 98,9).
        max=round(sum(line.max_points or 0.0 for line in items), 2),
        target=round(sum(line.target_points or 0.0 for line in items), 2),
        secured=round(secured, 2),
        at_risk=round(at_risk, 2),
    )


def _areas(criteria: Sequence[Criterion], lines: dict[int, ItemLine]) -> list[AreaRow]:
    """Each top-level criterion with the leaves below it (or itself, if it is a leaf)."""
    parent_of = {c.id: c.parent_id for c in criteria}

    def area_of(criterion_id: int) -> int:
        while parent_of.get(criterion_id) is not None:
            criterion_id = parent_of[criterion_id]  # type: ignore[assignment]
        return criterion_id

    members: dict[int, list[ItemLine]] = defaultdict(list)
    for criterion in criteria:
        if criterion.id in lines:
            members[area_of(criterion.id)].append(lines[criterion.id])
    rows = []
    for area in (c for c in criteria if c.parent_id is None):
        leaves = members.get(area.id, [])
        rows.append(
            AreaRow(
                code=area.code,
                title=area.title,
                items=len(leaves),
                done=sum(line.status == "done" for line in leaves),
                in_progress=sum(line.status == "in_progress" for line in leaves),
                not_started=sum(line.status in ("not_started", "blocked") for line in leaves),
                overdue=sum(line.overdue for line in leaves),
            )
        )
    return rows


def _officer_rows(facts: _Facts, leaves: Sequence[ItemLine], cutoff: datetime) -> list[OfficerRow]:
    owned: dict[int, list[ItemLine]] = defaultdict(list)
    by_id = {line.criterion_id: line for line in leaves}
    for criterion_id, owners in facts.owners.items():
        for owner in owners:
            if criterion_id in by_id:
                owned[owner.id].append(by_id[criterion_id])
    last = _last_activity(facts, cutoff)
    return [
        OfficerRow(
            name=officer.name,
            items=len(owned[officer.id]),
            done=sum(line.status == "done" for line in owned[officer.id]),
            overdue=sum(line.overdue for line in owned[officer.id]),
            last_activity=last.get(officer.id),
        )
        for officer in facts.officers
        if owned[officer.id]
    ]


def _last_activity(facts: _Facts, cutoff: datetime) -> dict[int, datetime]:
    """The last report each officer made up to the cutoff (what the chairman cares about)."""
    last: dict[int, datetime] = {}
    for report in facts.reports:
        if report.officer_id is not None and report.created_at < cutoff:
            last[report.officer_id] = report.created_at
    return last


def _silent(facts: _Facts, leaves: Sequence[ItemLine], cutoff: datetime) -> list[str]:
    rows = _officer_rows(facts, leaves, cutoff)
    since = cutoff - timedelta(days=SILENT_AFTER_DAYS)
    return [row.name for row in rows if row.last_activity is None or row.last_activity < since]


def _trend(facts: _Facts, indexes: Sequence[IndexSummary], as_of: date, tz: tzinfo) -> Trend | None:
    """Items done and points secured compared with the same summary one week earlier."""
    previous = as_of - timedelta(days=7)
    before = end_of_day(previous, tz)
    if facts.first_import is None or facts.first_import >= before:
        return None  # there was no plan a week ago: nothing to compare with
    earlier = _Facts(
        facts.criteria,
        [r for r in facts.reports if r.created_at < before],
        [(cid, at) for cid, at in facts.evidence if at < before],
        facts.officers,
        facts.owners,
        facts.first_import,
    )
    then = _indexes(earlier, previous, before, tz)
    return Trend(
        done_delta=_done(indexes) - _done(then),
        secured_delta=round(_secured(indexes) - _secured(then), 2),
    )


def _done(indexes: Sequence[IndexSummary]) -> int:
    return sum(index.totals.done for index in indexes)


def _secured(indexes: Sequence[IndexSummary]) -> float:
    return sum(index.points.secured for index in indexes if index.points)
