"""Readers: every format of a seed plan must yield the same cleaned grid as its text."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import date, datetime
from functools import cache
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.plan_model import Document, PlanParseError, TableRow, TextLine
from core.plan_reader import detect_format, read_document
from core.text import clean_cell, one_line
from tests.renderings import render_csv, render_docx, render_xlsx


def _seeds_dir() -> Path:
    shared = os.environ.get("DONDOC_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "seeds"


SEEDS = sorted(path.name for path in _seeds_dir().glob("*.txt"))


def test_all_five_seeds_are_found() -> None:
    assert len(SEEDS) == 5, _seeds_dir()


@cache
def seed(name: str) -> Document:
    return read_document((_seeds_dir() / name).read_bytes(), filename=name)


def grid(doc: Document) -> list[tuple[int, tuple[str, ...]]]:
    """Cleaned table rows with their table number, trailing empty cells trimmed."""
    rows = []
    for block in doc.blocks:
        if isinstance(block, TableRow):
            cells = [one_line(clean_cell(cell)) for cell in block.cells]
            while cells and not cells[-1]:
                cells.pop()
            rows.append((block.table_no, tuple(cells)))
    return rows


def text_lines(doc: Document) -> list[str]:
    return [block.text for block in doc.blocks if isinstance(block, TextLine)]


def appendix_titles(doc: Document) -> list[str]:
    return [line for line in text_lines(doc) if "Phụ lục" in line or "PHỤ LỤC" in line]


def merge_columns(doc: Document) -> range:
    width = max(len(block.cells) for block in doc.blocks if isinstance(block, TableRow))
    return range(2, width)


def assert_same_plan(rendered: Document, original: Document) -> None:
    assert grid(rendered) == grid(original)
    assert text_lines(rendered) == text_lines(original)
    assert appendix_titles(rendered) == appendix_titles(original)


# --- the seeds as text ------------------------------------------------------------------


@pytest.mark.parametrize("name", SEEDS)
def test_seed_text_has_tables_and_an_appendix_title(name: str) -> None:
    doc = seed(name)
    assert doc.source_format == "text"
    assert appendix_titles(doc)
    rows = [block for block in doc.blocks if isinstance(block, TableRow)]
    assert len(rows) > 50
    # Page breaks leave blank lines inside a table; they must not split it.
    assert len({len(row.cells) for row in rows if row.table_no == 1}) == 1
    lines = (_seeds_dir() / name).read_text(encoding="utf-8").split("\n")
    assert all(lines[row.line_no - 1].split("\t")[0] == row.cells[0] for row in rows)


def test_phuson_has_four_appendix_tables() -> None:
    doc = seed("phuson_2023_2025_par_sipas_papi_pci.txt")
    assert sorted({table for table, _ in grid(doc)}) == [1, 2, 3, 4]
    assert len(appendix_titles(doc)) >= 4


def test_text_reader_lines_tables_and_encodings() -> None:
    raw = "Tiêu đề\r\nTT\tNội dung\r\n\r\n1\tA\r\nPhụ lục 2\n1\tB\n"
    expected = [
        TextLine("Tiêu đề", 1),
        TableRow(("TT", "Nội dung"), 2, 1),
        TableRow(("1", "A"), 4, 1),
        TextLine("Phụ lục 2", 5),
        TableRow(("1", "B"), 6, 2),
    ]
    for encoded in (raw.encode(), raw.encode("utf-8-sig"), raw.encode("utf-16")):
        assert read_document(encoded).blocks == expected


def test_text_is_returned_in_nfc() -> None:
    decomposed = "Ph\u0075\u0323 lu\u0323c\nTT\tCơ quan chu\u0309 tri\u0300\n"
    doc = read_document(decomposed.encode())
    assert text_lines(doc) == ["Phụ lục"]
    assert doc.blocks[1] == TableRow(("TT", "Cơ quan chủ trì"), 2, 1)


# --- round trips through real formats ----------------------------------------------------


@pytest.mark.parametrize("nfd", [False, True])
@pytest.mark.parametrize("name", SEEDS)
def test_docx_rendering_reads_back_to_the_seed(name: str, nfd: bool) -> None:
    original = seed(name)
    data = render_docx(original, nfd=nfd, merge_columns=merge_columns(original))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("word/document.xml").decode()
    assert "<w:vMerge/>" in xml  # the merges really are there to be read
    rendered = read_document(data, filename="kehoach.docx")
    assert rendered.source_format == "docx"
    assert_same_plan(rendered, original)


@pytest.mark.parametrize("nfd", [False, True])
@pytest.mark.parametrize("name", SEEDS)
def test_xlsx_rendering_reads_back_to_the_seed(name: str, nfd: bool) -> None:
    original = seed(name)
    data = render_xlsx(original, nfd=nfd, merge_columns=merge_columns(original))
    rendered = read_document(data, filename="kehoach.xlsx")
    assert rendered.source_format == "xlsx"
    assert_same_plan(rendered, original)


def test_renderings_without_merges_read_back_too() -> None:
    original = seed("tanduc_2024_par_sipas.txt")
    for render in (render_docx, render_xlsx):
        assert_same_plan(read_document(render(original, merge_header=False)), original)


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("name", SEEDS)
def test_csv_rendering_reads_back_to_the_seed(name: str, delimiter: str) -> None:
    original = seed(name)
    data = render_csv(original, nfd=True, delimiter=delimiter)
    rendered = read_document(data, filename="kehoach.csv")
    assert rendered.source_format == "csv"
    assert_same_plan(rendered, original)


def test_csv_with_title_lines_is_detected_by_content() -> None:
    rows = [("PHỤ LỤC",), ("Nhiệm vụ cải cách hành chính năm 2024",), ("TT", "Nội dung", "Chủ trì")]
    rows += tuple((str(i), f"Nhiệm vụ {i}, có dấu phẩy", "VP-TK") for i in range(1, 9))
    data = render_rows_csv(rows, ";")
    assert detect_format(data) == "csv"
    doc = read_document(data)
    assert text_lines(doc) == ["PHỤ LỤC", "Nhiệm vụ cải cách hành chính năm 2024"]
    assert grid(doc)[1] == (1, ("1", "Nhiệm vụ 1, có dấu phẩy", "VP-TK"))
    assert len(grid(doc)) == 9


def render_rows_csv(rows: list[tuple[str, ...]], delimiter: str) -> bytes:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode()


# --- merged cells written directly with python-docx ------------------------------------------


def _docx_bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_vertical_and_horizontal_merges_fill_the_first_cell_only() -> None:
    document = docx.Document()
    document.add_paragraph("PHỤ LỤC")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"{r}{c}"
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Phân công nhiệm vụ"
    merged = table.cell(1, 2).merge(table.cell(2, 2))
    merged.text = "Công chức VP-TK"
    merged.add_paragraph("và Tư pháp")
    # Word ignores text left in a covered cell; so must we.
    covered = table._tbl.tr_lst[2].tc_lst[2]
    covered.p_lst[0].add_r().text = "nội dung cũ"
    document.add_paragraph("Nơi nhận:")
    doc = read_document(_docx_bytes(document))
    assert doc.blocks == [
        TextLine("PHỤ LỤC", 1),
        TableRow(("Phân công nhiệm vụ", "", "02"), 2, 1),
        TableRow(("10", "11", "Công chức VP-TK\nvà Tư pháp"), 3, 1),
        TableRow(("20", "21", ""), 4, 1),
        TextLine("Nơi nhận:", 5),
    ]


def test_docx_grid_before_after_and_nested_table() -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for c, text in enumerate(("TT", "Nội dung", "Ghi chú")):
        table.cell(0, c).text = text
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "a", "b"
    tr = table.rows[1]._tr
    tr.remove(tr.tc_lst[0])
    tr.remove(tr.tc_lst[-1])
    tr_pr = tr.get_or_add_trPr()
    for tag in ("w:gridBefore", "w:gridAfter"):
        element = OxmlElement(tag)
        element.set(qn("w:val"), "1")
        tr_pr.append(element)
    rows = [b.cells for b in read_document(_docx_bytes(document)).blocks if isinstance(b, TableRow)]
    # Cell paragraphs (empty ones around the nested table included) are joined with "\n".
    assert rows == [("TT", "Nội dung", "Ghi chú"), ("", "\na\nb\n", "")]


# --- xlsx values and sheets -------------------------------------------------------------------


def _xlsx_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_values_merges_sheets_and_titles() -> None:
    workbook = Workbook()
    first = workbook.active
    first.append(["Phụ lục 1"])
    first.append(["TT", "Chỉ tiêu", "Điểm", "Hạn", "Ngày", None])
    first.append([1, "Kế hoạch", 16.5, datetime(2024, 12, 31, 9, 30), date(2023, 1, 30)])
    first.append([2.0, "Báo cáo", 0.00001, "Thường xuyên", None])
    first.merge_cells("D3:D4")
    hidden = workbook.create_sheet("Danh mục")
    hidden.append(["VP-TK", "TP-HT", "VH-XH"])
    hidden.sheet_state = "hidden"
    second = workbook.create_sheet("PAPI")
    second.append([None, "TT", "Nội dung", "Chủ trì"])
    second.append([None, "1", "Công khai", "VPTK"])
    doc = read_document(_xlsx_bytes(workbook), filename="plan.xlsx")
    assert doc.blocks == [
        TextLine("Phụ lục 1", 1),
        TableRow(("TT", "Chỉ tiêu", "Điểm", "Hạn", "Ngày"), 2, 1),
        TableRow(("1", "Kế hoạch", "16.5", "31/12/2024", "30/01/2023"), 3, 1),
        TableRow(("2", "Báo cáo", "0.00001", "", ""), 4, 1),
        TableRow(("TT", "Nội dung", "Chủ trì"), 5, 2),
        TableRow(("1", "Công khai", "VPTK"), 6, 2),
    ]


# --- format detection and refusals ------------------------------------------------------------


def _small_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Kế hoạch")
    return _docx_bytes(document)


def test_format_is_detected_from_content_not_extension() -> None:
    xlsx = render_xlsx(seed("songcau_2023_cchc.txt"))
    assert detect_format(_small_docx(), "plan.xlsx") == "docx"
    assert detect_format(xlsx, "plan.docx") == "xlsx"
    assert detect_format("TT\tNội dung\n1\tA\n".encode(), "plan.docx") == "text"
    assert detect_format(render_rows_csv([("a", "b", "c")] * 4, ","), "plan.txt") == "csv"
    assert read_document(_small_docx(), filename="plan.xlsx").blocks == [TextLine("Kế hoạch", 1)]


def test_yaml_plan_is_reported_not_read() -> None:
    data = "# kế hoạch\n\ndondoc_plan:\n  unit: Phường 6\n".encode()
    assert detect_format(data, "plan.txt") == "yaml"
    with pytest.raises(PlanParseError, match="YAML"):
        read_document(data)


def test_vietnamese_prose_with_commas_is_text_not_csv() -> None:
    prose = (_seeds_dir() / "tanduc_2024_par_sipas.txt").read_text(encoding="utf-8")
    body = "\n".join(line for line in prose.split("\n") if "\t" not in line)
    assert detect_format(body.encode()) == "text"


_W_BODY = (
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Phụ lục</w:t></w:r></w:p><w:tbl><w:tr>"
    '<w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>TT</w:t></w:r></w:p></w:tc>'
    "<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc></w:tr></w:tbl></w:body></w:document>"
).encode()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


REFUSALS = [
    (b"", "rỗng"),
    (b"  \r\n\n", "rỗng"),
    (b"\xfe\xff", "rỗng"),
    (" \n".encode("utf-16"), "rỗng"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), ".doc"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "ảnh"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "ảnh"),
    (b"GIF89a\x01\x00\x01\x00", "ảnh"),
    (_zip({"readme.txt": b"hello"}), "không phải tệp Word"),
    (
        _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<a/>"}),
        "OpenDocument",
    ),
    (b"PK\x03\x04" + bytes(100), "hỏng"),
    (bytes(range(256)) * 4, "nhị phân"),
    # Windows-1258 keeps tone marks as separate combining characters.
    ("Th\u00f4ng ba\u0301o Ha\u0300 N\u00f4\u0323i".encode("cp1258"), "UTF-8"),
    (b"{\\rtf1\\ansi Ke hoach}", "RTF"),
]


@pytest.mark.parametrize(("data", "word"), REFUSALS)
def test_unreadable_inputs_are_refused_in_vietnamese(data: bytes, word: str) -> None:
    with pytest.raises(PlanParseError, match=word.replace(".", r"\.")):
        read_document(data, filename="kehoach.docx")


def test_damaged_docx_and_xlsx_are_refused() -> None:
    good_docx = _small_docx()
    truncated = good_docx[: len(good_docx) // 2]
    broken_xml = _zip({"word/document.xml": b"<w:document><unclosed>"})
    not_a_workbook = _zip({"xl/workbook.xml": b"<workbook/>"})
    for data in (truncated, broken_xml, not_a_workbook):
        with pytest.raises(PlanParseError) as caught:
            read_document(data)
        assert "tệp" in str(caught.value)


# --- anything else --------------------------------------------------------------------------

# Small packages, so that random damage lands in the parts the readers actually parse.
_SAMPLES = [
    _zip({"word/document.xml": _W_BODY}),
    _zip({"word/document.xml": _W_BODY}, zipfile.ZIP_DEFLATED),
    render_xlsx(read_document(b"TT\tA\tB\n1\t2\t3\n")),
    b"TT\tA\n1\tB\n",
    b"a,b,c\n1,2,3\n",
]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(1, len(data))) :]
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2048), damaged(), st.text().map(str.encode)))
def test_any_bytes_give_a_document_or_a_plan_parse_error(data: bytes) -> None:
    try:
        doc = read_document(data)
    except PlanParseError as error:
        assert str(error)
    else:
        assert doc.source_format in ("text", "csv", "docx", "xlsx")
        assert all(isinstance(block, TextLine | TableRow) for block in doc.blocks)


def test_hand_written_document_xml_reads_with_span_and_orphan_continuation() -> None:
    # The undamaged fuzz seed itself: gridSpan=2, then a vMerge continuation with no origin.
    for sample in _SAMPLES[:2]:
        assert read_document(sample).blocks == [
            TextLine("Phụ lục", 1),
            TableRow(("TT", "", ""), 2, 1),
        ]
