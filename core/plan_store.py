"""Writing a ParsedPlan to the database, and reading plans back.

Import is one transaction owned by the caller's session: the caller commits
once, so a failure leaves the database as it was. Re-importing the same plan
(same unit, same period, an overlapping set of indexes) updates it in place.
Criteria are matched on (index, code, occurrence), so progress and evidence,
which hang off the criterion row, survive. A criterion that disappeared from
the document is switched off, never deleted: its history stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.plan_model import Milestone as ParsedMilestone
from core.plan_model import ParsedCriterion, ParsedPlan, ParseWarning, leaf_flags, parent_positions
from core.positions import PositionCatalogue, default_catalogue
from core.text import fold, fold_compact, nfc, one_line
from storage.models import (
    AuditLog,
    Criterion,
    Milestone,
    Plan,
    PlanIndexClaim,
    PositionAlias,
    Unit,
)
from storage.types import utcnow

# Fields whose change counts as "changed" in an import report.
_COMPARED_FIELDS = (
    "title",
    "requirement",
    "task",
    "max_points",
    "target_points",
    "leads",
    "supports",
    "lead_text",
    "support_text",
    "deadline_text",
    "recurrence",
    "parent_code",
    "synthetic_code",
)


class UnitNameError(ValueError):
    """The unit name is empty or unusable."""


@dataclass
class ImportReport:
    unit_name: str
    plan_id: int
    unit_created: bool
    plan_created: bool
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[ParseWarning] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit_name,
            "plan_id": self.plan_id,
            "unit_created": self.unit_created,
            "plan_created": self.plan_created,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "warnings": [w.as_json() for w in self.warnings],
        }


def clean_unit_name(name: str) -> str:
    cleaned = one_line(nfc(name))
    if not fold(cleaned):
        raise UnitNameError("Tên đơn vị không được để trống.")
    return cleaned


async def find_unit(session: AsyncSession, *, name: str) -> Unit | None:
    key = fold(clean_unit_name(name))
    return await session.scalar(select(Unit).where(Unit.name_key == key))


async def get_or_create_unit(session: AsyncSession, *, name: str) -> tuple[Unit, bool]:
    unit = await find_unit(session, name=name)
    if unit is not None:
        return unit, False
    cleaned = clean_unit_name(name)
    unit = Unit(name=cleaned, name_key=fold(cleaned))
    session.add(unit)
    await session.flush()
    return unit, True


async def unit_catalogue(
    session: AsyncSession, *, unit: Unit | None, base: PositionCatalogue | None = None
) -> PositionCatalogue:
    """The position catalogue plus the unit's own mappings of lead texts."""
    catalogue = base or default_catalogue()
    if unit is None:
        return catalogue
    rows = await session.scalars(select(PositionAlias).where(PositionAlias.unit_id == unit.id))
    extra = {row.alias_text: row.position_code for row in rows}
    return catalogue.with_aliases(extra) if extra else catalogue


async def add_position_alias(
    session: AsyncSession,
    *,
    unit: Unit,
    text: str,
    position_code: str,
    actor: str,
    officer_id: int | None = None,
) -> int:
    """Remember that ``text`` means ``position_code`` in this unit; re-map its criteria.

    Returns how many criteria got new owners from it.
    """
    key = fold_compact(text)
    if not key:
        raise ValueError("Nội dung cần ánh xạ không được để trống.")
    existing = await session.scalar(
        select(PositionAlias).where(
            PositionAlias.unit_id == unit.id, PositionAlias.alias_key == key
        )
    )
    old_code = existing.position_code if existing else None
    if existing is None:
        session.add(
            PositionAlias(
                unit_id=unit.id,
                alias_text=one_line(nfc(text)),
                alias_key=key,
                position_code=position_code,
                created_by_officer_id=officer_id,
            )
        )
    else:
        existing.position_code = position_code
    await session.flush()
    session.add(
        AuditLog(
            unit_id=unit.id,
            actor_officer_id=officer_id,
            actor=actor,
            action="position_alias.set",
            entity="position_alias",
            old={"text": text, "position": old_code},
            new={"text": text, "position": position_code},
        )
    )
    return await _remap_owners(session, unit=unit)


async def _remap_owners(session: AsyncSession, *, unit: Unit) -> int:
    catalogue = await unit_catalogue(session, unit=unit)
    rows = await session.execute(
        select(Criterion, Plan.year)
        .join(Plan, Plan.id == Criterion.plan_id)
        .where(Criterion.unit_id == unit.id, Criterion.active.is_(True))
        .options(selectinload(Criterion.milestones))
    )
    changed = 0
    for criterion, year in rows:
        # As the plan's year spells leads: "Phòng Kinh tế" is DCXD in 2024, PKT in 2026.
        in_year = catalogue.for_year(year)
        leads = list(in_year.match(criterion.lead_text).codes)
        supports = [c for c in in_year.match(criterion.support_text).codes if c not in leads]
        if leads == list(criterion.leads) and supports == list(criterion.supports):
            continue
        for milestone in criterion.milestones:
            if list(milestone.leads) == list(criterion.leads):
                milestone.leads = leads
        criterion.leads, criterion.supports = leads, supports
        changed += 1
    return changed


