"""Reading a roster of officers from .csv or .xlsx, before anything is written.

Every problem in the file is collected (not only the first) so the admin can fix
them all in one go; line numbers are the spreadsheet's own, the header being 1.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath

from core.limits import GridBudget, LimitError
from core.positions import PositionCatalogue, default_catalogue, department_codes
from core.roles import RoleError, parse_roles
from core.text import fold, fold_compact, nfc, one_line, parse_whole_number

MAX_ROSTER_ROWS = 2000
# 2,000 officers take a few hundred KB; a bigger file is not a roster.
MAX_ROSTER_BYTES = 5 * 1024 * 1024
# A roster with hundreds of bad lines is the wrong file: the first ones say enough.
MAX_REPORTED_PROBLEMS = 30

# Folded, separator-free header words -> our column names.
_HEADERS = {
    "name": "name",
    "hoten": "name",
    "hovaten": "name",
    "ten": "name",
    "positions": "positions",
    "position": "positions",
    "vitri": "positions",
    "role": "role",
    "roles": "role",
    "vaitro": "role",
    "telegramid": "telegram_id",
    "idtelegram": "telegram_id",
    "telegram": "telegram_id",
    "phone": "phone",
    "sodienthoai": "phone",
    "dienthoai": "phone",
    "sdt": "phone",
    # Merged communes: the department, and whether the officer heads it.
    "phongdonvi": "department",
    "phong": "department",
    "donvi": "department",
    "phongban": "department",
    "department": "department",
    "truongphong": "head",
    "head": "head",
}
# What a "Trưởng phòng" cell says when the officer heads the department.
_YES = frozenset({"x", "co", "1", "yes", "true", "truongphong", "tp", "dung"})
_NO = frozenset({"", "khong", "0", "no", "false"})
_POSITION_SEPARATORS = re.compile(r"[;\n]")


class RosterError(ValueError):
    """The roster file has problems; ``problems`` holds one "Dòng N: …" line each."""

    def __init__(self, problems: list[str]) -> None:
        if len(problems) > MAX_REPORTED_PROBLEMS:
            more = len(problems) - MAX_REPORTED_PROBLEMS
            problems = [*problems[:MAX_REPORTED_PROBLEMS], f"… và {more} lỗi khác."]
        self.problems = problems
        super().__init__("Danh sách có lỗi, chưa nhập gì:\n" + "\n".join(problems))


class PositionError(ValueError):
    """A position text that is not a post an officer can hold."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    positions: tuple[str, ...]
    roles: tuple[str, ...]
    telegram_id: int | None = None
    phone: str | None = None
    department: str | None = None  # a department code ("PKT")
    department_head: bool = False


def officer_position_codes() -> list[str]:
    catalogue = default_catalogue()
    return [code for code, p in catalogue.positions.items() if p.kind == "officer"]


def position_codes(texts: Iterable[str], catalogue: PositionCatalogue | None = None) -> list[str]:
    """Codes ("VPTK") or names ("Văn phòng - Thống kê") -> codes, in order, without repeats."""
    catalogue = catalogue or default_catalogue()
    codes: list[str] = []
    for text in texts:
        for code in _one_position(text, catalogue):
            if code not in codes:
                codes.append(code)
    return codes


def _one_position(text: str, catalogue: PositionCatalogue) -> tuple[str, ...]:
    cleaned = one_line(nfc(text))
    if not cleaned:
        return ()
    catalogue = catalogue.for_posts()  # "Văn phòng UBND" here is the VPTK post
    upper = cleaned.upper()
    if upper in catalogue.positions:
        codes: tuple[str, ...] = (upper,)
    else:
        match = catalogue.match(cleaned)
        if match.unmapped or not match.codes:
            raise PositionError(f"Vị trí «{cleaned}» không có trong danh mục.")
        codes = match.codes
    for code in codes:
        if catalogue.kind(code) != "officer":
            raise PositionError(f"«{cleaned}» ({code}) không phải vị trí của một công chức.")
    return codes


