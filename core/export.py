"""The year-end evidence pack of a unit: what goes in it, read from the database.

The ZIP itself is written by core/evidence_pack.py, streaming each file from
EVIDENCE_DIR, so a pack of gigabytes never sits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.evidence_pack import PackFile, PackItem
from core.items import live_criteria_query
from core.ownership import owners_by_criterion
from core.plan_years import index_label, keep_history_owners, unit_plan_years
from core.progress import NOT_STARTED, current_states, unit_tz
from storage.models import Criterion, Evidence, Officer, Plan, Unit


@dataclass
class PackContents:
    items: list[PackItem]
    files: list[PackFile]
    missing: list[str]  # evidence rows whose file is not on disk (reported, not fatal)


async def pack_contents(
    session: AsyncSession, *, unit: Unit, year: int, evidence_dir: Path
) -> PackContents:
    """Leaf items of the plans covering ``year`` and every evidence file attached to them."""
    criteria = [
        criterion
        for criterion in await session.scalars(
            live_criteria_query(unit.id).where(
                Criterion.is_leaf.is_(True),
                Criterion.plan_id.in_(_plans_covering(unit.id, year)),
            )
        )
    ]
    ids = [c.id for c in criteria]
    # A merged unit's 2025 pack holds the 2025 plans of both old units: kept apart.
    plans = await unit_plan_years(session, unit_id=unit.id)
    origins = {p.id: p.origin_name for p in plans if p.origin_name is not None}
    states = await current_states(session, criterion_ids=ids)
    owners = await owners_by_criterion(session, unit=unit, criteria=criteria)
    keep_history_owners(owners, criteria, plans)
    evidence = list(
        (
            await session.execute(
                select(Evidence, Officer.name)
                .outerjoin(Officer, Officer.id == Evidence.officer_id)
                .where(Evidence.criterion_id.in_(ids), Evidence.withdrawn_at.is_(None))
                .order_by(Evidence.created_at, Evidence.id)
            )
        ).all()
    )
    counts: dict[int, int] = {}
    for row, _ in evidence:
        counts[row.criterion_id] = counts.get(row.criterion_id, 0) + 1
    by_id = {c.id: c for c in criteria}
    items = [
        PackItem(
            index=index_label(c.index_name, origins.get(c.plan_id)),
            code=c.code,
            title=c.title,
            task=c.task,
            max_points=c.max_points,
            target_points=c.target_points,
            status=states.get(c.id, NOT_STARTED).status,
            evidence_count=counts.get(c.id, 0),
            owners=[o.name for o in owners.get(c.id, [])],
            done=states.get(c.id, NOT_STARTED).status == "done",
        )
        for c in criteria
    ]
    files, missing = [], []
    for row, sender in evidence:
        path = evidence_dir / row.storage_path
        criterion = by_id[row.criterion_id]
        if not path.is_file():
            missing.append(f"{criterion.index_name} {criterion.code}: {row.storage_path}")
            continue
        files.append(
            PackFile(
                index=index_label(criterion.index_name, origins.get(criterion.plan_id)),
                code=criterion.code,
                title=criterion.title,
                path=path,
                uploaded_at=row.created_at.astimezone(unit_tz(unit)),
                sender=sender or "không rõ",
                original_name=row.original_name,
                mime=row.mime,
            )
        )
    return PackContents(items, files, missing)


def _plans_covering(unit_id: int, year: int) -> Select[int]:
    return select(Plan.id).where(
        Plan.unit_id == unit_id,
        or_(Plan.period_start.is_(None), Plan.period_start <= year),
        or_(Plan.period_end.is_(None), Plan.period_end >= year),
    )