async def import_plan(
    session: AsyncSession,
    *,
    unit_name: str,
    plan: ParsedPlan,
    source_name: str | None,
    source_sha256: str | None,
    actor: str,
    officer_id: int | None = None,
) -> ImportReport:
    """Create or update the unit's plan from ``plan``. The caller commits."""
    unit, unit_created = await get_or_create_unit(session, name=unit_name)
    await _lock_unit_for_import(session, unit=unit)
    stored, plan_created = await _matching_plan(session, unit=unit, plan=plan)
    stored.title = plan.title or stored.title
    stored.year = plan.year
    stored.period_start, stored.period_end = plan.period or (None, None)
    stored.indexes = sorted(set(stored.indexes or []) | set(plan.indexes()))
    stored.source_name, stored.source_format = source_name, plan.source_format
    stored.source_sha256 = source_sha256
    stored.active, stored.closed_at = True, None  # importing a closed plan again reopens it
    stored.updated_at = utcnow()
    await _claim_indexes(session, stored=stored)
    report = ImportReport(unit.name, stored.id, unit_created, plan_created)
    report.warnings = list(plan.warnings)
    await _sync_criteria(session, unit=unit, stored=stored, plan=plan, report=report)
    session.add(
        AuditLog(
            unit_id=unit.id,
            actor_officer_id=officer_id,
            actor=actor,
            action="plan.import",
            entity="plan",
            entity_id=stored.id,
            old=None,
            new={
                "source": source_name,
                "added": len(report.added),
                "changed": len(report.changed),
                "removed": len(report.removed),
                "unchanged": report.unchanged,
            },
        )
    )
    await session.flush()
    return report


async def _lock_unit_for_import(session: AsyncSession, *, unit: Unit) -> None:
    """One import per unit at a time: a second one waits here, then finds the first's plan.

    A no-op write to the unit's row: PostgreSQL locks the row until the commit,
    and on SQLite the first write takes the database's write lock (reads before
    it run outside the transaction and would not see a plan being imported).
    """
    await session.execute(
        update(Unit)
        .where(Unit.id == unit.id)
        .values(name_key=Unit.name_key)
        .execution_options(synchronize_session=False)
    )


def _period_key(stored: Plan) -> str:
    if stored.period_start is None or stored.period_end is None:
        return ""
    return f"{stored.period_start}-{stored.period_end}"


async def _claim_indexes(session: AsyncSession, *, stored: Plan) -> None:
    """Record that ``stored`` covers its indexes in its period (storage.models.PlanIndexClaim).

    An index another current plan already claims stays with that plan. Two imports
    that both created a plan (without the lock above) cannot both claim an index:
    the second fails on the uniqueness rule and rolls back.
    """
    period = _period_key(stored)
    claimed = set(
        await session.scalars(
            select(PlanIndexClaim.index_name).where(
                PlanIndexClaim.unit_id == stored.unit_id, PlanIndexClaim.period_key == period
            )
        )
    )
    for index in stored.indexes or []:
        if index not in claimed:
            session.add(
                PlanIndexClaim(
                    unit_id=stored.unit_id, plan_id=stored.id, period_key=period, index_name=index
                )
            )
    await session.flush()


async def _matching_plan(
    session: AsyncSession, *, unit: Unit, plan: ParsedPlan
) -> tuple[Plan, bool]:
    start, end = plan.period or (None, None)
    # A plan a merge brought in is another unit's history: never updated by an import.
    candidates = await session.scalars(
        select(Plan)
        .where(
            Plan.unit_id == unit.id,
            Plan.period_start == start,
            Plan.period_end == end,
            Plan.origin_unit_id.is_(None),
        )
        .order_by(Plan.id)
    )
    indexes = set(plan.indexes())
    for candidate in candidates:
        if indexes & set(candidate.indexes or []):
            return candidate, False
    stored = Plan(unit_id=unit.id, indexes=sorted(indexes))
    session.add(stored)
    await session.flush()
    return stored, True


def _key(index: str, code: str, occurrence: int) -> tuple[str, str, int]:
    return (index, code, occurrence)


