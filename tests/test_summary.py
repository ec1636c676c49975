"""The weekly summary on Phường 6's plan, every number checked against hand-computed values.

Phường 6 (2023) has 83 leaf items, all due 31/12/2023 (no deadline column). Its
areas' targets add up to 97,9, but its leaves' targets to 98,9: the document
gives areas 5 and 6 a target below the sum of their children. Every point
figure (maximum, target, secured, at risk) is counted from the leaves, where
points are earned, so the target (98,9) is never below what is at risk.

The story: Lan (VPTK), Nam (NV), Hà (TCKT), Tú (VHXH) and Bình (TPHT) work the plan.
  20/12 Lan marks 1.1 done and sends a photo.
  22/12 Tú reports 7.1.1 blocked.
  27/12 Nam marks 1.6 done, without evidence.
  28/12 Hà reports 6.1 at 50 %.
  Fri 29/12: first weekly summary.
  02/01 Lan marks 3.2 done with evidence. 03/01 Hà marks 6.1 done with evidence.
  Fri 05/01: second weekly summary; everything not done is now overdue.
"""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.evidence import new_incoming_path, store_evidence
from core.officers import add_officer
from core.plan_store import import_plan
from core.progress import record_progress
from core.summary import compute_summary
from core.summary_chart import render_chart
from core.summary_model import Summary
from core.summary_xlsx import render_workbook
from storage.models import Criterion, Officer, Plan, Unit
from tests.seed_files import PHUONG6, PHUSON, parsed_seed
from tests.sql_counting import counted_statements

Sessions = async_sessionmaker[AsyncSession]
PEOPLE = (("Lan", "VPTK"), ("Nam", "NV"), ("Hà", "TCKT"), ("Tú", "VHXH"), ("Bình", "TPHT"))