def department_code(text: str, catalogue: PositionCatalogue | None = None) -> str | None:
    """A department's code or name ("PKT", "Phòng Kinh tế xã") -> its code; "" -> None."""
    # Departments are spelled as today's plans spell them.
    catalogue = (catalogue or default_catalogue()).for_year(None)
    cleaned = one_line(nfc(text))
    if not cleaned:
        return None
    upper = cleaned.upper()
    if upper in catalogue.positions:
        codes: tuple[str, ...] = (upper,)
    else:
        match = catalogue.match(cleaned)
        if match.unmapped or len(match.codes) != 1:
            raise PositionError(f"Phòng/đơn vị «{cleaned}» không có trong danh mục.")
        codes = match.codes
    if catalogue.kind(codes[0]) != "department":
        raise PositionError(f"«{cleaned}» ({codes[0]}) không phải một phòng/đơn vị.")
    return codes[0]


def department_codes_hint() -> str:
    return "Mã phòng/đơn vị hợp lệ: " + ", ".join(department_codes()) + "."


def valid_codes_hint() -> str:
    return "Mã vị trí hợp lệ: " + ", ".join(officer_position_codes()) + "."


def read_roster(data: bytes, *, filename: str) -> list[RosterRow]:
    """Parse a roster file; raise RosterError listing every bad line."""
    suffix = PurePath(filename).suffix.lower()
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(
            [f"Tệp quá lớn cho một danh sách cán bộ (trên {MAX_ROSTER_BYTES // 2**20} MB)."]
        )
    if suffix == ".xlsx":
        grid: Iterable[tuple[int, list[str]]] = _xlsx_rows(data)
    elif suffix in (".csv", ".txt"):
        grid = _csv_rows(data)
    else:
        raise RosterError(["Chỉ nhận tệp .csv hoặc .xlsx."])
    return _rows(grid)


async def read_roster_async(data: bytes, *, filename: str) -> list[RosterRow]:
    """read_roster in a worker thread: reading a big file must not hold up every other user."""
    return await asyncio.to_thread(read_roster, data, filename=filename)


def _rows(grid: Iterable[tuple[int, list[str]]]) -> list[RosterRow]:
    lines = ((n, cells) for n, cells in grid if any(cell.strip() for cell in cells))
    first = next(lines, None)
    if first is None:
        raise RosterError(["Tệp trống."])
    header_line, header = first
    columns = {_HEADERS.get(fold_compact(cell)): i for i, cell in enumerate(header)}
    wanted: list[tuple[str, str]] = [("name", "Họ tên"), ("positions", "Vị trí")]
    if "department" in columns:
        wanted.pop()  # a roster by department may leave positions out
    missing = [label for key, label in wanted if key not in columns]
    if missing:
        raise RosterError(
            [f"Dòng {header_line}: thiếu cột {', '.join(missing)} (cần: Họ tên, Vị trí, Vai trò)."]
        )
    parser = _RowParser(columns)
    rows = []
    for count, (n, cells) in enumerate(lines, start=1):
        if count > MAX_ROSTER_ROWS:  # stop reading: a roster is dozens of lines
            raise RosterError([f"Quá nhiều dòng (tối đa {MAX_ROSTER_ROWS})."])
        if (row := parser.parse(n, cells)) is not None:
            rows.append(row)
    if not rows and not parser.problems:
        parser.problems.append("Tệp không có dòng cán bộ nào.")
    if parser.problems:
        if parser.position_problem:
            parser.problems.append(valid_codes_hint())
        raise RosterError(parser.problems)
    return rows


