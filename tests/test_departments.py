"""A merged commune's departments: who owns their items, who sees them, who is reminded,
and the task text where people read an item (card, reminder, self-assessment)."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from core.evidence_pack import PackItem, self_assessment_workbook
from core.officers import department_label, import_roster
from core.ownership import assign, can_update, officer_items, owners_by_criterion
from core.plan_store import find_unit, import_plan
from core.plans import parse_plan_file
from core.reminders import plan_day
from core.roster import read_roster
from scheduler.reminders import digest_message
from storage.models import Criterion, Officer, Unit
from tests.plans2026 import ROSTER, TEXT_PLAN, fixture_bytes

UNIT = "Xã Phú Riềng"


async def commune(session: AsyncSession) -> tuple[Unit, dict[str, Criterion], dict[str, Officer]]:
    """The 2026 text fixture imported, and the roster by department."""
    plan = parse_plan_file(fixture_bytes(TEXT_PLAN), filename=TEXT_PLAN)
    await import_plan(
        session, unit_name=UNIT, plan=plan, source_name=TEXT_PLAN, source_sha256=None, actor="t"
    )
    unit = await find_unit(session, name=UNIT)
    assert unit is not None
    rows = read_roster(fixture_bytes(ROSTER), filename=ROSTER)
    await import_roster(session, unit=unit, rows=rows, actor="t")
    criteria = {c.code: c for c in await session.scalars(select(Criterion))}
    officers = {o.name: o for o in await session.scalars(select(Officer))}
    return unit, criteria, officers


async def test_roster_import_stores_departments_and_heads(session: AsyncSession) -> None:
    _, _, officers = await commune(session)
    assert {name: (o.department, o.department_head) for name, o in officers.items()} == {
        "Nguyễn Văn An": ("PKT", True),
        "Trần Thị Bình": ("PKT", False),
        "Lê Văn Cường": ("VPUB", True),
        "Phạm Thị Dung": ("TTHCC", False),
        "Hoàng Văn Em": ("PVHXH", False),
    }


async def test_the_head_owns_the_departments_items_else_the_coordinators(
    session: AsyncSession,
) -> None:
    unit, criteria, officers = await commune(session)
    owners = await owners_by_criterion(session, unit=unit, criteria=list(criteria.values()))
    by_code = {code: [o.name for o in owners[c.id]] for code, c in criteria.items()}
    assert by_code["5"] == ["Nguyễn Văn An"]  # Phòng Kinh tế xã: its head
    assert by_code["1"] == ["Lê Văn Cường"]  # Văn phòng HĐND và UBND: its head
    # Trung tâm Phục vụ hành chính công and Phòng Văn hóa - Xã hội have no head;
    # the unmapped "Tổ công nghệ số cộng đồng" neither: the coordinator has them.
    assert by_code["3"] == by_code["6"] == by_code["8"] == ["Lê Văn Cường"]
    # /giao gives one of them to a member.
    await assign(
        session,
        criterion=criteria["3"],
        officer=officers["Phạm Thị Dung"],
        actor="t",
        actor_officer_id=None,
    )
    owners = await owners_by_criterion(session, unit=unit, criteria=[criteria["3"]])
    assert [o.name for o in owners[criteria["3"].id]] == ["Phạm Thị Dung"]


async def test_members_see_and_may_report_on_their_departments_items(
    session: AsyncSession,
) -> None:
    _, criteria, officers = await commune(session)
    binh = officers["Trần Thị Bình"]  # Phòng Kinh tế, not its head
    items = await officer_items(session, officer=binh, today=date(2026, 3, 2))
    assert items.owned() == []
    assert [view.code for view in items.department] == ["5"]  # led by it, not supported
    assert [name for name, _ in items.groups()] == ["department"]  # no item led by all
    assert await can_update(session, officer=binh, criterion=criteria["5"])
    assert not await can_update(session, officer=binh, criterion=criteria["6"])
    em = officers["Hoàng Văn Em"]  # Phòng Văn hóa - Xã hội, no head there
    items = await officer_items(session, officer=em, today=date(2026, 3, 2))
    assert [view.code for view in items.department] == ["6", "7"]
    assert await can_update(session, officer=em, criterion=criteria["6"])


async def test_nobody_is_reminded_for_being_a_member(session: AsyncSession) -> None:
    unit, _, _ = await commune(session)
    # 23/06/2026: item 5 (Quý II/2026, Phòng Kinh tế) is due in 7 days: its head is
    # reminded, not Trần Thị Bình who is only a member. The coordinator hears of
    # the overdue item 1 (Văn phòng HĐND và UBND, which he heads).
    digests = await plan_day(session, unit=unit, day=date(2026, 6, 23))
    who = {d.officer_name: [line.code for line in d.lines] for d in digests}
    assert who == {"Lê Văn Cường": ["1"], "Nguyễn Văn An": ["5"]}
    digest = next(d for d in digests if d.officer_name == "Nguyễn Văn An")
    text, _ = digest_message(digest, date(2026, 6, 23))
    assert "Nhiệm vụ: Công khai dự toán, quyết toán ngân sách xã" in text


def test_the_self_assessment_table_has_the_task_when_the_plan_has_one() -> None:
    item = PackItem(
        index="CCHC",
        code="5",
        title="Công khai ngân sách xã",
        max_points=None,
        target_points=None,
        status="done",
        evidence_count=1,
        owners=["Nguyễn Văn An"],
        done=True,
        task="Công khai dự toán, quyết toán ngân sách xã",
    )
    wb = openpyxl.load_workbook(io.BytesIO(self_assessment_workbook([item])))
    table = list(wb["Tự đánh giá"].iter_rows(values_only=True))
    assert table[0][:4] == ("Chỉ số", "Mã", "Nội dung", "Nhiệm vụ")
    assert table[1][:4] == (
        "CCHC",
        "5",
        "Công khai ngân sách xã",
        "Công khai dự toán, quyết toán ngân sách xã",
    )


async def test_the_task_is_stored_with_the_item(session: AsyncSession) -> None:
    _, criteria, _ = await commune(session)
    assert criteria["1"].task == "Tham mưu UBND xã ban hành Kế hoạch CCHC năm 2026"
    assert criteria["1"].requirement == "Ban hành đúng thời hạn"


async def test_the_roster_listing_names_the_department_and_its_head(
    session: AsyncSession,
) -> None:
    _, _, officers = await commune(session)
    an, dung = officers["Nguyễn Văn An"], officers["Phạm Thị Dung"]
    assert department_label(an, texts.HEAD_OF_DEPARTMENT) == "Phòng Kinh tế (trưởng phòng)"
    line = texts.officer_line(
        dung.name,
        list(dung.positions),
        list(dung.roles),
        False,
        True,
        "",
        department_label(dung, texts.HEAD_OF_DEPARTMENT),
    )
    assert line.startswith("• Phạm Thị Dung — MOTCUA · Trung tâm Phục vụ hành chính công\n")