async def _sync_criteria(
    session: AsyncSession, *, unit: Unit, stored: Plan, plan: ParsedPlan, report: ImportReport
) -> None:
    rows = await session.scalars(
        select(Criterion)
        .where(Criterion.plan_id == stored.id)
        .options(selectinload(Criterion.milestones))
    )
    existing = {_key(row.index_name, row.code, row.occurrence): row for row in rows}
    by_parsed: list[Criterion] = []
    for ordinal, parsed in enumerate(plan.criteria):
        row = existing.pop(parsed.key, None)
        label = f"{parsed.index} {parsed.code}"
        if row is None:
            row = Criterion(
                unit_id=unit.id,
                plan_id=stored.id,
                index_name=parsed.index,
                code=parsed.code,
                occurrence=parsed.occurrence,
            )
            _apply(row, parsed, ordinal)
            session.add(row)
            report.added.append(label)
        elif _apply(row, parsed, ordinal) or not row.active:
            report.changed.append(label)
        else:
            report.unchanged += 1
        row.active, row.removed_at = True, None
        by_parsed.append(row)
    now = utcnow()
    for row in existing.values():
        if row.active:
            row.active, row.removed_at = False, now
            report.removed.append(f"{row.index_name} {row.code}")
    await session.flush()
    _link_parents(plan.criteria, by_parsed)


def _apply(row: Criterion, parsed: ParsedCriterion, ordinal: int) -> bool:
    """Copy the parsed values onto the row; True when anything a user would notice changed."""
    values: dict[str, Any] = {
        "title": parsed.title,
        "requirement": parsed.requirement,
        "task": parsed.task,
        "max_points": parsed.max_points,
        "target_points": parsed.target_points,
        "leads": list(parsed.leads),
        "supports": list(parsed.supports),
        "lead_text": parsed.lead_text,
        "support_text": parsed.support_text,
        "deadline_text": parsed.deadline_text,
        "recurrence": parsed.recurrence,
        "parent_code": parsed.parent,
        "synthetic_code": parsed.synthetic_code,
    }
    is_new = row.id is None
    changed = any(getattr(row, name) != values[name] for name in _COMPARED_FIELDS)
    for name, value in values.items():
        setattr(row, name, value)
    row.ordinal = ordinal
    row.raw = {"line": parsed.line_no, "unmapped_leads": list(parsed.unmapped_leads)}
    wanted = [_milestone_tuple(m) for m in parsed.milestones]
    current = [] if is_new else [(m.due_date, m.label, list(m.leads)) for m in row.milestones]
    if wanted != current:
        row.milestones = [
            Milestone(unit_id=row.unit_id, due_date=due, label=label, leads=leads, ordinal=n)
            for n, (due, label, leads) in enumerate(wanted)
        ]
        changed = True
    return changed and not is_new


def _milestone_tuple(milestone: ParsedMilestone) -> tuple[date, str | None, list[str]]:
    return (milestone.due_date, milestone.label, list(milestone.leads))


def _link_parents(parsed: Sequence[ParsedCriterion], rows: Sequence[Criterion]) -> None:
    """Point each row at its parent row and mark which rows are leaves."""
    positions = parent_positions(list(parsed))
    leaves = leaf_flags(list(parsed))
    for row, parent, leaf in zip(rows, positions, leaves, strict=True):
        row.parent_id = rows[parent].id if parent is not None else None
        row.is_leaf = leaf


async def list_plans(session: AsyncSession) -> list[tuple[Unit, Plan, int]]:
    """Every plan with its unit and number of active criteria, by unit name."""
    plans = await session.scalars(select(Plan).order_by(Plan.unit_id, Plan.period_start, Plan.id))
    result = []
    for stored in plans:
        unit = await session.get_one(Unit, stored.unit_id)
        count = len(
            (
                await session.scalars(
                    select(Criterion.id).where(
                        Criterion.plan_id == stored.id, Criterion.active.is_(True)
                    )
                )
            ).all()
        )
        result.append((unit, stored, count))
    return sorted(result, key=lambda item: (item[0].name_key, item[1].id))


async def unit_criteria(
    session: AsyncSession, *, unit: Unit, index: str | None = None, code: str | None = None
) -> list[Criterion]:
    """Active criteria of a unit in document order, optionally one index or one code."""
    query = (
        select(Criterion)
        .join(Plan, Plan.id == Criterion.plan_id)
        .where(Criterion.unit_id == unit.id, Criterion.active.is_(True), Plan.active.is_(True))
        .options(selectinload(Criterion.milestones))
        .order_by(Criterion.plan_id, Criterion.ordinal)
    )
    if index:
        query = query.where(Criterion.index_name == index.upper())
    if code:
        query = query.where(Criterion.code == code.strip().rstrip("."))
    return list((await session.scalars(query)).all())