class _RowParser:
    def __init__(self, columns: dict[str | None, int]) -> None:
        self.columns = columns
        self.problems: list[str] = []
        self.position_problem = False
        self.names: dict[str, int] = {}
        self.telegram_ids: dict[int, int] = {}

    def cell(self, cells: list[str], key: str) -> str:
        index = self.columns.get(key)
        if index is None or index >= len(cells):
            return ""
        return one_line(nfc(cells[index]))

    def parse(self, line: int, cells: list[str]) -> RosterRow | None:
        before = len(self.problems)
        name = self._name(line, self.cell(cells, "name"))
        roles = self._roles(line, self.cell(cells, "role"))
        department = self._department(line, self.cell(cells, "department"))
        head = self._head(line, self.cell(cells, "head"), department)
        positions = self._positions(line, self.cell(cells, "positions"), roles, department)
        telegram_id = self._telegram_id(line, self.cell(cells, "telegram_id"))
        phone = self.cell(cells, "phone") or None
        if len(self.problems) > before or name is None:
            return None
        return RosterRow(
            line, name, tuple(positions), tuple(roles), telegram_id, phone, department, head
        )

    def _department(self, line: int, text: str) -> str | None:
        try:
            return department_code(text)
        except PositionError as exc:
            self.problems.append(f"Dòng {line}: {exc} {department_codes_hint()}")
            return None

    def _head(self, line: int, text: str, department: str | None) -> bool:
        key = fold_compact(text)
        if key in _NO:
            return False
        if key not in _YES:
            self.problems.append(f"Dòng {line}: cột Trưởng phòng «{text}» phải là x hoặc để trống.")
            return False
        if department is None:
            self.problems.append(f"Dòng {line}: trưởng phòng cần ghi phòng/đơn vị.")
        return True

    def _name(self, line: int, name: str) -> str | None:
        key = fold(name)
        if not key:
            self.problems.append(f"Dòng {line}: thiếu họ tên.")
            return None
        if key in self.names:
            self.problems.append(f"Dòng {line}: trùng họ tên với dòng {self.names[key]}.")
            return None
        self.names[key] = line
        return name

    def _roles(self, line: int, text: str) -> list[str]:
        try:
            return parse_roles(text) or ["officer"]
        except RoleError as exc:
            self.problems.append(f"Dòng {line}: {exc}")
            return ["officer"]

    def _positions(
        self, line: int, text: str, roles: list[str], department: str | None
    ) -> list[str]:
        try:
            codes = position_codes(_POSITION_SEPARATORS.split(text))
        except PositionError as exc:
            self.problems.append(f"Dòng {line}: {exc}")
            self.position_problem = True
            return []
        # In a merged commune the department says where an officer works.
        if not codes and roles == ["officer"] and department is None:
            either = " hoặc phòng/đơn vị" if "department" in self.columns else ""
            self.problems.append(f"Dòng {line}: thiếu vị trí{either}.")
        return codes

    def _telegram_id(self, line: int, text: str) -> int | None:
        compact = text.replace(" ", "")
        if not compact:
            return None
        value = parse_whole_number(compact, minimum=1)
        if value is None:
            self.problems.append(f"Dòng {line}: Telegram ID «{text[:40]}» phải là số.")
            return None
        if value in self.telegram_ids:
            self.problems.append(
                f"Dòng {line}: Telegram ID trùng với dòng {self.telegram_ids[value]}."
            )
            return None
        self.telegram_ids[value] = line
        return value


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    # Older Excel exports on Vietnamese Windows.
    return data.decode("cp1258", errors="replace")


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data)
    first_line = next((line for line in io.StringIO(text) if line.strip()), "")
    # Headers hold no separators, so the header line tells which one the file uses.
    delimiter = max(("\t", ";", ","), key=first_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1  # a quoted cell may span lines
    except csv.Error as exc:
        raise RosterError([f"Dòng {start}: không đọc được tệp CSV ({exc})."]) from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    # The plan reader's bounded loading and sparse grid: a roster can be a zip bomb too,
    # and read-only iter_rows() pads every row to the sheet's declared width.
    from core.plan_reader import load_bounded_workbook, sheet_grid

    try:
        workbook = load_bounded_workbook(data)
        return sheet_grid(workbook.worksheets[0], GridBudget(), _cell_text)
    except LimitError as exc:
        raise RosterError([str(exc)]) from None
    except MemoryError:
        raise  # a defect to fix, never "the file is damaged"
    except Exception:  # damaged files fail in many library-specific ways
        raise RosterError(["Không đọc được tệp Excel. Hãy mở, lưu lại rồi gửi lại."]) from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a Telegram ID typed into a number cell
    return str(value)
