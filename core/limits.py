"""How much one uploaded file may make dondoc read, allocate or store.

Real plans are a few MB of Word XML with under 400 criteria in tables of about
ten columns, six levels deep at most; rosters have a few dozen officers. The
limits below are far above that and far below what hurts a small server: a
hostile file is refused with a reason *before* its rows are allocated, never
by running out of memory. Each check raises :class:`LimitError` (a
PlanParseError, so every caller that already explains a bad plan explains
these too).
"""

from __future__ import annotations

from core.plan_model import ParsedPlan, PlanParseError

# Any one XML part of a .docx/.xlsx, once decompressed; today's plans are 1–5 MB.
MAX_PART_BYTES = 16 * 1024 * 1024
# Every member of the package together (images included), once decompressed.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
# Tags in one XML part: each one becomes a parsed element, so this bounds the tree.
MAX_XML_TAGS = 1_000_000
# Cells an .xlsx may declare (openpyxl builds an object for each, empty or not).
MAX_XLSX_CELLS = 150_000
# The grid a document spreads into once spans and sparse cells are laid out.
MAX_ROWS = 20_000
MAX_COLUMNS = 64
MAX_CELLS = 300_000
MAX_TEXT_LINES = 20_000
# A plan and its codes; the code and index limits are the database columns' widths.
MAX_CRITERIA = 5_000
MAX_CODE_LENGTH = 32
MAX_CODE_DEPTH = 8
MAX_INDEX_LENGTH = 16
# A plan's period: the document reader's rule ("giai đoạn 2021–2025"), for every format.
MAX_PERIOD_YEARS = 10

_TOO_BIG = " Vui lòng kiểm tra lại tệp."


class LimitError(PlanParseError):
    """The file is bigger or deeper than any real plan or roster: refused before reading on."""


def refuse(reason: str) -> LimitError:
    return LimitError(reason + _TOO_BIG)


def check_part(name: str, size: int) -> None:
    if size > MAX_PART_BYTES:
        raise refuse(f"Phần «{name}» của tệp quá lớn khi giải nén (trên {_mb(MAX_PART_BYTES)}).")


def check_unzipped(total: int) -> None:
    if total > MAX_UNZIPPED_BYTES:
        raise refuse(f"Tệp quá lớn khi giải nén (trên {_mb(MAX_UNZIPPED_BYTES)}).")


def check_xml_tags(raw: bytes) -> None:
    """Refuse an XML part with more elements than any plan, before building its tree."""
    # Counted in C, without building a list: end tags, comments and declarations aside.
    starts = raw.count(b"<")
    if starts > MAX_XML_TAGS and starts - sum(map(raw.count, (b"</", b"<!", b"<?"))) > MAX_XML_TAGS:
        raise refuse(f"Tệp có quá nhiều phần tử (trên {MAX_XML_TAGS:,} thẻ XML).")


def count_xlsx_cells(raw: bytes) -> int:
    """Cell elements of a sheet part: <c …>, <c/>, and prefixed ones (<x:c …>) at worst twice."""
    return sum(map(raw.count, (b"<c ", b"<c>", b"<c/", b":c ", b":c>", b":c/")))


def check_xlsx_cells(count: int) -> None:
    if count > MAX_XLSX_CELLS:
        raise refuse(f"Bảng tính có quá nhiều ô (trên {MAX_XLSX_CELLS:,} ô).")


def check_columns(width: int) -> None:
    if width > MAX_COLUMNS:
        raise refuse(f"Bảng có quá nhiều cột (trên {MAX_COLUMNS} cột).")


def check_code(code: str, *, where: str = "") -> None:
    """A criterion code fits its column and the depth of a real plan (no plan goes past 6)."""
    prefix = f"{where}: " if where else ""
    if len(code) > MAX_CODE_LENGTH:
        raise refuse(f"{prefix}mã «{code[:40]}…» dài quá {MAX_CODE_LENGTH} ký tự.")
    if code.count(".") >= MAX_CODE_DEPTH:
        raise refuse(f"{prefix}mã «{code}» có quá {MAX_CODE_DEPTH} cấp.")


def check_index_name(index: str, *, where: str = "") -> None:
    if len(index) > MAX_INDEX_LENGTH:
        prefix = f"{where}: " if where else ""
        raise refuse(f"{prefix}tên chỉ số «{index[:40]}» dài quá {MAX_INDEX_LENGTH} ký tự.")


def check_criteria_count(count: int) -> None:
    if count > MAX_CRITERIA:
        raise refuse(
            f"Kế hoạch có {count:,} tiêu chí, quá giới hạn {MAX_CRITERIA:,} "
            "(kế hoạch thật có dưới 400)."
        )


def check_plan(plan: ParsedPlan) -> None:
    """The whole plan fits: criteria count, every code, parent and index name (any format)."""
    check_criteria_count(len(plan.criteria))
    for criterion in plan.criteria:
        where = f"Mục {criterion.index} {criterion.code[:40]}"
        check_index_name(criterion.index, where=where)
        check_code(criterion.code, where=where)
        if criterion.parent:
            check_code(criterion.parent, where=where)


def period_ok(first: int, last: int) -> bool:
    return 1900 <= first <= last <= min(first + MAX_PERIOD_YEARS, 2100)


class GridBudget:
    """Counts the rows, cells and text lines a document spreads into, across its tables.

    Callers ask *before* allocating a row: a span bomb is refused at its first
    oversized row, not after a terabyte of empty strings.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.cells = 0
        self.lines = 0

    def row(self, width: int) -> None:
        check_columns(width)
        self.rows += 1
        self.cells += width
        if self.rows > MAX_ROWS:
            raise refuse(f"Tệp có quá nhiều dòng bảng (trên {MAX_ROWS:,} dòng).")
        if self.cells > MAX_CELLS:
            raise refuse(f"Bảng có quá nhiều ô (trên {MAX_CELLS:,} ô).")

    def pad(self, cells: int) -> None:
        """Empty cells added to square up a table's rows."""
        self.cells += cells
        if self.cells > MAX_CELLS:
            raise refuse(f"Bảng có quá nhiều ô (trên {MAX_CELLS:,} ô).")

    def grid(self, rows: int, width: int) -> None:
        """A whole sheet of ``rows`` rows padded to ``width`` columns."""
        check_columns(width)
        if self.rows + rows > MAX_ROWS:
            raise refuse(f"Tệp có quá nhiều dòng bảng (trên {MAX_ROWS:,} dòng).")
        if self.cells + rows * width > MAX_CELLS:
            raise refuse(f"Bảng có quá nhiều ô (trên {MAX_CELLS:,} ô).")
        self.rows += rows
        self.cells += rows * width

    def line(self) -> None:
        self.lines += 1
        if self.lines > MAX_TEXT_LINES:
            raise refuse(f"Tệp có quá nhiều đoạn văn (trên {MAX_TEXT_LINES:,} đoạn).")


def _mb(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"
