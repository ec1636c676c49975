"""Finding the plan's tables in a Document: headers, page-break repeats, appendices.

A plan's appendix is one logical table that the conversion from Word or PDF
chops into pieces: the header repeats after every page break (sometimes with a
numbering row "(1) (2) (3)…" under it), and a two-row header can put "chủ trì"
and "phối hợp" under a shared "Phân công nhiệm vụ". A plan with several
appendices ("Phụ lục 1" … "Phụ lục 4") has one table per index. This module
turns the blocks of a Document into :class:`PlanTable` objects whose columns
are known by role and whose rows are cleaned, with a flag on the first row
after each page break.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from core.indexes import earliest_index
from core.plan_model import Document, TableRow, TextLine
from core.text import clean_cell, fold, one_line

# Column roles, checked in this order: the first pattern found in a header wins.
# Order matters: "Phân công nhiệm vụ / Cơ quan chủ trì" is a lead column even
# though it says "nhiệm vụ", and "Thời gian thực hiện" is a deadline, not a
# "… thực hiện" performer column.
_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern))
    for role, pattern in (
        ("code", r"^(?:s?tt|so tt|so thu tu|ma so|ma)$"),  # the same words as _CODE_HEADERS
        ("max_points", r"diem toi da|thang diem"),
        ("target_points", r"diem phan dau|diem du kien|diem muc tieu|diem dat duoc|tu cham"),
        ("deadline", r"thoi gian|thoi han|han hoan thanh|tien do"),
        ("lead", r"chu tri|phu trach"),
        ("support", r"phoi hop"),
        ("performer", r"(?:co quan|don vi|bo phan|nguoi) thuc hien"),
        ("monitor", r"theo doi"),
        ("requirement", r"hoat dong cai thien|nhiem vu hoat dong|giai phap cai thien"),
        # What to do, next to the criterion (plans of merged communes, 2026 on).
        (
            "task",
            r"nhiem vu cu the|cong viec cu the|noi dung cong viec|noi dung nhiem vu"
            r"|nhiem vu (?:va )?giai phap",
        ),
        ("activity", r"\bhoat dong\b"),
        ("goal", r"\bmuc tieu\b"),
        ("output", r"\bket qua\b|\bsan pham\b"),
        ("budget", r"\bkinh phi\b"),
        ("title", r"\blinh vuc\b|\btieu chi\b"),
        ("requirement", r"\byeu cau\b|\bchi tieu\b|noi dung thuc hien|\bgiai phap\b"),
        ("title", r"\bnoi dung\b"),
        ("task", r"\bnhiem vu\b"),
        ("note", r"ghi chu"),
    )
)
_CODE_HEADERS = frozenset({"stt", "tt", "so tt", "so thu tu", "ma so", "ma"})
_NUMBERING_CELL = re.compile(r"^\(?\d{1,2}\)?$")
_APPENDIX_LINE = re.compile(r"^phu luc\b")
_MAX_HEADER_CELL = 120
_SUB_HEADER_ROLES = frozenset(
    {"lead", "support", "performer", "monitor", "max_points", "target_points", "deadline"}
)


@dataclass
class DataRow:
    cells: list[str]  # cleaned text, "" for empty
    line_no: int
    after_page_break: bool

    def get(self, column: int | None) -> str:
        if column is None or column >= len(self.cells):
            return ""
        return self.cells[column]


@dataclass
class PlanTable:
    columns: dict[str, int]
    header_line: int
    context: list[str]  # text lines between the previous table and this one
    rows: list[DataRow] = field(default_factory=list)

    @property
    def is_activity_table(self) -> bool:
        """A task/activity plan (Sông Cầu): numbered tasks, each with several activity rows."""
        return "activity" in self.columns and "task" in self.columns

    def column(self, role: str) -> int | None:
        return self.columns.get(role)

    @property
    def title_column(self) -> int | None:
        if self.is_activity_table:
            return self.columns.get("task")
        return self.columns.get("title", self.columns.get("task"))


def names_an_index(text: str) -> bool:
    """Does this title line name one of the indexes (PAR, SIPAS, PAPI, PCI)?"""
    return earliest_index(fold(text)) is not None


@lru_cache(maxsize=2048)
def header_role(cell: str) -> str | None:
    if not cell or len(cell) > _MAX_HEADER_CELL:
        return None  # cheap test first: every data cell of every row comes through here
    key = fold(cell)
    if not key:
        return None
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(key):
            return role
    return None


def _is_header(cells: list[str]) -> bool:
    if any(len(cell) > _MAX_HEADER_CELL for cell in cells):
        return False
    roles = [header_role(cell) for cell in cells if cell]
    has_title = any(role in ("title", "task") for role in roles)
    if not has_title:
        return False
    if roles and roles[0] == "code":
        return True
    # Sheets typed without an STT column: demand several recognised headers.
    return sum(role is not None for role in roles) >= 3 and None not in roles


def _is_header_continuation(cells: list[str]) -> bool:
    """The second row of a two-row header ("Cơ quan chủ trì | Cơ quan phối hợp")."""
    filled = [cell for cell in cells if cell]
    if not filled or (cells and cells[0]):
        return False
    # Only split headers: who leads/supports, or which points. A carried-over
    # data cell can mention "nhiệm vụ" too, and must not be taken for a header.
    return all(header_role(cell) in _SUB_HEADER_ROLES for cell in filled)


def _is_numbering_row(cells: list[str]) -> bool:
    filled = [cell for cell in cells if cell]
    return len(filled) >= 2 and all(_NUMBERING_CELL.match(cell) for cell in filled)


def _column_roles(header_rows: list[list[str]]) -> dict[str, int]:
    width = max(len(row) for row in header_rows)
    combined = [
        " ".join(row[i] for row in header_rows if i < len(row) and row[i]) for i in range(width)
    ]
    columns: dict[str, int] = {}
    for index, text in enumerate(combined):
        # In a two-row header the lower row is the specific one ("Cơ quan chủ trì").
        lower = next((row[index] for row in reversed(header_rows) if index < len(row)), "")
        role = header_role(lower) or header_role(text)
        if role == "performer":
            role = "lead" if "lead" not in columns else "support"
        if role and role not in columns:
            columns[role] = index
    if "performer" in columns:
        columns.pop("performer")
    # A criterion and what to do about it: without a separate requirement
    # column, what to do is the requirement (as Phường 6's "Nhiệm vụ, hoạt
    # động cải thiện"); with one, it stays the task.
    if {"task", "title"} <= columns.keys() and not {"activity", "requirement"} & columns.keys():
        columns["requirement"] = columns.pop("task")
    return columns


def find_tables(document: Document) -> tuple[list[PlanTable], list[str]]:
    """The plan tables of ``document`` and all its running-text lines (for unit/year)."""
    finder = _TableFinder()
    for block in document.blocks:
        if isinstance(block, TextLine):
            finder.add_text(block)
        else:
            finder.add_row(block)
    return finder.tables, finder.all_text


@dataclass
class _TableFinder:
    tables: list[PlanTable] = field(default_factory=list)
    all_text: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    new_appendix: bool = False
    header_rows: list[list[str]] = field(default_factory=list)
    header_line: int = 0
    after_page_break: bool = False

    @property
    def current(self) -> PlanTable | None:
        return self.tables[-1] if self.tables else None

    def add_text(self, line: TextLine) -> None:
        text = one_line(clean_cell(line.text)).strip("*#_ ")
        if not text:
            return
        self.all_text.append(text)
        self.context.append(text)
        if _APPENDIX_LINE.match(fold(text[:20])):
            self.new_appendix = True
            self.context = [text]
        elif self.current is not None and names_an_index(text):
            # A sheet or section titled only "… Chỉ số hài lòng …" is a new appendix too.
            self.new_appendix = True

    def add_row(self, row: TableRow) -> None:
        cells = [clean_cell(cell) for cell in row.cells]
        if not any(cells):
            return
        if self.header_rows and _is_header_continuation(cells):
            self.header_rows.append(cells)
            return
        if self._may_be_header(cells) and _is_header(cells):
            self._close_header()
            self.header_rows = [cells]
            self.header_line = row.line_no
            return
        self._close_header()
        if _is_numbering_row(cells):
            self.after_page_break = True
            return
        if self.current is not None:
            self.current.rows.append(DataRow(cells, row.line_no, self.after_page_break))
            self.after_page_break = False

    def _may_be_header(self, cells: list[str]) -> bool:
        """Cheap pre-check: a header starts with an STT/TT cell, except a first table's header."""
        if not self.tables:
            return True
        first = next((cell for cell in cells if cell), "")
        return len(first) <= 12 and fold(first) in _CODE_HEADERS

    def _close_header(self) -> None:
        if not self.header_rows:
            return
        columns = _column_roles(self.header_rows)
        self.header_rows = []
        current = self.current
        repeats_current = (
            current is not None and not self.new_appendix and current.columns == columns
        )
        if repeats_current:
            self.after_page_break = True
            return
        self.tables.append(PlanTable(columns, self.header_line, self.context))
        self.context = []
        self.new_appendix = False
        self.after_page_break = False
