"""What the web dashboard shows: each unit's summary as of today, and the province's table.

A unit's numbers are :func:`core.summary.compute_summary`'s, the chat summary's own
computation, so the web and /tonghop never disagree. Computing it is a dozen queries
per unit, too many for a hundred communes on every page view, so each unit's summary is
kept in memory under a *fingerprint* of everything that moves it:

- ``units.data_version`` (officers, plans, items, milestones, reassignments: 0005's triggers);
- the count, newest id and withdrawn count of its progress reports and of its evidence;
- its officers' latest activity and how many are unreachable;
- the day it is "as of" (overdue and silent depend on the date).

The fingerprints of every unit are read in a fixed number of grouped queries (4, however
many units), and only the units whose fingerprint changed are computed again; so the
province page costs a fixed number of statements once warm, and any write anywhere
(this process, the CLI, another process) is seen at the next request.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.progress import unit_tz
from core.summary import compute_summary
from core.summary_model import Summary
from storage.models import ChannelAccount, Evidence, Officer, Plan, ProgressUpdate, Unit

MAX_CACHED = 2048  # units; a province has a few hundred communes at most
# An officer who linked accounts, every one of which blocked the bot.
_UNREACHABLE = and_(
    exists().where(ChannelAccount.officer_id == Officer.id),
    ~exists().where(ChannelAccount.officer_id == Officer.id, ChannelAccount.unreachable.is_(False)),
)


@dataclass(frozen=True)
class ProvinceRow:
    """One commune in the province table."""

    unit_id: int
    unit: str
    done: int
    items: int
    overdue: int
    secured: float
    target: float
    at_risk: float
    last_activity: datetime | None
    silent_officers: int
    unreachable_officers: int
    plan_year: int | None  # the newest year the unit's live plans cover
    plan_current: bool  # a live plan covers this year

    @property
    def percent_done(self) -> float:
        return round(100 * self.done / self.items, 1) if self.items else 0.0


@dataclass(frozen=True)
class UnitState:
    """A unit's summary as of a day, with what the province row adds to it."""

    fingerprint: tuple[Any, ...]
    summary: Summary
    row: ProvinceRow


class UnitStateCache:
    """Units' states by unit id, least recently used dropped first; one per web server
    (a test's fresh database reuses unit ids, so the cache must not outlive its server)."""

    def __init__(self, size: int = MAX_CACHED) -> None:
        self.size = size
        self.states: OrderedDict[int, UnitState] = OrderedDict()
        self.extras: OrderedDict[Any, Any] = OrderedDict()  # e.g. a chart, by fingerprint

    def extra(self, key: Any) -> Any:
        return self.extras.get(key)

    def keep_extra(self, key: Any, value: Any) -> None:
        self.extras[key] = value
        while len(self.extras) > self.size:
            self.extras.popitem(last=False)


def today_in(unit: Unit, now: datetime) -> date:
    return now.astimezone(unit_tz(unit)).date()


async def _fingerprints(
    session: AsyncSession, unit_ids: list[int] | None
) -> dict[int, tuple[Any, ...]]:
    """Per unit, the facts whose change can move its numbers (4 statements)."""

    def scoped(query: Any, column: Any) -> Any:
        return query if unit_ids is None else query.where(column.in_(unit_ids))

    found: dict[int, list[Any]] = {}
    for unit_id, version in await session.execute(
        scoped(select(Unit.id, Unit.data_version), Unit.id)
    ):
        found[unit_id] = [version]
    for model in (ProgressUpdate, Evidence):
        grouped = scoped(
            select(
                model.unit_id,
                func.count(),
                func.max(model.id),
                func.count(model.withdrawn_at),
            ).group_by(model.unit_id),
            model.unit_id,
        )
        facts = {row[0]: tuple(row[1:]) for row in await session.execute(grouped)}
        for unit_id, values in found.items():
            values.append(facts.get(unit_id))
    officers = scoped(
        select(
            Officer.unit_id,
            func.max(Officer.last_activity_at),
            func.sum(case((_UNREACHABLE, 1), else_=0)),
        )
        .where(Officer.active.is_(True))
        .group_by(Officer.unit_id),
        Officer.unit_id,
    )
    facts = {row[0]: tuple(row[1:]) for row in await session.execute(officers)}
    for unit_id, values in found.items():
        values.append(facts.get(unit_id))
    return {unit_id: tuple(values) for unit_id, values in found.items()}


async def unit_states(
    session: AsyncSession,
    *,
    cache: UnitStateCache,
    now: datetime,
    unit_ids: list[int] | None = None,
) -> list[UnitState]:
    """Every unit's (or the listed units') state as of today, by name; computed again only
    for the units whose fingerprint changed."""
    prints = await _fingerprints(session, unit_ids)
    stale = []
    for unit_id, fingerprint in prints.items():
        cached = cache.states.get(unit_id)
        if cached is None or cached.fingerprint[1:] != fingerprint:
            stale.append(unit_id)
    if stale:
        units = (await session.scalars(select(Unit).where(Unit.id.in_(stale)))).all()
        years = await _plan_years(session, stale)
        for unit in units:
            day = today_in(unit, now)
            summary = await compute_summary(session, unit=unit, as_of=day)
            officers = prints[unit.id][-1]
            unreachable = int(officers[1] or 0) if officers else 0
            row = _province_row(unit, summary, years.get(unit.id, ()), day, unreachable)
            cache.states[unit.id] = UnitState((day, *prints[unit.id]), summary, row)
    states = []
    for unit_id in prints:
        state = cache.states[unit_id]
        cache.states.move_to_end(unit_id)
        states.append(state)
    while len(cache.states) > cache.size:
        cache.states.popitem(last=False)
    return sorted(states, key=lambda s: s.row.unit)


async def unit_state(
    session: AsyncSession, *, cache: UnitStateCache, unit_id: int, now: datetime
) -> UnitState | None:
    found = await unit_states(session, cache=cache, now=now, unit_ids=[unit_id])
    return found[0] if found else None


async def _plan_years(
    session: AsyncSession, unit_ids: list[int]
) -> dict[int, list[tuple[int | None, int | None, int | None]]]:
    years: dict[int, list[tuple[int | None, int | None, int | None]]] = {}
    rows = await session.execute(
        select(Plan.unit_id, Plan.year, Plan.period_start, Plan.period_end).where(
            Plan.unit_id.in_(unit_ids), Plan.active.is_(True)
        )
    )
    for unit_id, year, start, end in rows:
        years.setdefault(unit_id, []).append((year, start, end))
    return years


def _province_row(
    unit: Unit, summary: Summary, plans: Any, day: date, unreachable: int
) -> ProvinceRow:
    lines = [line for index in summary.indexes for line in index.items]
    points = [index.points for index in summary.indexes if index.points is not None]
    last_report = max(
        (officer.last_activity for officer in summary.officers if officer.last_activity),
        default=None,
    )
    covered = [
        (start or year, end or year) for year, start, end in plans if (start or year) is not None
    ]
    newest = max((end or start for start, end in covered), default=None)
    return ProvinceRow(
        unit_id=unit.id,
        unit=unit.name,
        done=sum(1 for line in lines if line.status == "done"),
        items=len(lines),
        overdue=sum(1 for line in lines if line.overdue),
        secured=round(sum(p.secured for p in points), 2),
        target=round(sum(p.target for p in points), 2),
        at_risk=round(sum(p.at_risk for p in points), 2),
        last_activity=last_report,
        silent_officers=len(summary.silent_officers),
        unreachable_officers=unreachable,
        plan_year=newest,
        plan_current=any(start <= day.year <= end for start, end in covered),
    )
