"""Merging communes: ``unit merge "Xã A" "Xã B" --into "Xã C"``.

Everything the old units own moves under the new one in one transaction:
officers (and so their chat links, which hang off the officer rows), plans with
their items, milestones, progress and evidence, snoozes, absences, reminder
records. Each plan keeps its years and is marked with the unit it came from
(``Plan.origin_unit_id``): core.plan_years treats it as history, never current,
so two 2025 PAR plans of the two old units never mix their codes, and the new
unit's own 2026 plan imports as its current plan.

What stays with the old unit: its row (renaming or deleting it is a separate
decision), its audit log (what was done there), and its invites, which are
cancelled (expired now): a link sent for the old unit must not join anyone.
Run again, nothing is left to move, and it changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.plan_store import get_or_create_unit
from core.text import fold
from core.units import existing_unit, lookup_unit
from storage.models import Base, Invite, Officer, Plan, PlanIndexClaim, PositionAlias, Unit
from storage.types import utcnow

# Tables whose rows stay where they are (see the module's docstring), or that
# are handled one by one below before the bulk move.
_KEPT = frozenset({"units", "audit_log", "invites", "plan_index_claims", "processed_updates"})


class MergeError(ValueError):
    """The merge cannot be done as asked; the message says why, in Vietnamese."""


@dataclass
class MergeReport:
    target: str
    sources: list[str]
    target_created: bool = False
    moved: dict[str, int] = field(default_factory=dict)  # table -> rows moved
    renamed_officers: list[str] = field(default_factory=list)
    invites_cancelled: int = 0

    @property
    def changed(self) -> bool:
        return self.target_created or bool(self.moved) or self.invites_cancelled > 0


async def merge_units(
    session: AsyncSession, *, sources: list[str], into: str, actor: str
) -> MergeReport:
    """Move everything of the ``sources`` units under ``into`` (created if missing). Audited."""
    old_units = []
    for name in sources:
        unit = await existing_unit(session, name=name)
        if unit not in old_units:
            old_units.append(unit)
    found = await lookup_unit(session, name=into)
    target, created = (found, False) if found else await get_or_create_unit(session, name=into)
    old_units = [u for u in old_units if u.id != target.id]
    if not old_units:
        raise MergeError(f"Không có đơn vị nào khác «{target.name}» để sáp nhập vào.")
    report = MergeReport(target.name, [u.name for u in old_units], created)
    ids = [u.id for u in old_units]
    await _make_room_for_officers(session, target_id=target.id, old=old_units, report=report)
    await _mark_plan_origins(session, source_ids=ids)
    report.invites_cancelled = await _cancel_invites(session, source_ids=ids)
    for table in _movable_tables():
        moved = await _move(session, table, source_ids=ids, target_id=target.id)
        if moved:
            report.moved[table.name] = moved
    if report.changed:
        for unit in (target, *old_units):
            audit(
                session,
                unit_id=unit.id,
                actor=actor,
                actor_officer_id=None,
                action="unit.merge",
                entity="unit",
                entity_id=target.id,
                old={"units": report.sources},
                new={
                    "into": target.name,
                    "moved": report.moved,
                    "invites_cancelled": report.invites_cancelled,
                    "renamed_officers": report.renamed_officers,
                },
            )
    await session.flush()
    session.expire_all()  # the bulk moves went round the identity map
    return report


def _movable_tables() -> list[Table]:
    return [
        table
        for table in Base.metadata.sorted_tables
        if "unit_id" in table.c and table.name not in _KEPT
    ]


async def _move(
    session: AsyncSession, table: Table, *, source_ids: list[int], target_id: int
) -> int:
    if table.name == PositionAlias.__tablename__:
        return await _move_aliases(session, source_ids=source_ids, target_id=target_id)
    result = await session.execute(
        update(table).where(table.c.unit_id.in_(source_ids)).values(unit_id=target_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _move_aliases(session: AsyncSession, *, source_ids: list[int], target_id: int) -> int:
    """A lead spelling the new unit already maps stays with it; the old unit's copy stays behind."""
    taken = set(
        await session.scalars(
            select(PositionAlias.alias_key).where(PositionAlias.unit_id == target_id)
        )
    )
    moved = 0
    rows = await session.scalars(
        select(PositionAlias)
        .where(PositionAlias.unit_id.in_(source_ids))
        .order_by(PositionAlias.id)
    )
    for alias in rows:
        if alias.alias_key not in taken:
            taken.add(alias.alias_key)
            alias.unit_id = target_id
            moved += 1
    await session.flush()
    return moved


async def _make_room_for_officers(
    session: AsyncSession, *, target_id: int, old: list[Unit], report: MergeReport
) -> None:
    """Two officers of one name in the merged unit: the newcomer's name gets its old unit's."""
    taken = set(await session.scalars(select(Officer.name_key).where(Officer.unit_id == target_id)))
    for unit in old:
        officers = await session.scalars(
            select(Officer).where(Officer.unit_id == unit.id).order_by(Officer.id)
        )
        for officer in officers:
            if officer.name_key in taken:
                officer.name = f"{officer.name} ({unit.name})"
                officer.name_key = fold(officer.name)
                report.renamed_officers.append(officer.name)
            taken.add(officer.name_key)
    await session.flush()


async def _mark_plan_origins(session: AsyncSession, *, source_ids: list[int]) -> None:
    """Each plan and officer remembers its unit (one merged in earlier keeps its first
    origin); the moved plans are history, so they give up their index claims (a new
    plan of the merged unit claims its own)."""
    await session.execute(
        update(Officer)
        .where(Officer.unit_id.in_(source_ids), Officer.origin_unit_id.is_(None))
        .values(origin_unit_id=Officer.unit_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Plan)
        .where(Plan.unit_id.in_(source_ids), Plan.origin_unit_id.is_(None))
        .values(origin_unit_id=Plan.unit_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(PlanIndexClaim).where(PlanIndexClaim.unit_id.in_(source_ids)))


async def _cancel_invites(session: AsyncSession, *, source_ids: list[int]) -> int:
    now = utcnow()
    result = await session.execute(
        update(Invite)
        .where(Invite.unit_id.in_(source_ids), Invite.used_at.is_(None), Invite.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
