"""The weekly summary as an .xlsx workbook a clerk can filter and print.

Every sheet is a plain table: bold header row frozen at the top (and
repeated on every printed page), an autofilter, widths measured from the
content, real dates and numbers (never text that looks like one), landscape
pages fitted to the paper's width.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.progress import STATUS_LABELS
from core.summary_model import IndexSummary, ItemLine, Summary
from core.text import strip_controls

if TYPE_CHECKING:  # openpyxl (with numpy and PIL) loads with the first workbook
    from openpyxl.worksheet.worksheet import Worksheet

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SHEETS = ("Tổng hợp", "Theo lĩnh vực", "Theo cán bộ", "Quá hạn", "Chi tiết")
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
PERCENT_FORMAT = "0.0%"
MAX_WIDTH = 60  # a wider column would push the rest off a landscape A4 page
MIN_WIDTH = 6


@dataclass(frozen=True)
class Column:
    header: str
    number_format: str | None = None
    wrap: bool = False  # long free text: titles, notes, owner lists
    max_width: int = 40
    min_width: int = MIN_WIDTH  # a column left empty for people to fill in needs room anyway


def _text_width(value: Any) -> int:
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return len(f"{value:.2f}")
    return max((len(line) for line in str(value).split("\n")), default=0)


def _style_table(ws: Worksheet, columns: Sequence[Column], header_row: int, last_row: int) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for number, column in enumerate(columns, start=1):
        letter = get_column_letter(number)
        header = ws.cell(header_row, number)
        header.font = Font(bold=True)
        header.alignment = Alignment(wrap_text=True, vertical="center")
        # The header wraps, so it needs its longest word and about half its length.
        words = column.header.split()
        widths = [max(max(map(len, words)), (len(column.header) + 1) // 2)]
        for row in range(header_row + 1, last_row + 1):
            cell = ws.cell(row, number)
            # Styled even when empty: what a clerk types in later wraps and formats the same.
            if column.number_format:
                cell.number_format = column.number_format
            cell.alignment = Alignment(wrap_text=column.wrap, vertical="top")
            if cell.value is not None:
                widths.append(_text_width(cell.value))
        ws.column_dimensions[letter].width = max(
            column.min_width, min(max(widths) + 2, column.max_width)
        )
    ref = f"A{header_row}:{get_column_letter(len(columns))}{max(last_row, header_row)}"
    ws.auto_filter.ref = ref
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    ws.print_title_rows = f"{header_row}:{header_row}"


def _print_setup(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = True


# What makes a spreadsheet read a typed cell as a formula or a command (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def put(ws: Worksheet, row: int, column: int, value: Any) -> Any:
    """Write one cell; every text is a plain string cell that no spreadsheet evaluates.

    openpyxl turns a text starting with "=" into a formula: an officer's note
    "=HYPERLINK(…)" would be live in the chairman's workbook. The cell is typed
    as a string whatever it starts with, and marked quote-prefixed so Excel keeps
    it text even when someone edits it; the visible text is unchanged ("- …"
    still reads "- …"). Control characters, which openpyxl refuses, are dropped:
    one odd note must not stop a unit's weekly summary.
    """
    cell = ws.cell(row, column)
    if isinstance(value, str):
        text = strip_controls(value)
        cell.value = text
        cell.data_type = "s"
        if text.startswith(_FORMULA_START):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def write_table(
    ws: Worksheet, columns: Sequence[Column], rows: Sequence[Sequence[Any]], header_row: int = 1
) -> None:
    """Write ``rows`` under a header at ``header_row`` and style the sheet for screen and paper."""
    for number, column in enumerate(columns, start=1):
        put(ws, header_row, number, column.header)
    for offset, values in enumerate(rows, start=1):
        for number, value in enumerate(values, start=1):
            put(ws, header_row + offset, number, value)
    _style_table(ws, columns, header_row, header_row + len(rows))
    _print_setup(ws)


def local_naive(moment: datetime | None, tz: tzinfo = LOCAL_TZ) -> datetime | None:
    """Excel has no time zones: aware times become the unit's wall-clock time; naive ones stay."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(tz).replace(tzinfo=None)


def _ratio(done: int, total: int) -> float:
    return done / total if total else 0.0


# ---------------------------------------------------------------- sheets

TOTAL_COLUMNS = [
    Column("Chỉ số"),
    Column("Tổng số việc"),
    Column("Hoàn thành"),
    Column("Đang làm"),
    Column("Chưa làm"),
    Column("Gặp khó khăn"),
    Column("Quá hạn"),
    Column("Đến hạn 7 ngày tới"),
    Column("% hoàn thành", PERCENT_FORMAT),
    Column("Điểm tối đa"),
    Column("Điểm mục tiêu"),
    Column("Điểm đã chắc"),
    Column("Điểm có nguy cơ"),
]


def _total_row(index: IndexSummary) -> list[Any]:
    t = index.totals
    p = index.points
    points = [p.max, p.target, p.secured, p.at_risk] if p else [None] * 4
    return [
        index.index,
        t.items,
        t.done,
        t.in_progress,
        t.not_started,
        t.blocked,
        t.overdue,
        t.due_next_7,
        _ratio(t.done, t.items),
        *points,
    ]


