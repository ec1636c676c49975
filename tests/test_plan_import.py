"""Importing plans into the real database (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.plan_model import ParsedCriterion, ParsedPlan
from core.plan_store import add_position_alias, find_unit, import_plan, unit_catalogue
from core.plans import parse_plan_file
from storage.models import (
    AuditLog,
    Criterion,
    Evidence,
    Milestone,
    Plan,
    ProgressUpdate,
    Unit,
)
from tests.seed_files import PHUONG6, PHUSON, SONGCAU, TANDUC, parsed_seed, seed_bytes

Sessions = async_sessionmaker[AsyncSession]


async def run_import(
    sessions: Sessions, unit: str, plan: ParsedPlan, source: str = "plan.txt"
) -> object:
    async with sessions() as session, session.begin():
        return await import_plan(
            session,
            unit_name=unit,
            plan=plan,
            source_name=source,
            source_sha256=None,
            actor="test",
        )


async def count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def criteria_by_code(session: AsyncSession, index: str = "PAR") -> dict[str, Criterion]:
    rows = await session.scalars(
        select(Criterion).where(Criterion.index_name == index, Criterion.occurrence == 1)
    )
    return {row.code: row for row in rows}


async def test_import_writes_criteria_parents_leaves_and_milestones(
    session_factory: Sessions,
) -> None:
    report = await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    assert report.unit_created and report.plan_created  # type: ignore[attr-defined]
    assert len(report.added) == 109  # type: ignore[attr-defined]
    async with session_factory() as session:
        assert await count(session, Criterion, Criterion.active.is_(True)) == 109
        rows = await criteria_by_code(session)
        assert rows["7.2.6.1"].parent_id == rows["7.2.6"].id
        assert rows["7.2.9.a"].parent_id == rows["7.2.9"].id
        assert rows["1"].parent_id is None
        assert not rows["3.3"].is_leaf and rows["3.3.1"].is_leaf and rows["2.2"].is_leaf
        assert rows["1.8"].target_points == 1.8 and rows["3"].max_points == 29.0
        assert rows["1.2"].leads == ["NV", "VPTK", "TPHT", "VHXH"]
        assert rows["1.4"].raw["unmapped_leads"] == ["Truyền thanh"]
        milestones = await session.scalars(select(Milestone.due_date))
        assert Counter(milestones) == {date(2023, 12, 31): 109}
        audit = (await session.scalars(select(AuditLog))).one()
        assert (audit.action, audit.actor, audit.new["added"]) == ("plan.import", "test", 109)


async def test_parents_resolve_within_their_own_index(session_factory: Sessions) -> None:
    await run_import(session_factory, "Phường Phú Sơn", parsed_seed(PHUSON))
    async with session_factory() as session:
        par, papi = await criteria_by_code(session, "PAR"), await criteria_by_code(session, "PAPI")
        assert papi["1.1"].parent_id == papi["1"].id != par["1"].id
        plan = (await session.scalars(select(Plan))).one()
        assert (plan.period_start, plan.period_end) == (2023, 2025)
        assert plan.indexes == ["PAPI", "PAR", "PCI", "SIPAS"]
        annual = await session.scalars(
            select(Milestone.due_date)
            .join(Criterion, Criterion.id == Milestone.criterion_id)
            .where(Criterion.index_name == "PAR", Criterion.code == "8.1")
        )
        assert list(annual) == [date(2023, 12, 31), date(2024, 12, 31), date(2025, 12, 31)]


async def test_duplicate_codes_are_stored_as_separate_items(session_factory: Sessions) -> None:
    await run_import(session_factory, "Xã Tân Đức", parsed_seed(TANDUC))
    async with session_factory() as session:
        both = (
            await session.scalars(
                select(Criterion).where(Criterion.code == "4.1").order_by(Criterion.occurrence)
            )
        ).all()
        assert [row.occurrence for row in both] == [1, 2]
        assert both[1].parent_id == both[0].id and not both[0].is_leaf


async def test_activity_milestones_keep_their_own_owner(session_factory: Sessions) -> None:
    await run_import(session_factory, "Phường Sông Cầu", parsed_seed(SONGCAU))
    async with session_factory() as session:
        rows = await criteria_by_code(session, "CCHC")
        task22 = await session.scalars(
            select(Milestone)
            .where(Milestone.criterion_id == rows["22"].id)
            .order_by(Milestone.ordinal)
        )
        assert [m.leads for m in task22] == [["ALL"], ["VHXH"]]
        assert rows["29"].recurrence == "semiannual"


async def test_repeated_import_duplicates_nothing(session_factory: Sessions) -> None:
    first = await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    again = await run_import(session_factory, "  phường 6 ", parsed_seed(PHUONG6))
    assert again.plan_id == first.plan_id  # type: ignore[attr-defined]
    assert not again.unit_created and not again.plan_created  # type: ignore[attr-defined]
    assert (again.added, again.changed, again.removed) == ([], [], [])  # type: ignore[attr-defined]
    assert again.unchanged == 109  # type: ignore[attr-defined]
    async with session_factory() as session:
        assert await count(session, Unit) == 1
        assert await count(session, Plan) == 1
        assert await count(session, Criterion) == 109
        assert await count(session, Milestone) == 109


def edited_phuong6() -> bytes:
    """Phường 6 with 1.1 renamed, 1.3 deleted and a new 1.9 added, as an admin's new version."""
    lines = seed_bytes(PHUONG6).decode("utf-8").split("\n")
    edited = []
    for line in lines:
        if line.startswith("1.3\t"):
            continue
        if line.startswith("1.1\t"):
            line = line.replace("Kế hoạch CCHC", "Kế hoạch CCHC năm 2023 (sửa)", 1)
        edited.append(line)
        if line.startswith("<b>1.8</b>"):
            edited.append("1.9\tMục mới thêm\t0,50\t0,50\tLàm thêm\tCông chức Tư pháp\t")
    return "\n".join(edited).encode("utf-8")


