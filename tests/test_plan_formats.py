"""Every format of a plan parses to the same criteria as its text.

The seeds are text extractions of Word/PDF originals. Here each one is rebuilt
as .docx and .xlsx (merged header cells, vertically merged owner/deadline
cells, NFC and NFD), as .csv, and as dondoc YAML, and the parse of each must
equal the parse of the text: same criteria, same milestones, same unit/year,
and the same warnings, which may only point at other line numbers. Small
hand-built files check what the renderers cannot show: a Word merge written
with python-docx itself, numbers typed as numbers in Excel sheets, and YAML
typed by hand.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import date
from functools import cache

import docx
import pytest
from openpyxl import Workbook, load_workbook

from core.plan_model import Document, ParsedPlan, PlanParseError, TableRow, TextLine
from core.plan_reader import read_document
from core.plan_yaml import dump_yaml_plan
from core.plans import parse_plan_file
from tests.renderings import render_csv, render_docx, render_xlsx
from tests.seed_files import ALL_SEEDS, PHUSON, TAMQUANBAC, TANDUC, parsed_seed, seed_bytes

RENDERINGS = [("docx", False), ("docx", True), ("xlsx", False), ("xlsx", True)]
_LINE_NUMBER = re.compile(r"([Dd]òng) (\d+)")


@cache
def seed_document(name: str) -> Document:
    return read_document(seed_bytes(name), filename=name)


def merge_columns(doc: Document) -> range:
    """Owner, deadline and support columns: everything after the code and the title."""
    width = max(len(block.cells) for block in doc.blocks if isinstance(block, TableRow))
    return range(2, width)


@cache
def rendering(name: str, fmt: str, nfd: bool) -> bytes:
    doc = seed_document(name)
    render = render_docx if fmt == "docx" else render_xlsx
    return render(doc, nfd=nfd, merge_columns=merge_columns(doc))


def criteria_json(plan: ParsedPlan) -> list[dict[str, object]]:
    return [criterion.as_json() for criterion in plan.criteria]


def milestones(plan: ParsedPlan) -> list[list[tuple[date, str | None, list[str]]]]:
    return [[(m.due_date, m.label, m.leads) for m in c.milestones] for c in plan.criteria]


def without_line_numbers(plan: ParsedPlan) -> list[str]:
    return [_LINE_NUMBER.sub(r"\1 N", warning.message) for warning in plan.warnings]


def assert_same_plan(plan: ParsedPlan, text: ParsedPlan) -> None:
    assert criteria_json(plan) == criteria_json(text)
    assert (plan.unit, plan.year, plan.period, plan.title) == (
        text.unit,
        text.year,
        text.period,
        text.title,
    )
    assert milestones(plan) == milestones(text)
    assert [c.key for c in plan.criteria] == [c.key for c in text.criteria]
    assert [c.unmapped_leads for c in plan.criteria] == [c.unmapped_leads for c in text.criteria]
    assert without_line_numbers(plan) == without_line_numbers(text)


def text_of_part(data: bytes, part: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(part).decode()


def text_of_sheets(data: bytes) -> str:
    """All text typed in a workbook's cells (openpyxl writes it as XML character references)."""
    workbook = load_workbook(io.BytesIO(data))
    return "\n".join(
        cell.value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    )


# --- .docx and .xlsx renderings of the seeds ---------------------------------------------


# Seeds whose header has a cell spanning two columns ("Phân công nhiệm vụ" over chủ trì/phối hợp).
SPLIT_HEADER_SEEDS = (PHUSON, TAMQUANBAC, TANDUC)


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_the_renderings_really_merge_cells_and_decompose_text(name: str) -> None:
    for nfd in (False, True):
        xml = text_of_part(rendering(name, "docx", nfd), "word/document.xml")
        assert '<w:vMerge w:val="restart"/>' in xml and "<w:vMerge/>" in xml
        assert ("<w:gridSpan" in xml) is (name in SPLIT_HEADER_SEEDS)
        assert unicodedata.is_normalized("NFC", xml) is not nfd
        strings = text_of_sheets(rendering(name, "xlsx", nfd))
        assert len(strings) > 5000
        assert unicodedata.is_normalized("NFC", strings) is not nfd
    sheet = load_workbook(io.BytesIO(rendering(name, "xlsx", True))).active
    assert sheet is not None
    ranges = list(sheet.merged_cells.ranges)
    assert any(r.min_col == r.max_col and r.min_row < r.max_row for r in ranges)  # owners
    header_spans = any(r.min_row == r.max_row and r.min_col < r.max_col for r in ranges)
    assert header_spans is (name in SPLIT_HEADER_SEEDS)


