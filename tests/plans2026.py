"""The 2026-style fixtures of tests/fixtures/plans2026/: the text plan and roster as files,
the Word and Excel plans built here (see that folder's README for what each exercises).

The .docx and .xlsx are built at test time from the rows below, in NFC or NFD, so
that what they hold can be read in this file.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from pathlib import Path

import docx
from docx.enum.text import WD_BREAK
from openpyxl import Workbook

FIXTURES = Path(__file__).parent / "fixtures" / "plans2026"
TEXT_PLAN = "xa_phurieng_2026_cchc.txt"
ROSTER = "roster_2026.csv"

# A ward's plan: a task column ("Nội dung công việc") and no requirement column;
# "Phân công thực hiện" is merged across Chủ trì / Phối hợp, and STT, the
# criterion, the task and the deadline are merged down over the header's two rows.
WARD_TITLE = [
    "ỦY BAN NHÂN DÂN PHƯỜNG AN BÌNH",
    "KẾ HOẠCH",
    "Nâng cao Chỉ số cải cách hành chính (PAR INDEX) năm 2026 của Phường An Bình",
    "Phụ lục: NHIỆM VỤ NÂNG CAO CHỈ SỐ CẢI CÁCH HÀNH CHÍNH (PAR INDEX) NĂM 2026",
]
WARD_HEADER = [
    ("STT", "Tiêu chí", "Nội dung công việc", "Phân công thực hiện", "", "Thời gian thực hiện"),
    ("", "", "", "Chủ trì", "Phối hợp", ""),
]
WARD_PAGE_1 = [
    ("1", "CẢI CÁCH THỂ CHẾ", "", "", "", ""),
    (
        "1.1",
        "Rà soát văn bản quy phạm pháp luật",
        "Rà soát, hệ thống hóa văn bản do HĐND, UBND phường ban hành",
        "Văn phòng HĐND và UBND phường",
        "các phòng, ban, đơn vị (thuộc UBND phường)",
        "30/6/2026",
    ),
    (
        "1.2",
        "Theo dõi thi hành pháp luật",
        "Xây dựng kế hoạch và báo cáo theo dõi thi hành pháp luật",
        "Văn phòng HĐND và UBND",
        "Phòng Kinh tế, Hạ tầng và Đô thị",
        "Quý IV/2026",
    ),
    ("2", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH", "", "", "", ""),
    (
        "2.1",
        "Số hóa hồ sơ",
        "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
        "Trung tâm Phục vụ hành chính công phường",
        "Phòng Kinh tế, Hạ tầng và Đô thị phường",
        "Thường xuyên",
    ),
]
# After the page break: the header again, the numbering row, then the rest of 2.1.
WARD_PAGE_2 = [
    ("(1)", "(2)", "(3)", "(4)", "(5)", "(6)"),
    ("", "", "còn hiệu lực theo quy định", "", "", ""),
    (
        "2.2",
        "Cấp giấy phép xây dựng đúng hạn",
        "Giải quyết hồ sơ cấp giấy phép xây dựng đúng hạn",
        "Phòng Kinh tế, Hạ tầng và Đô thị phường",
        "Trung tâm Phục vụ hành chính công",
        "Trước 30/9/2026",
    ),
    ("3", "XÂY DỰNG CHÍNH QUYỀN SỐ", "", "", "", ""),
    (
        "3.1",
        "Tuyên truyền cải cách hành chính",
        "Tuyên truyền cải cách hành chính trên các nền tảng số",
        "Phòng Văn hóa - Xã hội phường",
        "Các đơn vị liên quan",
        "Quý III/2026",
    ),
    (
        "3.2",
        "Bồi dưỡng kỹ năng số",
        "Cử công chức tham gia bồi dưỡng kỹ năng số",
        "Phòng Văn hóa - Xã hội",
        "Văn phòng HĐND và UBND phường",
        "Trong năm 2026",
    ),
]

# A commune's 2024 plan, before the merger: a requirement and a task column
# ("Nhiệm vụ, giải pháp"), a two-row header, deadlines typed as dates.
COMMUNE_2024_TITLE = [
    "ỦY BAN NHÂN DÂN XÃ TÂN LẬP",
    "KẾ HOẠCH nâng cao Chỉ số cải cách hành chính năm 2024 của Xã Tân Lập",
]
COMMUNE_2024_HEADER = [
    (
        "STT",
        "Tiêu chí",
        "Điểm tối đa",
        "Điểm phấn đấu",
        "Yêu cầu năm 2024",
        "Nhiệm vụ, giải pháp",
        "Phân công",
        None,
        "Thời hạn",
    ),
    (None, None, None, None, None, None, "Chủ trì", "Phối hợp", None),
]
COMMUNE_2024_ROWS: list[tuple[object, ...]] = [
    ("I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", 3, 2.75, None, None, None, None, None),
    (
        "1.1",
        "Kế hoạch cải cách hành chính",
        1.5,
        1.5,
        "Ban hành trước ngày 31/01/2024",
        "Tham mưu ban hành Kế hoạch CCHC năm 2024",
        "Văn phòng HĐND và UBND",
        "Các CBCC",
        datetime(2024, 1, 31),
    ),
    (
        "1.2",
        "Kiểm tra cải cách hành chính",
        1.5,
        1.25,
        "Kiểm tra ít nhất 01 lần",
        "Xây dựng và thực hiện kế hoạch kiểm tra",
        "Văn phòng HĐND và UBND xã",
        "Công chức Tư pháp - Hộ tịch",
        datetime(2024, 10, 15),
    ),
    ("II", "CẢI CÁCH THỂ CHẾ", 2, 2, None, None, None, None, None),
    (
        "2.1",
        "Rà soát văn bản",
        2,
        2,
        "100% văn bản được rà soát",
        "Rà soát văn bản quy phạm pháp luật của xã",
        "Công chức Tư pháp - Hộ tịch",
        "Văn phòng HĐND và UBND",
        datetime(2024, 6, 30),
    ),
]


def fixture_bytes(name: str, *, nfd: bool = False) -> bytes:
    data = (FIXTURES / name).read_bytes()
    if nfd:
        data = unicodedata.normalize("NFD", data.decode("utf-8")).encode("utf-8")
    return data


def _form(text: str, nfd: bool) -> str:
    return unicodedata.normalize("NFD" if nfd else "NFC", text)


def ward_docx(*, nfd: bool = False) -> bytes:
    """The ward's plan in Word: merged header cells, and the table broken over two pages."""
    document = docx.Document()
    for line in WARD_TITLE:
        document.add_paragraph(_form(line, nfd))
    _ward_table(document, WARD_PAGE_1, nfd)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _ward_table(document, WARD_PAGE_2, nfd)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _ward_table(document: docx.document.Document, rows: list[tuple[str, ...]], nfd: bool) -> None:
    table = document.add_table(rows=len(WARD_HEADER) + len(rows), cols=len(WARD_HEADER[0]))
    for r, row in enumerate([*WARD_HEADER, *rows]):
        for c, text in enumerate(row):
            if text:
                table.cell(r, c).text = _form(text, nfd)
    table.cell(0, 3).merge(table.cell(0, 4)).text = _form("Phân công thực hiện", nfd)
    for column in (0, 1, 2, 5):
        top = table.cell(0, column)
        text = top.text
        top.merge(table.cell(1, column)).text = text


def commune_2024_xlsx(*, nfd: bool = False) -> bytes:
    """The 2024 commune plan in Excel: a two-row header with merged cells, dates as dates."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Phụ lục"
    for line in COMMUNE_2024_TITLE:
        sheet.append([_form(line, nfd)])
    first_header_row = sheet.max_row + 1
    for row in [*COMMUNE_2024_HEADER, *COMMUNE_2024_ROWS]:
        sheet.append([_form(v, nfd) if isinstance(v, str) else v for v in row])
    below = first_header_row + 1
    sheet.merge_cells(
        start_row=first_header_row, start_column=7, end_row=first_header_row, end_column=8
    )
    for column in (1, 2, 3, 4, 5, 6, 9):
        sheet.merge_cells(
            start_row=first_header_row, start_column=column, end_row=below, end_column=column
        )
    for row in sheet.iter_rows(min_row=below + 1, min_col=9, max_col=9):
        row[0].number_format = "dd/mm/yyyy"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