def at(day: str, hour: int = 3) -> datetime:
    """A moment on a local working day (03:00 UTC is 10:00 in Hà Nội)."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


async def build_story(sessions: Sessions, evidence_dir: Path) -> None:
    async with sessions() as session, session.begin():
        await import_plan(
            session,
            unit_name="Phường 6",
            plan=parsed_seed(PHUONG6),
            source_name="p6.txt",
            source_sha256=None,
            actor="test",
        )
        await session.execute(update(Plan).values(imported_at=at("2023-03-08")))
        unit = (await session.scalars(select(Unit))).one()
        for name, position in PEOPLE:
            await add_officer(session, unit=unit, name=name, positions=[position], actor="test")
        await add_officer(
            session, unit=unit, name="Hoa", positions=[], roles=["coordinator"], actor="test"
        )
    await report(sessions, "Lan", "1.1", "2023-12-20", status="done", evidence=evidence_dir)
    await report(sessions, "Tú", "7.1.1", "2023-12-22", status="blocked", note="Chưa có máy")
    await report(sessions, "Nam", "1.6", "2023-12-27", status="done")
    await report(sessions, "Hà", "6.1", "2023-12-28", percent=50)
    await report(sessions, "Lan", "3.2", "2024-01-02", status="done", evidence=evidence_dir)
    await report(sessions, "Hà", "6.1", "2024-01-03", status="done", evidence=evidence_dir)


async def report(
    sessions: Sessions,
    who: str,
    code: str,
    day: str,
    *,
    evidence: Path | None = None,
    **values: object,
) -> None:
    async with sessions() as session, session.begin():
        officer = (await session.scalars(select(Officer).where(Officer.name == who))).one()
        item = (await session.scalars(select(Criterion).where(Criterion.code == code))).one()
        await record_progress(
            session,
            officer=officer,
            criterion=item,
            source="cli",
            source_update_id=None,
            now=at(day),
            **values,  # type: ignore[arg-type]
        )
        if evidence is not None:
            photo = new_incoming_path(evidence)
            photo.write_bytes(f"{code} {day}".encode())
            await store_evidence(
                session,
                officer=officer,
                criterion=item,
                source=photo,
                file_unique_id=None,
                mime="image/jpeg",
                original_name=None,
                caption=code,
                source_update_id=None,
                evidence_dir=evidence,
                now=at(day, 4),
            )


@pytest.fixture
async def summaries(session_factory: Sessions, tmp_path: Path) -> dict[str, Summary]:
    await build_story(session_factory, tmp_path / "evidence")
    async with session_factory() as session:
        unit = (await session.scalars(select(Unit))).one()
        return {
            day: await compute_summary(session, unit=unit, as_of=date.fromisoformat(day))
            for day in ("2023-12-29", "2024-01-05")
        }


async def test_first_week(summaries: dict[str, Summary]) -> None:
    data = summaries["2023-12-29"].as_json()
    (par,) = data["indexes"]
    assert par["totals"] == {
        "items": 83,
        "done": 2,
        "in_progress": 1,
        "not_started": 79,
        "blocked": 1,
        "overdue": 0,
        "due_next_7": 81,
    }
    # Secured: 1.1 (2,0) done with evidence. At risk: 1.6 done without evidence (1,5)
    # and 7.1.1 blocked (1,5).
    assert par["points"] == {"max": 100.0, "target": 98.9, "secured": 2.0, "at_risk": 3.0}
    assert par["overdue"] == []
    assert data["evidence_added"] == 0  # 1.1's photo of 20/12 is from the week before
    # A week earlier (22/12) 1.1 was already done with its photo: one more done, no more points.
    assert data["trend"] == {"done_delta": 1, "secured_delta": 0.0}
    assert data["silent_officers"] == ["Bình"]  # Tú reported on 22/12, within 14 days


async def test_second_week_every_number(summaries: dict[str, Summary]) -> None:
    data = summaries["2024-01-05"].as_json()
    assert (data["unit"], data["as_of"]) == ("Phường 6", "2024-01-05")
    (par,) = data["indexes"]
    assert par["index"] == "PAR"
    assert par["totals"] == {
        "items": 83,
        "done": 4,
        "in_progress": 0,
        "not_started": 78,
        "blocked": 1,
        "overdue": 79,
        "due_next_7": 0,
    }
    # Secured: 1.1 (2,0) + 3.2 (4,0) + 6.1 (1,0). At risk: every other leaf (overdue, or
    # 1.6 done without evidence): 98,9 - 7,0.
    assert par["points"] == {"max": 100.0, "target": 98.9, "secured": 7.0, "at_risk": 91.9}
    areas = {area["code"]: area for area in par["areas"]}
    assert list(areas) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert areas["1"] == {
        "code": "1",
        "title": "CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH CCHC",
        "items": 8,
        "done": 2,
        "overdue": 6,
        "percent": 25.0,
    }
    assert (areas["3"]["items"], areas["3"]["done"], areas["3"]["percent"]) == (12, 1, 8.3)
    assert (areas["6"]["items"], areas["6"]["done"], areas["6"]["overdue"]) == (8, 1, 7)
    assert sum(area["items"] for area in par["areas"]) == 83
    overdue = par["overdue"]
    assert len(overdue) == 79
    assert {item["days_late"] for item in overdue} == {5}  # all due 31/12/2023
    assert [item["code"] for item in overdue[:10]] == [
        "1.2",
        "1.3",
        "1.4",
        "1.5",
        "1.7",
        "1.8",
        "2.1",
        "2.2",
        "2.3",
        "3.1",
    ]
    assert overdue[0]["owners"] == ["Bình", "Lan", "Nam", "Tú"]  # NV, VP-TK, TP-HT, VH-XH
    assert overdue[0]["due_date"] == "2023-12-31"
    officers = {row["name"]: row for row in data["officers"]}
    assert {name: (r["items"], r["done"], r["overdue"]) for name, r in officers.items()} == {
        "Bình": (6, 0, 6),
        "Hà": (19, 1, 18),
        "Lan": (36, 2, 34),
        "Nam": (31, 1, 30),
        "Tú": (13, 0, 13),
    }
    assert officers["Hà"]["last_activity"] == "2024-01-03T03:00:00+00:00"
    assert officers["Bình"]["last_activity"] is None
    assert data["silent_officers"] == ["Bình", "Tú"]  # Tú's last report: 22/12
    assert data["evidence_added"] == 2  # 3.2 and 6.1
    assert data["trend"] == {"done_delta": 2, "secured_delta": 5.0}


async def test_workbook_holds_the_numbers_with_proper_types(summaries: dict[str, Summary]) -> None:
    book = load_workbook(io.BytesIO(render_workbook(summaries["2024-01-05"])))
    assert book.sheetnames == ["Tổng hợp", "Theo lĩnh vực", "Theo cán bộ", "Quá hạn", "Chi tiết"]
    detail = book["Chi tiết"]
    rows = list(detail.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 83
    by_code = {row[1]: row for row in rows}
    assert by_code["3.2"][0] == "PAR"
    due_cells = [cell for cell in detail[2] if isinstance(cell.value, datetime)]
    assert due_cells and due_cells[0].value.date() == date(2023, 12, 31)
    assert due_cells[0].number_format == "dd/mm/yyyy"
    assert len(list(book["Quá hạn"].iter_rows(min_row=2, values_only=True))) == 79


async def test_chart_is_a_png_of_phone_size(summaries: dict[str, Summary]) -> None:
    png = render_chart(summaries["2024-01-05"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 800 <= width <= 2000 and 400 <= height <= 4000


async def test_statements_per_summary_do_not_grow_with_items(
    session_factory: Sessions, engine: AsyncEngine, tmp_path: Path
) -> None:
    await build_story(session_factory, tmp_path / "evidence")
    async with session_factory() as session:
        unit = (await session.scalars(select(Unit))).one()
        with counted_statements(engine) as phuong6:
            await compute_summary(session, unit=unit, as_of=date(2024, 1, 5))
    # Twice as many items (Phú Sơn's four appendices next to Phường 6): the same count.
    async with session_factory() as session, session.begin():
        await import_plan(
            session,
            unit_name="Phường 6",
            plan=parsed_seed(PHUSON),
            source_name="ps.txt",
            source_sha256=None,
            actor="test",
        )
    async with session_factory() as session:
        unit = (await session.scalars(select(Unit))).one()
        with counted_statements(engine) as both:
            summary = await compute_summary(session, unit=unit, as_of=date(2024, 1, 5))
    assert [index.index for index in summary.indexes] == ["PAR", "SIPAS", "PAPI", "PCI"]
    assert len(phuong6) == len(both) <= 8, both