@pytest.mark.parametrize(("fmt", "nfd"), RENDERINGS)
@pytest.mark.parametrize("name", ALL_SEEDS)
def test_docx_and_xlsx_renderings_parse_like_the_text(name: str, fmt: str, nfd: bool) -> None:
    text = parsed_seed(name)
    data = rendering(name, fmt, nfd)
    plan = parse_plan_file(data, filename=f"kehoach.{fmt}")
    assert plan.source_format == fmt
    assert_same_plan(plan, text)
    # The format comes from the content: a misleading name changes nothing.
    renamed = parse_plan_file(data, filename="plan.txt")
    assert renamed.source_format == fmt
    assert renamed.as_json() == plan.as_json()


@pytest.mark.parametrize(("fmt", "nfd"), RENDERINGS)
@pytest.mark.parametrize("name", ALL_SEEDS)
def test_warnings_point_at_the_same_rows_in_every_format(name: str, fmt: str, nfd: bool) -> None:
    """Line numbers differ between formats (a .docx counts blocks, a sheet counts rows),
    but each warning must name the rendered row that holds the text row it is about."""
    original = seed_document(name)
    rendered = read_document(rendering(name, fmt, nfd), filename=f"kehoach.{fmt}")
    assert [type(b) for b in rendered.blocks] == [type(b) for b in original.blocks]
    line_map = {a.line_no: b.line_no for a, b in zip(original.blocks, rendered.blocks, strict=True)}
    text = parsed_seed(name)
    plan = parse_plan_file(rendering(name, fmt, nfd), filename=f"kehoach.{fmt}")

    def renumbered(match: re.Match[str]) -> str:
        return f"{match.group(1)} {line_map[int(match.group(2))]}"

    assert [w.message for w in plan.warnings] == [
        _LINE_NUMBER.sub(renumbered, w.message) for w in text.warnings
    ]
    assert [w.line_no for w in plan.warnings] == [
        None if w.line_no is None else line_map[w.line_no] for w in text.warnings
    ]
    text_lines = [c.line_no for c in text.criteria]
    assert [c.line_no for c in plan.criteria] == [line_map.get(n or 0) for n in text_lines]


def test_word_file_named_xlsx_and_excel_file_named_docx_are_read_for_what_they_are() -> None:
    name = ALL_SEEDS[-1]
    text = parsed_seed(name)
    word = parse_plan_file(rendering(name, "docx", False), filename="kehoach.xlsx")
    excel = parse_plan_file(rendering(name, "xlsx", True), filename="kehoach.docx")
    assert (word.source_format, excel.source_format) == ("docx", "xlsx")
    assert_same_plan(word, text)
    assert_same_plan(excel, text)


# --- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("name", ALL_SEEDS)
def test_csv_rendering_parses_like_the_text(name: str, delimiter: str) -> None:
    data = render_csv(seed_document(name), nfd=True, delimiter=delimiter)
    plan = parse_plan_file(data, filename="kehoach.csv")
    assert plan.source_format == "csv"
    assert_same_plan(plan, parsed_seed(name))


def first_appendix(doc: Document) -> Document:
    """The first "Phụ lục" title line, the lines under it, and the first table."""
    start = next(
        i
        for i, block in enumerate(doc.blocks)
        if isinstance(block, TextLine) and block.text.strip("*# ").startswith("Phụ lục")
    )
    first_table = next(b.table_no for b in doc.blocks[start:] if isinstance(b, TableRow))
    end = max(
        i
        for i, block in enumerate(doc.blocks)
        if isinstance(block, TableRow) and block.table_no == first_table
    )
    return Document(blocks=doc.blocks[start : end + 1], source_format="text")