async def test_reimport_updates_in_place_and_keeps_progress_and_evidence(
    session_factory: Sessions,
) -> None:
    await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    async with session_factory() as session, session.begin():
        rows = await criteria_by_code(session)
        kept, dropped = rows["1.1"], rows["1.3"]
        for row in (kept, dropped):
            session.add(
                ProgressUpdate(
                    unit_id=row.unit_id,
                    criterion_id=row.id,
                    percent=50,
                    status="in_progress",
                    source="cli",
                )
            )
        session.add(
            Evidence(
                unit_id=kept.unit_id,
                criterion_id=kept.id,
                sha256="a" * 64,
                size_bytes=3,
                storage_path="x",
            )
        )
        kept_id, dropped_id = kept.id, dropped.id

    report = await run_import(session_factory, "Phường 6", parse_plan_file(edited_phuong6()))
    assert report.added == ["PAR 1.9"]  # type: ignore[attr-defined]
    assert report.changed == ["PAR 1.1"]  # type: ignore[attr-defined]
    assert report.removed == ["PAR 1.3"]  # type: ignore[attr-defined]
    assert report.unchanged == 107  # type: ignore[attr-defined]
    async with session_factory() as session:
        rows = await criteria_by_code(session)
        assert rows["1.1"].id == kept_id
        assert rows["1.1"].title == "Kế hoạch CCHC năm 2023 (sửa)"
        assert rows["1.9"].leads == ["TPHT"] and rows["1.9"].parent_id == rows["1"].id
        dropped = await session.get_one(Criterion, dropped_id)
        assert not dropped.active and dropped.removed_at is not None
        assert await count(session, ProgressUpdate) == 2
        assert await count(session, Evidence, Evidence.criterion_id == kept_id) == 1

    # The original again brings 1.3 back, with its history, and retires 1.9.
    back = await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    assert back.changed == ["PAR 1.1", "PAR 1.3"]  # type: ignore[attr-defined]
    assert back.removed == ["PAR 1.9"]  # type: ignore[attr-defined]
    async with session_factory() as session:
        assert (await session.get_one(Criterion, dropped_id)).active


async def test_failing_import_changes_nothing(session_factory: Sessions) -> None:
    await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    async with session_factory() as session:
        before = await count(session, Criterion, Criterion.active.is_(True))
        plan_before = (await session.scalars(select(Plan))).one()
        updated_before = plan_before.updated_at
    broken = parse_plan_file(edited_phuong6())
    # A criterion with no title breaks a NOT NULL constraint half-way through the writes.
    broken.criteria.append(ParsedCriterion(index="PAR", code="9.9", parent=None, title=None))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        await run_import(session_factory, "Phường 6", broken)
    async with session_factory() as session:
        rows = await criteria_by_code(session)
        assert await count(session, Criterion, Criterion.active.is_(True)) == before
        assert "1.9" not in rows and rows["1.3"].active
        assert rows["1.1"].title == "Kế hoạch CCHC"
        assert (await session.scalars(select(Plan))).one().updated_at == updated_before
        assert await count(session, AuditLog) == 1


async def test_new_unit_plan_rolls_back_whole(session_factory: Sessions) -> None:
    broken = ParsedPlan(
        unit="Xã Mới",
        year=2024,
        period=(2024, 2024),
        criteria=[ParsedCriterion(index="PAR", code="1", parent=None, title=None)],  # type: ignore[arg-type]
    )
    with pytest.raises(IntegrityError):
        await run_import(session_factory, "Xã Mới", broken)
    async with session_factory() as session:
        assert await count(session, Unit) == 0 and await count(session, Plan) == 0


async def test_admin_mapping_is_remembered_for_later_imports(session_factory: Sessions) -> None:
    await run_import(session_factory, "Xã Tân Đức", parsed_seed(TANDUC))
    async with session_factory() as session, session.begin():
        unit = await find_unit(session, name="xã tân đức")
        assert unit is not None
        remapped = await add_position_alias(
            session,
            unit=unit,
            actor="test",
            text="Người đứng đầu cấp ủy Đảng, chính quyền xã",
            position_code="UBND",
        )
        assert remapped == 1  # 1.6 now has UBND as a supporting body
    async with session_factory() as session:
        unit = await find_unit(session, name="Xã Tân Đức")
        catalogue = await unit_catalogue(session, unit=unit)
        assert (await criteria_by_code(session))["1.6"].supports == ["UBND"]
    plan = parse_plan_file(seed_bytes(TANDUC), catalogue=catalogue)
    assert not any("Người đứng đầu" in w.message for w in plan.warnings)
    report = await run_import(session_factory, "Xã Tân Đức", plan)
    assert report.changed == []  # type: ignore[attr-defined]
    # Another unit does not inherit this unit's mapping.
    other = parse_plan_file(seed_bytes(TANDUC))
    assert any("Người đứng đầu" in w.message for w in other.warnings)


async def test_a_unit_can_hold_two_plans_for_different_periods(session_factory: Sessions) -> None:
    await run_import(session_factory, "Phường 6", parsed_seed(PHUONG6))
    next_year = seed_bytes(PHUONG6).replace("năm 2023".encode(), "năm 2024".encode())
    report = await run_import(session_factory, "Phường 6", parse_plan_file(next_year))
    assert report.plan_created  # type: ignore[attr-defined]
    async with session_factory() as session:
        assert await count(session, Plan) == 2
        assert await count(session, Criterion) == 218
