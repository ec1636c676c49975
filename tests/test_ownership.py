"""Who owns an item, who may report on it, each officer's list, and codes as typed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.items import Ambiguous, Resolved, Unknown, natural_key, resolve_code
from core.officers import add_officer
from core.ownership import (
    OwnershipError,
    assign,
    can_update,
    clear_assignment,
    officer_items,
    owners_by_criterion,
    owners_of,
)
from core.plan_model import Milestone, ParsedCriterion, ParsedPlan
from core.plan_store import find_unit, get_or_create_unit, import_plan
from core.progress import record_progress
from core.text import short_title
from storage.models import AuditLog, Criterion, Officer, Unit
from tests.seed_files import PHUONG6, PHUSON, TANDUC, parsed_seed
from tests.sql_counting import counted_statements

NOW = datetime(2024, 12, 20, 3, 0, tzinfo=UTC)


def item(
    code: str,
    leads: list[str],
    *dates: date,
    recurrence: str | None = None,
    parent: str | None = None,
    title: str | None = None,
) -> ParsedCriterion:
    return ParsedCriterion(
        index="PAR",
        code=code,
        parent=parent,
        title=title or f"Việc {code}",
        leads=leads,
        due_dates=list(dates),
        milestones=[Milestone(due_date=d, leads=leads) for d in dates],
        recurrence=recurrence,  # type: ignore[arg-type]
    )


async def import_items(
    session: AsyncSession, items: list[ParsedCriterion], unit_name: str = "Xã Thử"
) -> tuple[Unit, dict[str, Criterion]]:
    plan = ParsedPlan(unit=unit_name, year=2024, period=(2024, 2024), criteria=items)
    await import_plan(
        session, unit_name=unit_name, plan=plan, source_name=None, source_sha256=None, actor="t"
    )
    unit = await find_unit(session, name=unit_name)
    assert unit is not None
    rows = await session.scalars(select(Criterion).where(Criterion.unit_id == unit.id))
    return unit, {row.code: row for row in rows}


async def import_seed(session: AsyncSession, seed: str, unit_name: str) -> Unit:
    await import_plan(
        session,
        unit_name=unit_name,
        plan=parsed_seed(seed),
        source_name=seed,
        source_sha256=None,
        actor="t",
    )
    unit = await find_unit(session, name=unit_name)
    assert unit is not None
    return unit


async def person(
    session: AsyncSession, unit: Unit, name: str, *positions: str, roles: tuple[str, ...] = ()
) -> Officer:
    officer, _ = await add_officer(
        session,
        unit=unit,
        name=name,
        positions=positions,
        roles=roles or ("officer",),
        actor="t",
    )
    return officer


def names(officers: list[Officer]) -> list[str]:
    return [o.name for o in officers]


RULE_ITEMS = [
    item("1", ["VPTK"], date(2024, 12, 31)),
    item("2", ["TPHT"], date(2024, 12, 31)),  # nobody holds TPHT
    item("3", ["ALL"], date(2024, 12, 31)),
    item("4", ["UBND"], date(2024, 12, 31)),
    item("5", ["MTTQ"], date(2024, 12, 31)),
    item("6", [], date(2024, 12, 31)),  # the lead could not be mapped
    item("7", ["ALL", "MOTCUA"], date(2024, 12, 31)),
    item("8", ["UBND", "VPTK"], date(2024, 12, 31)),
]


# --- ownership rules --------------------------------------------------------------------------


async def test_ownership_rules(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS)
    await person(session, unit, "Vũ Văn Phòng", "VPTK")
    await person(session, unit, "An Văn Phòng", "VPTK", "NV")
    await person(session, unit, "Mạc Một Cửa", "MOTCUA")
    await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    await person(session, unit, "Chu Điều Phối", "TCKT", roles=("officer", "coordinator"))
    await person(session, unit, "Lý Lãnh Đạo", roles=("leader", "admin"))
    owners = await owners_by_criterion(session, unit=unit, criteria=list(rows.values()))
    coordinators = ["Chu Điều Phối", "Đoàn Đầu Mối"]
    assert {code: names(owners[row.id]) for code, row in rows.items()} == {
        "1": ["An Văn Phòng", "Vũ Văn Phòng"],
        "2": coordinators,
        "3": coordinators,
        "4": coordinators,
        "5": coordinators,
        "6": coordinators,
        "7": ["Mạc Một Cửa"],
        "8": ["An Văn Phòng", "Vũ Văn Phòng"],
    }
    assert names(await owners_of(session, criterion=rows["2"])) == coordinators


async def test_without_coordinators_admins_get_the_unowned_items(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS[:3])
    await person(session, unit, "Vũ Văn Phòng", "VPTK")
    await person(session, unit, "Lý Quản Trị", roles=("admin",))
    assert names(await owners_of(session, criterion=rows["3"])) == ["Lý Quản Trị"]
    assert names(await owners_of(session, criterion=rows["1"])) == ["Vũ Văn Phòng"]


async def test_inactive_officers_own_nothing(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS[:1])
    gone = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    coordinator = await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    gone.active = False
    assert await owners_of(session, criterion=rows["1"]) == [coordinator]


async def test_override_wins_until_cleared(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS)
    holder = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    first = await person(session, unit, "Mạc Một Cửa", "MOTCUA")
    second = await person(session, unit, "Hà Tư Pháp", "TPHT")
    admin = await person(session, unit, "Lý Quản Trị", roles=("admin",))
    await assign(
        session, criterion=rows["1"], officer=first, actor="telegram:1", actor_officer_id=admin.id
    )
    await assign(
        session, criterion=rows["1"], officer=second, actor="telegram:1", actor_officer_id=admin.id
    )
    assert await owners_of(session, criterion=rows["1"]) == [second]
    bulk = await owners_by_criterion(session, unit=unit, criteria=[rows["1"], rows["2"]])
    assert bulk == {rows["1"].id: [second], rows["2"].id: [second]}  # 2: TPHT is held now
    assert await clear_assignment(
        session, criterion=rows["1"], actor="telegram:1", actor_officer_id=admin.id
    )
    assert not await clear_assignment(
        session, criterion=rows["1"], actor="telegram:1", actor_officer_id=admin.id
    )
    assert await owners_of(session, criterion=rows["1"]) == [holder]
    trail = await session.scalars(
        select(AuditLog).where(AuditLog.action.like("assignment.%")).order_by(AuditLog.id)
    )
    assert [(a.action, a.old, a.new, a.actor_officer_id) for a in trail] == [
        ("assignment.set", None, {"officer_id": first.id}, admin.id),
        ("assignment.set", {"officer_id": first.id}, {"officer_id": second.id}, admin.id),
        ("assignment.clear", {"officer_id": second.id}, None, admin.id),
    ]


async def test_override_to_a_deactivated_officer_falls_back(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS[:1])
    holder = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    chosen = await person(session, unit, "Mạc Một Cửa", "MOTCUA")
    await assign(session, criterion=rows["1"], officer=chosen, actor="t", actor_officer_id=None)
    chosen.active = False
    assert await owners_of(session, criterion=rows["1"]) == [holder]
    with pytest.raises(OwnershipError, match="ngừng hoạt động"):
        await assign(session, criterion=rows["1"], officer=chosen, actor="t", actor_officer_id=None)


async def test_units_never_mix(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS)
    other, other_rows = await import_items(session, RULE_ITEMS, unit_name="Phường Khác")
    await person(session, unit, "Vũ Văn Phòng", "VPTK")
    outsider = await person(session, other, "Ngô Văn Phòng", "VPTK")
    outside_chief = await person(session, other, "Ngô Đầu Mối", roles=("coordinator", "admin"))
    assert names(await owners_of(session, criterion=rows["1"])) == ["Vũ Văn Phòng"]
    assert names(await owners_of(session, criterion=other_rows["1"])) == ["Ngô Văn Phòng"]
    assert await owners_of(session, criterion=rows["3"]) == []  # no coordinator here
    for criterion in rows.values():
        assert not await can_update(session, officer=outsider, criterion=criterion)
        assert not await can_update(session, officer=outside_chief, criterion=criterion)
    with pytest.raises(OwnershipError, match="cùng đơn vị"):
        await assign(
            session, criterion=rows["1"], officer=outsider, actor="t", actor_officer_id=None
        )
    bulk = await owners_by_criterion(session, unit=unit, criteria=list(other_rows.values()))
    assert bulk == {}


async def test_who_may_report(session: AsyncSession) -> None:
    unit, rows = await import_items(session, RULE_ITEMS)
    owner = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    clerk = await person(session, unit, "Hà Tư Pháp", "TPHT")
    coordinator = await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    admin = await person(session, unit, "Lý Quản Trị", roles=("admin",))
    leader = await person(session, unit, "Chủ Tịch", roles=("leader",))
    assert await can_update(session, officer=owner, criterion=rows["1"])
    assert not await can_update(session, officer=clerk, criterion=rows["1"])
    assert not await can_update(session, officer=leader, criterion=rows["1"])
    assert await can_update(session, officer=coordinator, criterion=rows["1"])
    assert await can_update(session, officer=admin, criterion=rows["1"])
    for code in ("3", "7"):  # "Việc chung": anyone of the unit
        assert await can_update(session, officer=clerk, criterion=rows[code])
        assert await can_update(session, officer=leader, criterion=rows[code])
    assert not await can_update(session, officer=owner, criterion=rows["4"])  # UBND
    rows["1"].active = False  # removed from the plan on re-import
    assert not await can_update(session, officer=owner, criterion=rows["1"])
    owner.active = False
    assert not await can_update(session, officer=owner, criterion=rows["3"])


async def test_bulk_owners_take_a_constant_number_of_queries(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    many = [item(str(n), ["VPTK" if n % 2 else "ALL"], date(2024, 12, 31)) for n in range(1, 401)]
    unit, rows = await import_items(session, many)
    await person(session, unit, "Vũ Văn Phòng", "VPTK")
    await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    few = [rows["1"], rows["2"]]
    await session.commit()
    with counted_statements(engine) as small:
        await owners_by_criterion(session, unit=unit, criteria=few)
    with counted_statements(engine) as large:
        owners = await owners_by_criterion(session, unit=unit, criteria=list(rows.values()))
    assert len(small) == len(large) == 2
    assert len(owners) == 400 and names(owners[rows["400"].id]) == ["Đoàn Đầu Mối"]


# --- an officer's items -----------------------------------------------------------------------


async def test_officer_items_on_a_seed_plan(session: AsyncSession) -> None:
    unit = await import_seed(session, TANDUC, "Xã Tân Đức")
    clerk = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    await person(session, unit, "Mạc Một Cửa", "MOTCUA")
    await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    rows = {c.code: c for c in await session.scalars(select(Criterion))}
    await record_progress(
        session,
        officer=clerk,
        criterion=rows["7.2.1"],
        percent=100,
        source="cli",
        source_update_id=None,
        now=NOW,
    )
    await record_progress(
        session,
        officer=clerk,
        criterion=rows["1.5"],
        percent=40,
        source="cli",
        source_update_id=None,
        now=NOW,
    )

    items = await officer_items(session, officer=clerk, today=date(2024, 12, 26))
    codes = {name: [i.code for i in group] for name, group in items.groups()}
    assert codes == {
        "due_7": ["1.5", "7.1.1", "7.1.2", "7.2.1", "7.2.2"],
        "ongoing": ["3.1.1"],
        "common": [
            "7.3.2",  # overdue (30/09/2024) comes first
            *["1.2", "1.3", "3.2.1", "3.2.2", "4.2.2", "5.3", "6.1.1", "7.3.1", "7.3.3"],
            *["7.3.5", "8.1.1", "8.1.2", "8.1.3", "8.1.4", "8.1.5"],  # ALL + MOTCUA: still shared
            *["3.1.2", "3.1.4"],  # Thường xuyên
            "1.4",  # no date
        ],
    }
    first = items.due_7[0]
    assert (first.status, first.percent, first.due_date, first.days_late) == (
        "in_progress",
        40,
        date(2024, 12, 31),
        0,
    )
    assert (items.due_7[3].status, items.due_7[3].percent) == ("done", 100)
    assert items.common[0].days_late == 87 and items.common[0].group == "overdue"
    assert len(items) == 6 + 19

    after = await officer_items(session, officer=clerk, today=date(2025, 1, 5))
    assert [(i.code, i.days_late) for i in after.overdue] == [
        ("1.5", 5),
        ("7.1.1", 5),
        ("7.1.2", 5),
        ("7.2.2", 5),
    ]
    assert [(i.code, i.status, i.due_date) for i in after.later] == [
        ("7.2.1", "done", date(2024, 12, 31))  # done: never overdue
    ]
    early = await officer_items(session, officer=clerk, today=date(2024, 6, 1))
    assert [i.code for i in early.later] == ["1.5", "7.1.1", "7.1.2", "7.2.1", "7.2.2"]


async def test_coordinator_items_include_everything_nobody_else_owns(
    session: AsyncSession,
) -> None:
    unit = await import_seed(session, TANDUC, "Xã Tân Đức")
    await person(session, unit, "Vũ Văn Phòng", "VPTK")
    coordinator = await person(session, unit, "Đoàn Đầu Mối", roles=("coordinator",))
    items = await officer_items(session, officer=coordinator, today=date(2024, 12, 26))
    owned = {i.code for i in items.owned()}
    assert {"1.1", "1.6", "1.2", "2.2", "6.1.2", "7.3.5", "8.1.1", "3.1.3"} <= owned  # no MOTCUA
    assert not owned & {"1.5", "7.1.1", "3.1.1"}  # the VPTK officer's
    assert items.common == []  # ALL items are already theirs


async def test_grouping_edges(session: AsyncSession) -> None:
    today = date(2024, 6, 10)
    long_title = (
        "Thực hiện đầy đủ việc công khai thủ tục hành chính trên cổng dịch vụ công của tỉnh"
    )
    unit, rows = await import_items(
        session,
        [
            item("1.10", ["VPTK"], date(2024, 6, 17)),
            item("1.9", ["VPTK"], date(2024, 6, 17), title=long_title),
            item("2", ["VPTK"], date(2024, 6, 18)),
            item("3", ["VPTK"], date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30)),
            item("4", ["VPTK"], date(2024, 6, 9)),
            item("5", ["VPTK"], recurrence="continuous"),
            item("6", ["VPTK"]),
            item("7", ["VPTK"], date(2024, 6, 10)),
            item("8", ["VPTK"], date(2024, 5, 1)),
        ],
    )
    clerk = await person(session, unit, "Vũ Văn Phòng", "VPTK")
    await record_progress(
        session,
        officer=clerk,
        criterion=rows["8"],
        status="done",
        source="cli",
        source_update_id=None,
        now=NOW,
    )
    items = await officer_items(session, officer=clerk, today=today)
    assert [(i.code, i.due_date, i.days_late) for i in items.overdue] == [
        ("3", date(2024, 3, 31), 71),  # the first missed milestone, though 30/06 is ahead
        ("4", date(2024, 6, 9), 1),
    ]
    assert [i.code for i in items.due_7] == ["7", "1.9", "1.10"]  # 17/06 is today + 7
    assert [i.code for i in items.later] == ["8", "2"]  # done, then 18/06
    assert [i.code for i in items.ongoing] == ["5"]
    assert [i.code for i in items.unscheduled] == ["6"]
    nine = items.due_7[1]
    assert nine.title == long_title and len(nine.short_title) <= 60
    assert nine.short_title == "Thực hiện đầy đủ việc công khai thủ tục hành chính trên…"


def test_short_title_and_natural_order() -> None:
    assert short_title("Ngắn gọn") == "Ngắn gọn"
    assert short_title("x" * 80) == "x" * 59 + "…"
    assert short_title("Dòng một\nDòng hai") == "Dòng một Dòng hai"
    codes = ["1.10", "VII.a", "1.9", "2", "VI", "1.2.a"]
    assert sorted(codes, key=natural_key) == ["1.2.a", "1.9", "1.10", "2", "VI", "VII.a"]


async def test_officer_items_take_a_constant_number_of_queries(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    """The same queries for 30 items as for 900 (past SQLAlchemy's 500-id batches)."""
    counts = []
    for size in (30, 900):
        many = [item(str(n), ["VPTK" if n % 3 else "ALL"], date(2024, 12, 31)) for n in range(size)]
        unit, rows = await import_items(session, many, unit_name=f"Xã {size}")
        clerk = await person(session, unit, f"Vũ Văn Phòng {size}", "VPTK")
        for code in ("1", "2"):
            await record_progress(
                session,
                officer=clerk,
                criterion=rows[code],
                percent=50,
                source="cli",
                source_update_id=None,
                now=NOW,
            )
        await session.commit()
        with counted_statements(engine) as first:
            items = await officer_items(session, officer=clerk, today=date(2024, 12, 1))
        await session.commit()  # a new transaction: only the unit's version is read again
        with counted_statements(engine) as again:
            same = await officer_items(session, officer=clerk, today=date(2024, 12, 1))
        assert len(items.owned()) == size * 2 // 3 and len(items.common) == size // 3
        assert [i.percent for i in items.later[:3]] == [50, 50, 0]
        assert same == items
        counts.append((len(first), len(again)))
    assert counts[0] == counts[1]
    # Once the unit's facts are cached: its version and the states (items with a
    # single due date need no report days).
    assert counts[0][1] == 2 < counts[0][0]


# --- codes as typed -----------------------------------------------------------------------------


async def test_resolve_code_across_indexes(session: AsyncSession) -> None:
    unit = await import_seed(session, PHUSON, "Phường Phú Sơn")
    ambiguous = await resolve_code(session, unit=unit, text="2.1")
    assert isinstance(ambiguous, Ambiguous)
    assert [c.index_name for c in ambiguous.options] == ["PAPI", "PAR", "PCI", "SIPAS"]
    for text in ("PCI 2.1", "pci2.1", " Pci  2.1. "):
        resolved = await resolve_code(session, unit=unit, text=text)
        assert isinstance(resolved, Resolved), text
        assert (resolved.criterion.index_name, resolved.criterion.code) == ("PCI", "2.1")
    unknown = await resolve_code(session, unit=unit, text="PCI 9.9")
    assert isinstance(unknown, Unknown)


async def test_resolve_code_within_one_plan(session: AsyncSession) -> None:
    unit = await import_seed(session, PHUONG6, "Phường 6")
    for text in ("7.2.6.1", "7.2.6.1.", "7.2.9.A"):
        resolved = await resolve_code(session, unit=unit, text=text)
        assert isinstance(resolved, Resolved), text
        assert resolved.criterion.code.lower() == text.rstrip(".").lower()
    unknown = await resolve_code(session, unit=unit, text="7.2.6.9")
    assert isinstance(unknown, Unknown)
    assert [c.code for c in unknown.suggestions] == ["7.2.6.1", "7.2.6.2", "7.2.6.3"]
    nothing = await resolve_code(session, unit=unit, text="")
    assert isinstance(nothing, Unknown) and nothing.suggestions == []


async def test_resolve_code_repeated_inside_an_index_and_roman_codes(
    session: AsyncSession,
) -> None:
    unit = await import_seed(session, TANDUC, "Xã Tân Đức")
    twice = await resolve_code(session, unit=unit, text="4.1")
    assert isinstance(twice, Ambiguous)
    assert [(c.index_name, c.occurrence) for c in twice.options] == [("PAR", 1), ("PAR", 2)]
    roman = await resolve_code(session, unit=unit, text="vii")
    assert isinstance(roman, Resolved) and roman.criterion.code == "VII"


async def test_resolve_code_sees_only_live_items_of_the_unit(session: AsyncSession) -> None:
    unit = await import_seed(session, PHUONG6, "Phường 6")
    other, _ = await get_or_create_unit(session, name="Xã Không Có Kế Hoạch")
    assert isinstance(await resolve_code(session, unit=other, text="7.2.6.1"), Unknown)
    row = await session.scalar(select(Criterion).where(Criterion.code == "7.2.6.1"))
    assert row is not None
    row.active = False
    await session.flush()
    gone = await resolve_code(session, unit=unit, text="7.2.6.1")
    assert isinstance(gone, Unknown)
    assert "7.2.6.1" not in [c.code for c in gone.suggestions]