def _summary_sheet(ws: Worksheet, summary: Summary) -> None:
    from openpyxl.styles import Font

    """Unit and date above the per-index table; evidence and trend below it."""
    bold = Font(bold=True)
    put(ws, 1, 1, "Đơn vị")
    put(ws, 1, 2, summary.unit)
    put(ws, 2, 1, "Số liệu đến ngày")
    put(ws, 2, 2, summary.as_of)
    ws["B2"].number_format = DATE_FORMAT
    ws["A1"].font = ws["A2"].font = bold
    write_table(ws, TOTAL_COLUMNS, [_total_row(index) for index in summary.indexes], 4)
    row = 6 + len(summary.indexes)
    extra: list[tuple[str, Any]] = [("Minh chứng mới trong tuần (tệp)", summary.evidence_added)]
    if summary.trend is not None:
        extra.append(("So với tuần trước: việc hoàn thành", summary.trend.done_delta))
        extra.append(("So với tuần trước: điểm đã chắc", summary.trend.secured_delta))
    for offset, (label, value) in enumerate(extra):
        put(ws, row + offset, 1, label).font = bold
        put(ws, row + offset, 2, value)
    # The first column holds the labels above and below the table, so it must fit them.
    ws.column_dimensions["A"].width = max(len(label) for label, _ in extra) + 2
    # A date cell never spills into its neighbour: too narrow shows "#####".
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width or 0, 13)


AREA_COLUMNS = [
    Column("Chỉ số"),
    Column("Mã"),
    Column("Lĩnh vực", wrap=True, max_width=MAX_WIDTH),
    Column("Số việc"),
    Column("Hoàn thành"),
    Column("Đang làm"),
    Column("Chưa làm"),
    Column("Quá hạn"),
    Column("% hoàn thành", PERCENT_FORMAT),
]


def _area_rows(summary: Summary) -> list[list[Any]]:
    return [
        [index.index, a.code, a.title, a.items, a.done, a.in_progress, a.not_started, a.overdue,
         _ratio(a.done, a.items)]
        for index in summary.indexes
        for a in index.areas
    ]  # fmt: skip


OFFICER_COLUMNS = [
    Column("Cán bộ", max_width=35),
    Column("Số việc"),
    Column("Hoàn thành"),
    Column("Quá hạn"),
    Column("Cập nhật gần nhất", DATETIME_FORMAT),
    Column("Không cập nhật từ 14 ngày"),
]


def _officer_rows(summary: Summary, tz: tzinfo) -> list[list[Any]]:
    silent = set(summary.silent_officers)
    return [
        [o.name, o.items, o.done, o.overdue, local_naive(o.last_activity, tz),
         "Có" if o.name in silent else None]
        for o in summary.officers
    ]  # fmt: skip


OVERDUE_COLUMNS = [
    Column("Chỉ số"),
    Column("Mã"),
    Column("Nội dung", wrap=True, max_width=MAX_WIDTH),
    Column("Người phụ trách", wrap=True, max_width=35),
    Column("Hạn", DATE_FORMAT),
    Column("Số ngày trễ"),
]


def owners_cell(owners: Sequence[str]) -> str | None:
    return "\n".join(owners) if owners else None  # one name per line prints cleanly


def _overdue_rows(summary: Summary) -> list[list[Any]]:
    return [
        [line.index, line.code, line.title, owners_cell(line.owners), line.due_date,
         line.days_late]
        for index in summary.indexes
        for line in index.overdue
    ]  # fmt: skip


DETAIL_COLUMNS = [
    Column("Chỉ số"),
    Column("Mã"),
    Column("Nội dung", wrap=True, max_width=MAX_WIDTH),
    Column("Người phụ trách", wrap=True, max_width=30),
    Column("Hạn", DATE_FORMAT),
    Column("Trạng thái"),
    Column("Tiến độ", "0%"),
    Column("Quá hạn"),
    Column("Ghi chú gần nhất", wrap=True, max_width=50),
    Column("Số minh chứng"),
    Column("Điểm tối đa"),
    Column("Điểm mục tiêu"),
]


def _detail_row(line: ItemLine) -> list[Any]:
    return [
        line.index,
        line.code,
        line.title,
        owners_cell(line.owners),
        line.due_date,
        STATUS_LABELS.get(line.status, line.status),
        line.percent / 100,
        "Có" if line.overdue else None,
        line.last_note,
        line.evidence_count,
        line.max_points,
        line.target_points,
    ]


def _detail_rows(summary: Summary) -> list[list[Any]]:
    return [_detail_row(line) for index in summary.indexes for line in index.items]


# ---------------------------------------------------------------- public API


def render_workbook(summary: Summary, *, tz: tzinfo = LOCAL_TZ) -> bytes:
    """The .xlsx bytes: Tổng hợp, Theo lĩnh vực, Theo cán bộ, Quá hạn, Chi tiết."""
    from openpyxl import Workbook

    wb = Workbook()
    summary_ws = wb.active
    assert summary_ws is not None  # a new Workbook always has one sheet
    summary_ws.title = SHEETS[0]
    _summary_sheet(summary_ws, summary)
    tables: list[tuple[str, list[Column], Callable[[], list[list[Any]]]]] = [
        (SHEETS[1], AREA_COLUMNS, lambda: _area_rows(summary)),
        (SHEETS[2], OFFICER_COLUMNS, lambda: _officer_rows(summary, tz)),
        (SHEETS[3], OVERDUE_COLUMNS, lambda: _overdue_rows(summary)),
        (SHEETS[4], DETAIL_COLUMNS, lambda: _detail_rows(summary)),
    ]
    for title, columns, rows in tables:
        write_table(wb.create_sheet(title), columns, rows())
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