def test_first_appendix_of_phu_son_as_csv_is_its_par_criteria() -> None:
    appendix = first_appendix(seed_document(PHUSON))
    titles = [block.text for block in appendix.blocks if isinstance(block, TextLine)]
    assert titles[0] == "**Phụ lục 1**" and "CẢI CÁCH HÀNH CHÍNH" in titles[1]
    data = render_csv(appendix, nfd=True)
    csv_text = data.decode("utf-8-sig")
    assert not unicodedata.is_normalized("NFC", csv_text)
    assert unicodedata.normalize("NFC", csv_text).startswith("**Phụ lục 1**\r\n")
    plan = parse_plan_file(data, filename="phu_luc_1.csv")
    text = parsed_seed(PHUSON)
    par = [criterion.as_json() for criterion in text.criteria if criterion.index == "PAR"]
    assert len(par) == 39
    assert criteria_json(plan) == par
    # The appendix title alone gives the period, so "Quý IV hàng năm" still has three dates.
    assert (plan.year, plan.period) == (text.year, text.period) == (2023, (2023, 2025))
    assert plan.indexes() == ["PAR"]


# --- a Word file built by hand -------------------------------------------------------------


def _docx_bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def hand_built_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Phụ lục")
    rows = [
        ("STT", "Lĩnh vực, tiêu chí", "Cơ quan chủ trì", "Thời gian thực hiện"),
        ("I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", "", ""),
        ("1.1", "Ban hành Kế hoạch cải cách hành chính năm 2024", "", "Quý I/2024"),
        ("1.2", "Tuyên truyền cải cách hành chính", "", "Quý III năm 2024"),
        (
            "1.3",
            "Rà soát văn bản quy phạm pháp luật",
            "Công chức Tư pháp - Hộ tịch",
            "Chậm nhất trước ngày 31/12/2024",
        ),
    ]
    table = document.add_table(rows=len(rows), cols=4)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    merged = table.cell(2, 2).merge(table.cell(3, 2))  # the lead of 1.1 and 1.2
    merged.text = "Công chức Văn phòng - Thống kê"
    # Word ignores text left behind in a covered cell; so must the importer.
    covered = table._tbl.tr_lst[3].tc_lst[2]
    covered.p_lst[0].add_r().text = "Công chức Văn hóa - Xã hội"
    return _docx_bytes(document)


def test_hand_built_docx_with_a_vertically_merged_lead_cell() -> None:
    data = hand_built_docx()
    xml = text_of_part(data, "word/document.xml")
    assert '<w:vMerge w:val="restart"/>' in xml and "<w:vMerge/>" in xml
    plan = parse_plan_file(data, filename="phu_luc.docx")
    assert plan.source_format == "docx"
    found = {c.code: c for c in plan.criteria}
    assert list(found) == ["I", "1.1", "1.2", "1.3"]
    assert [found[code].parent for code in found] == [None, "I", "I", "I"]
    # Both rows under the merged cell get its lead; the covered cell's stale text is ignored.
    assert found["1.1"].leads == found["1.2"].leads == ["VPTK"]
    assert found["1.2"].lead_text == "Công chức Văn phòng - Thống kê"
    assert found["1.3"].leads == ["TPHT"]
    assert found["1.1"].due_dates == [date(2024, 3, 31)]
    assert found["1.2"].due_dates == [date(2024, 9, 30)]
    assert found["1.3"].due_dates == [date(2024, 12, 31)]
    assert found["1.3"].deadline_text == "Chậm nhất trước ngày 31/12/2024"
    assert [m.leads for m in found["1.2"].milestones] == [["VPTK"]]
    assert not any("Văn hóa" in w.message for w in plan.warnings)


# --- an Excel workbook built by hand --------------------------------------------------------


