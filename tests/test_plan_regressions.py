"""Bugs found by the format and fuzz tests, kept fixed."""

from __future__ import annotations

import io

import docx
import pytest
from openpyxl import Workbook

from core.plan_model import PlanParseError
from core.plans import parse_plan_file
from tests.seed_files import REPO_DIR


def _docx(document: object) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


def test_flat_docx_merged_lead_is_shared() -> None:
    document = docx.Document()
    document.add_paragraph("Phụ lục")
    rows = [
        ("STT", "Lĩnh vực, tiêu chí", "Cơ quan chủ trì", "Thời gian thực hiện"),
        ("1", "Ban hành kế hoạch", "", "Quý I/2024"),
        ("2", "Tuyên truyền", "", "Quý III năm 2024"),
        ("3", "Rà soát văn bản", "Công chức Tư pháp - Hộ tịch", "Trước 31/12/2024"),
    ]
    table = document.add_table(rows=4, cols=4)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(1, 2).merge(table.cell(2, 2)).text = "Công chức Văn phòng - Thống kê"
    plan = parse_plan_file(_docx(document), filename="p.docx")
    assert [c.leads for c in plan.criteria] == [["VPTK"], ["VPTK"], ["TPHT"]]


def test_xlsx_second_sheet_titled_only_by_its_index_is_a_new_appendix() -> None:
    wb = Workbook()
    header = ["STT", "Lĩnh vực, tiêu chí", "Cơ quan chủ trì"]
    par = wb.active
    assert par is not None
    par.title = "Phụ lục 1"
    par.append(["NHIỆM VỤ NÂNG CAO CHỈ SỐ CẢI CÁCH HÀNH CHÍNH NĂM 2024"])
    par.append(header)
    par.append([1, "Ban hành kế hoạch", "VP-TK"])
    sipas = wb.create_sheet("Phụ lục 2")
    sipas.append(["NHIỆM VỤ NÂNG CAO CHỈ SỐ HÀI LÒNG"])
    sipas.append(header)
    sipas.append([1, "Khảo sát sự hài lòng", "VH-XH"])
    buffer = io.BytesIO()
    wb.save(buffer)
    plan = parse_plan_file(buffer.getvalue(), filename="p.xlsx")
    assert [(c.index, c.code) for c in plan.criteria] == [("PAR", "1"), ("SIPAS", "1")]


def test_two_tables_in_one_index_keep_keys_unique() -> None:
    text = (
        "STT\tLĩnh vực, tiêu chí\tCơ quan chủ trì\n1\tA\tVP-TK\n"
        "STT\tNhiệm vụ\tCơ quan chủ trì\n1\tB\tVP-TK\n"
    )
    plan = parse_plan_file(text.encode(), filename="p.txt")
    keys = [c.key for c in plan.criteria]
    assert len(keys) == len(set(keys)), keys


BASE = 'dondoc_plan: 1\nyear: 2024\ncriteria:\n  - index: PAR\n    code: "1.1"\n    title: A\n'


@pytest.mark.parametrize(
    "extra",
    [
        "    due_dates: [2024-13-01]\n",
        "    milestones: [{due: 2024-02-30}]\n",
        "    due_dates: 2024-12-31\n",
        "    due_dates: 5\n",
    ],
)
def test_yaml_bad_values_are_plan_parse_errors(extra: str) -> None:
    with pytest.raises(PlanParseError):
        parse_plan_file((BASE + extra).encode(), filename="x.yaml")


@pytest.mark.parametrize("year", ["0", "99999"])
def test_yaml_year_out_of_range_is_a_plan_parse_error(year: str) -> None:
    with pytest.raises(PlanParseError):
        parse_plan_file(BASE.replace("2024", year).encode(), filename="x.yaml")


def test_yaml_with_document_start_marker_is_read_as_yaml() -> None:
    plan = parse_plan_file(("---\n" + BASE).encode(), filename="x.yaml")
    assert plan.source_format == "yaml"


def test_converted_seed_still_asks_for_unmapped_leads() -> None:
    plan = parse_plan_file((REPO_DIR / "seeds" / "phuong6_2023_par_points.yaml").read_bytes())
    item = next(c for c in plan.criteria if c.code == "1.4")
    assert item.leads == ["VHXH", "VPTK"] and item.unmapped_leads == ["Truyền thanh"]
    assert any("Truyền thanh" in w.message for w in plan.warnings)