def _xlsx_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


HEADER = ["STT", "Lĩnh vực, tiêu chí", "Điểm tối đa", "Cơ quan chủ trì", "Thời gian thực hiện"]


def hand_built_xlsx() -> bytes:
    workbook = Workbook()
    par = workbook.active
    assert par is not None
    par.title = "Phụ lục 1"
    par.append(["Phụ lục 1"])
    par.append(["NHIỆM VỤ NÂNG CAO CHỈ SỐ CẢI CÁCH HÀNH CHÍNH NĂM 2024 CỦA XÃ TÂN ĐỨC"])
    par.append(HEADER)
    par.append([1, "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", 3, None, None])
    par.append(
        [1.1, "Ban hành Kế hoạch CCHC", 0.75, "Công chức Văn phòng - Thống kê", "Quý I/2024"]
    )
    par.append([1.2, "Báo cáo CCHC định kỳ", 2.25, "VP-TK", "Thường xuyên"])
    par.append([2.0, "CẢI CÁCH THỂ CHẾ", 2, None, None])
    par.append([2.1, "Rà soát văn bản", 2.0, "Công chức Tư pháp - Hộ tịch", "Quý IV/2024"])
    sipas = workbook.create_sheet("Phụ lục 2")
    sipas.append(["Phụ lục 2"])
    sipas.append(["NHIỆM VỤ NÂNG CAO CHỈ SỐ HÀI LÒNG"])
    sipas.append(HEADER)
    sipas.append([1, "Tiếp nhận, trả hồ sơ đúng hạn", 1, "Bộ phận Một cửa", "Thường xuyên"])
    sipas.append([2, "Khảo sát sự hài lòng", 0.5, "Công chức Văn hóa - Xã hội", "Quý III/2024"])
    return _xlsx_bytes(workbook)


def test_hand_built_xlsx_with_two_appendix_sheets_and_numbers_typed_as_numbers() -> None:
    data = hand_built_xlsx()
    stored = load_workbook(io.BytesIO(data))["Phụ lục 1"]
    assert isinstance(stored["A5"].value, float) and isinstance(stored["C5"].value, float)
    plan = parse_plan_file(data, filename="phu_luc.xlsx")
    assert plan.source_format == "xlsx"
    assert (plan.unit, plan.year) == ("Xã Tân Đức", 2024)
    assert plan.indexes() == ["PAR", "SIPAS"]
    rows = [
        (c.index, c.code, c.parent, c.max_points, c.leads, c.due_dates, c.recurrence)
        for c in plan.criteria
    ]
    assert rows == [
        ("PAR", "1", None, 3.0, [], [], None),
        ("PAR", "1.1", "1", 0.75, ["VPTK"], [date(2024, 3, 31)], None),
        ("PAR", "1.2", "1", 2.25, ["VPTK"], [], "continuous"),
        ("PAR", "2", None, 2.0, [], [], None),
        ("PAR", "2.1", "2", 2.0, ["TPHT"], [date(2024, 12, 31)], None),
        ("SIPAS", "1", None, 1.0, ["MOTCUA"], [], "continuous"),
        ("SIPAS", "2", None, 0.5, ["VHXH"], [date(2024, 9, 30)], None),
    ]
    assert not any("lặp lại" in w.message or "đã có" in w.message for w in plan.warnings)


# --- YAML ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_yaml_dump_of_a_seed_parses_back_to_the_same_plan(name: str) -> None:
    text = parsed_seed(name)
    dumped = dump_yaml_plan(text)
    plan = parse_plan_file(dumped.encode(), filename="x.yaml")
    assert plan.source_format == "yaml"
    assert criteria_json(plan) == criteria_json(text)
    assert milestones(plan) == milestones(text)
    assert (plan.unit, plan.year, plan.period, plan.title) == (
        text.unit,
        text.year,
        text.period,
        text.title,
    )
    assert [(c.key, c.synthetic_code) for c in plan.criteria] == [
        (c.key, c.synthetic_code) for c in text.criteria
    ]


HAND_TYPED_YAML = """\
# Kế hoạch gõ tay: chỉ có chữ, không có mã vị trí hay ngày.
dondoc_plan: 1
unit: Xã Tân Đức
year: 2024
title: Kế hoạch cải cách hành chính năm 2024
criteria:
  - index: PAR
    code: "I"
    title: CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH
  - index: PAR
    code: "1.1"
    title: Ban hành Kế hoạch cải cách hành chính năm 2024
    lead: Công chức Văn phòng - Thống kê
    support: Các công chức chuyên môn
    deadline: Quý III/2024
  - index: PAR
    code: "1.2"
    title: Tuyên truyền cải cách hành chính
    lead: Công chức Văn hóa - Xã hội
    deadline: Thường xuyên
  - index: PAR
    code: "1.2.1"
    title: Cập nhật Trang thông tin điện tử
    lead: VH-XH
    deadline: Quý IV/2024
  - index: PAR
    code: "II"
    title: CẢI CÁCH THỂ CHẾ
  - index: PAR
    code: "2.10"
    title: Rà soát văn bản quy phạm pháp luật
    lead: Công chức Tư pháp - Hộ tịch
    deadline: Chậm nhất trước ngày 31/12/2024
"""


def test_hand_typed_yaml_plan_maps_leads_and_reads_deadlines() -> None:
    plan = parse_plan_file(HAND_TYPED_YAML.encode(), filename="x.yaml")
    assert (plan.unit, plan.year, plan.period) == ("Xã Tân Đức", 2024, (2024, 2024))
    assert plan.title == "Kế hoạch cải cách hành chính năm 2024"
    rows = [(c.code, c.parent, c.leads, c.due_dates, c.recurrence) for c in plan.criteria]
    assert rows == [
        ("I", None, [], [date(2024, 12, 31)], None),
        ("1.1", "I", ["VPTK"], [date(2024, 9, 30)], None),
        ("1.2", "I", ["VHXH"], [], "continuous"),
        ("1.2.1", "1.2", ["VHXH"], [date(2024, 12, 31)], None),
        ("II", None, [], [date(2024, 12, 31)], None),
        ("2.10", "II", ["TPHT"], [date(2024, 12, 31)], None),  # quoted: not the number 2.1
    ]
    first = plan.criteria[1]
    assert first.lead_text == "Công chức Văn phòng - Thống kê"
    assert first.supports == ["ALL"]
    assert [(m.due_date, m.leads) for m in first.milestones] == [(date(2024, 9, 30), ["VPTK"])]
    assert plan.warnings == []


_YAML_HEAD = "dondoc_plan: 1\nyear: 2024\ncriteria:\n"


@pytest.mark.parametrize(
    ("criteria", "problem"),
    [
        ('  - index: PAR\n    code: "1.1"\n    lead: VP-TK\n', "thiếu 'title'"),
        (
            "  - index: PAR\n    code: \"1.1\"\n    title: A\n    due_dates: ['2024-13-01']\n",
            "ngày '2024-13-01' không hợp lệ",
        ),
        (
            "  - index: PAR\n    code: \"1.1\"\n    title: A\n    due_dates: ['31/12/2024']\n",
            "cần YYYY-MM-DD",
        ),
        (
            '  - index: PAR\n    code: "1.1"\n    title: A\n    leads: [VPTK, XYZ]\n',
            "mã vị trí không có trong danh mục: XYZ",
        ),
        ('  - index: PAR\n    code: "1.1"\n    title: [chưa đóng\n', "lỗi cú pháp"),
    ],
    ids=["missing-title", "bad-date", "day-first-date", "unknown-position", "syntax-error"],
)
def test_malformed_yaml_is_refused_naming_the_problem(criteria: str, problem: str) -> None:
    with pytest.raises(PlanParseError) as caught:
        parse_plan_file((_YAML_HEAD + criteria).encode(), filename="x.yaml")
    message = str(caught.value)
    assert problem in message
    assert message.startswith(("Mục thứ 1", "Tệp YAML")), message
