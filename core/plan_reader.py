"""Turn uploaded bytes (.docx, .xlsx, .csv or TAB text) into a :class:`Document`.

The format is decided by the content; users rename files, forward them from
Zalo with odd names, or save Word files as "plan.xlsx". Every failure the user
can cause surfaces as :class:`PlanParseError` with a Vietnamese message that
says what to do, never as a library exception.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from lxml import etree

from core import limits
from core.limits import GridBudget
from core.plan_model import Block, Document, PlanParseError, TableRow, TextLine
from core.text import fold, nfc

FORMATS = ("docx", "xlsx", "csv", "text", "yaml")

# A plan is a few hundred KB; anything decompressing beyond this is a zip bomb or not a plan.
MAX_UNZIPPED_BYTES = limits.MAX_UNZIPPED_BYTES
# Malformed gridSpan/gridBefore values must not make us allocate millions of cells.
MAX_GRID_SPAN = limits.MAX_COLUMNS
_CSV_SAMPLE_CHARS = 256 * 1024

_SEND_DOCX_XLSX = "Vui lòng gửi tệp Word (.docx) hoặc Excel (.xlsx)."
_MSG_EMPTY = "Tệp rỗng, không có nội dung. " + _SEND_DOCX_XLSX
_MSG_PDF = "Chưa hỗ trợ đọc tệp PDF. Vui lòng gửi bản Word (.docx) hoặc Excel (.xlsx) của kế hoạch."
_MSG_OLE = (
    "Đây là tệp Word/Excel định dạng cũ (.doc/.xls) hoặc tệp có đặt mật khẩu. "
    "Vui lòng mở tệp và lưu lại thành .docx hoặc .xlsx (không đặt mật khẩu) rồi gửi lại."
)
_MSG_IMAGE = "Đây là tệp ảnh, chưa hỗ trợ đọc kế hoạch từ ảnh chụp. " + _SEND_DOCX_XLSX
_MSG_RTF = "Chưa hỗ trợ tệp RTF. Vui lòng mở bằng Word và lưu thành .docx rồi gửi lại."
_MSG_ODF = (
    "Chưa hỗ trợ tệp OpenDocument (.odt/.ods). Vui lòng lưu lại thành .docx hoặc .xlsx rồi gửi lại."
)
_MSG_ZIP = "Tệp nén này không phải tệp Word (.docx) hay Excel (.xlsx). " + _SEND_DOCX_XLSX
_MSG_BAD_ZIP = "Tệp bị hỏng hoặc không phải tệp Word/Excel hợp lệ. " + _SEND_DOCX_XLSX
_MSG_BINARY = "Tệp có nội dung nhị phân, không đọc được. " + _SEND_DOCX_XLSX
_MSG_ENCODING = (
    "Tệp văn bản không dùng mã UTF-8 (có thể là mã TCVN3/VNI cũ). "
    "Vui lòng lưu lại với mã hoá UTF-8, hoặc gửi tệp .docx/.xlsx."
)
_MSG_YAML = (
    "Tệp kế hoạch YAML (dondoc_plan) được đọc bằng bộ đọc YAML riêng, không phải bộ đọc này."
)
_MSG_DOCX = "Không đọc được tệp Word (.docx): tệp bị hỏng hoặc sai cấu trúc. "
_MSG_XLSX = "Không đọc được tệp Excel (.xlsx): tệp bị hỏng hoặc sai cấu trúc. "
_MSG_CSV = "Không đọc được tệp CSV: dữ liệu sai cấu trúc. "
_RESAVE = "Vui lòng mở bằng Word/Excel, lưu lại rồi gửi lại."

_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def detect_format(data: bytes, filename: str | None = None) -> str:
    """Return "docx", "xlsx", "csv", "text" or "yaml", or raise PlanParseError saying why not."""
    return _classify(data, filename)[0]


def read_document(data: bytes, *, filename: str | None = None) -> Document:
    """Read a .docx/.xlsx/.csv/TAB-text plan into blocks in reading order (all text NFC)."""
    source = read_source(data, filename=filename)
    if isinstance(source, str):
        raise PlanParseError(_MSG_YAML)
    return source


def read_source(data: bytes, *, filename: str | None = None) -> Document | str:
    """A Document for the table formats, or the decoded text of a dondoc YAML plan.

    Lets a caller that accepts both formats detect and decode the file once.
    """
    fmt, text = _classify(data, filename)
    if fmt == "yaml":
        assert text is not None
        return text
    if text is None:
        reader = _read_docx if fmt == "docx" else _read_xlsx
        blocks = _guard(_MSG_DOCX if fmt == "docx" else _MSG_XLSX, reader, data)
    elif fmt == "csv":
        blocks = _read_csv(text, _csv_delimiter(text, _extension(filename)) or ",", GridBudget())
    else:
        blocks = _read_text(text)
    return Document(blocks=blocks, source_format=fmt, name=filename)


def _guard(message: str, reader: Callable[[bytes], list[Block]], data: bytes) -> list[Block]:
    # Library readers fail in many ways on damaged files (KeyError, lxml, zlib, ValueError, ...);
    # the user only needs to know the file is broken and what to do about it.
    try:
        return reader(data)
    except (PlanParseError, MemoryError):
        raise  # a MemoryError is a limit missing in core.limits, not a damaged file
    except Exception as exc:
        raise PlanParseError(message + _RESAVE) from exc


# --- format detection -------------------------------------------------------------------


def _classify(data: bytes, filename: str | None) -> tuple[str, str | None]:
    if not data or not data.strip():
        raise PlanParseError(_MSG_EMPTY)
    if data.startswith(_ZIP_MAGIC):
        return _zip_kind(data, _extension(filename)), None
    if b"%PDF-" in data[:1024]:  # some PDF writers put junk before the header
        raise PlanParseError(_MSG_PDF)
    if data.startswith(_OLE_MAGIC):
        raise PlanParseError(_MSG_OLE)
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise PlanParseError(_MSG_IMAGE)
    if data.startswith(b"{\\rtf"):
        raise PlanParseError(_MSG_RTF)
    text = _decode(data)
    return _text_kind(text, _extension(filename)), text


def _extension(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return filename.rsplit(".", 1)[1].strip().lower()


def _zip_kind(data: bytes, ext: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {name.lower() for name in zf.namelist()}
            main = _main_part(zf)
    except PlanParseError:
        raise
    except Exception as exc:
        raise PlanParseError(_MSG_BAD_ZIP) from exc
    is_docx = "word/document.xml" in names or main.startswith("word/")
    is_xlsx = "xl/workbook.xml" in names or main.startswith("xl/")
    if is_docx and is_xlsx:
        return "xlsx" if ext.startswith("xl") else "docx"
    if is_docx or is_xlsx:
        return "docx" if is_docx else "xlsx"
    if "content.xml" in names and "mimetype" in names:
        raise PlanParseError(_MSG_ODF)
    raise PlanParseError(_MSG_ZIP)


def _main_part(zf: zipfile.ZipFile) -> str:
    """Path of the main document part (Word Online sometimes writes word/document2.xml)."""
    try:
        rels = _parse_xml(_read_member(zf, "_rels/.rels"))
    except (KeyError, etree.XMLSyntaxError):
        return ""  # damaged or missing package rels: fall back to the usual part names
    for rel in rels:
        if str(rel.get("Type", "")).endswith("/officeDocument"):
            return str(rel.get("Target", "")).lstrip("/").lower()
    return ""


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    # zipfile never inflates a member past its declared size (a lying header fails its
    # CRC), so checking the declared size bounds what is read.
    info = _find_member(zf, name)
    limits.check_part(info.filename, info.file_size)
    return zf.read(info)


def _find_member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    wanted = name.lower()
    for info in zf.infolist():
        if info.filename.lower() == wanted:
            return info
    raise KeyError(name)


_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse_xml(raw: bytes) -> etree._Element:
    limits.check_xml_tags(raw)
    return etree.fromstring(raw, parser=_XML_PARSER)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _try_decode(data, "utf-16")
    else:
        text = _try_decode(data, "utf-8-sig")  # utf-8-sig also reads plain UTF-8
    if text is None:
        raise PlanParseError(_MSG_BINARY if _looks_binary(data) else _MSG_ENCODING)
    if not text.strip():  # a lone BOM, or whitespace in UTF-16
        raise PlanParseError(_MSG_EMPTY)
    if "\x00" in text or _control_ratio(text) > 0.01:
        raise PlanParseError(_MSG_BINARY)
    return text


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    controls = sum(1 for byte in sample if byte < 32 and byte not in b"\t\n\r\f\v")
    return controls > len(sample) * 0.01


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _control_ratio(text: str) -> float:
    sample = text[:8192]
    return len(_CONTROL_CHARS.findall(sample)) / max(len(sample), 1)


def _text_kind(text: str, ext: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped != "---":
            if stripped.startswith("dondoc_plan:"):
                return "yaml"
            break
    if "\t" in text:
        return "text"
    return "csv" if _csv_delimiter(text, ext) else "text"


def _csv_delimiter(text: str, ext: str) -> str | None:
    """Delimiter if ``text`` looks like a table exported as CSV, else None.

    csv.Sniffer alone is fooled by comma-rich Vietnamese prose and by decimal commas
    in ';' files, so its guess is only tried first and then checked for a consistent
    column count.
    """
    sample = text[:_CSV_SAMPLE_CHARS]
    candidates = [",", ";"]
    try:
        sniffed = csv.Sniffer().sniff(sample[:65536], delimiters=",;").delimiter
        candidates.sort(key=lambda d: d != sniffed)
    except csv.Error:
        pass
    for delimiter in candidates:
        if _consistent_columns(sample, delimiter, lenient=ext == "csv"):
            return delimiter
    return None


def _consistent_columns(sample: str, delimiter: str, *, lenient: bool) -> bool:
    try:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(row)]
    except csv.Error:
        return False
    wide = [len(row) for row in rows if len(row) >= 3]
    if len(wide) < 2:
        return False
    count = Counter(wide).most_common(1)[0][1]
    # Exported tables are rectangular; prose has a different number of commas per line.
    if count < 0.8 * len(wide):
        return False
    return lenient or len(wide) > 0.5 * len(rows)


# --- TAB text ---------------------------------------------------------------------------


def _read_text(text: str) -> list[Block]:
    text = nfc(text)  # once for the whole file, not once per cell
    budget = GridBudget()
    blocks: list[Block] = []
    table_no = 0
    in_table = False
    for line_no, line in enumerate(_split_lines(text), start=1):
        if not line.strip():
            continue  # page breaks leave blank lines inside one table
        if "\t" in line:
            if not in_table:
                table_no += 1
                in_table = True
            budget.row(line.count("\t") + 1)
            cells = tuple(line.split("\t"))
            blocks.append(TableRow(cells=cells, line_no=line_no, table_no=table_no))
        else:
            budget.line()
            in_table = False
            blocks.append(TextLine(text=line.strip(), line_no=line_no))
    return blocks


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits on \f, \x1c, \u2028 that can sit inside a cell.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


# --- grids (CSV and XLSX) ---------------------------------------------------------------


def _grid_blocks(rows: Iterable[tuple[int, list[str]]], first_table_no: int) -> list[Block]:
    """Split spreadsheet-like rows into title TextLines and TableRows.

    A row with at most one filled cell is a title when no header-like row (three or
    more filled cells) has been seen in the current table yet, or when it starts an
    appendix ("Phụ lục ..."); a title ends the table. Later one-cell rows stay rows:
    they are section headings merged across the table, or carried-over text.
    """
    blocks: list[Block] = []
    table_no = first_table_no
    seen_header = False
    in_table = False
    for line_no, cells in rows:
        filled = [cell for cell in cells if cell.strip()]
        if not filled:
            continue
        if len(filled) <= 1 and (not seen_header or fold(filled[0]).startswith("phu luc")):
            blocks.append(TextLine(text=filled[0].strip(), line_no=line_no))
            seen_header = in_table = False
            continue
        if not in_table:
            table_no += 1
            in_table = True
        seen_header = seen_header or len(filled) >= 3
        blocks.append(TableRow(cells=tuple(cells), line_no=line_no, table_no=table_no))
    return blocks


def _read_csv(text: str, delimiter: str, budget: GridBudget) -> list[Block]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            budget.row(len(row))
            rows.append((start, [nfc(cell) for cell in row]))
            start = reader.line_num + 1  # a quoted cell may span several lines
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
        raise PlanParseError(_MSG_CSV + _RESAVE) from exc
    return _grid_blocks(rows, 0)


# --- XLSX -------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> list[Block]:
    from openpyxl.worksheet.worksheet import Worksheet

    workbook = load_bounded_workbook(data)
    budget = GridBudget()
    blocks: list[Block] = []
    rows_before = table_no = 0
    for sheet in workbook.worksheets:
        if not isinstance(sheet, Worksheet) or sheet.sheet_state != "visible":
            continue  # hidden sheets hold dropdown lists and lookups, not the plan
        grid = sheet_grid(sheet, budget, _cell_text)
        numbered = ((rows_before + row_no, cells) for row_no, cells in grid)
        sheet_blocks = _grid_blocks(numbered, table_no)
        blocks.extend(sheet_blocks)
        table_no = max([table_no] + [b.table_no for b in sheet_blocks if isinstance(b, TableRow)])
        rows_before += sheet.max_row
    return blocks


def load_bounded_workbook(data: bytes) -> Any:
    """An openpyxl workbook (values, not formulas), once its parts are known to be small.

    openpyxl builds an object for every cell it finds, so the cells are counted in
    the raw sheets first; the rosters use this too.
    """
    from openpyxl import load_workbook

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        limits.check_unzipped(sum(info.file_size for info in zf.infolist()))
        cells = 0
        for info in zf.infolist():
            name = info.filename.lower()
            if name.endswith((".xml", ".rels")):
                limits.check_part(info.filename, info.file_size)
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                raw = zf.read(info)
                limits.check_xml_tags(raw)
                cells += limits.count_xlsx_cells(raw)
                limits.check_xlsx_cells(cells)
            elif name == "xl/sharedstrings.xml":
                limits.check_xml_tags(zf.read(info))
    return load_workbook(io.BytesIO(data), data_only=True)


def sheet_grid(
    sheet: Any, budget: GridBudget, cell_text: Callable[[object], str]
) -> list[tuple[int, list[str]]]:
    """Rows of non-empty text, trimmed to the used columns of the sheet.

    Iterates the sparse cell store: iter_rows() would materialise the whole
    rectangle, which is a million rows when someone formatted a full column.
    Covered cells of merged ranges are MergedCell objects whose value is None.
    The grid's size is checked against ``budget`` before any row is allocated:
    A1 and XFD1 alone would otherwise pad every row to 16,384 columns.
    """
    values: dict[tuple[int, int], str] = {}
    for (row, col), cell in sheet._cells.items():
        text = cell_text(cell.value)
        if text.strip():
            values[(row, col)] = text
    if not values:
        return []
    first_col = min(col for _, col in values)
    last_col = max(col for _, col in values)
    budget.grid(len({row for row, _ in values}), last_col - first_col + 1)
    by_row: dict[int, list[str]] = {}
    for (row, col), text in values.items():
        cells = by_row.setdefault(row, [""] * (last_col - first_col + 1))
        cells[col - first_col] = text
    return sorted(by_row.items())


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return nfc(str(value))


def _float_text(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")  # 1e-05 -> "0.00001", never an exponent


# --- DOCX -------------------------------------------------------------------------------

_W_NS = (
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",  # "Strict Open XML" files
)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _w(name: str) -> frozenset[str]:
    return frozenset(f"{{{ns}}}{name}" for ns in _W_NS)


_P, _TBL, _TR, _TC = _w("p"), _w("tbl"), _w("tr"), _w("tc")
_SDT, _SDT_CONTENT, _CUSTOM_XML = _w("sdt"), _w("sdtContent"), _w("customXml")
_T, _TAB, _BREAKS, _HYPHEN = (
    _w("t"),
    _w("tab") | _w("ptab"),
    _w("br") | _w("cr"),
    _w("noBreakHyphen"),
)
_TC_PR, _TR_PR, _GRID_SPAN, _V_MERGE = _w("tcPr"), _w("trPr"), _w("gridSpan"), _w("vMerge")
_GRID_BEFORE, _GRID_AFTER, _TBL_GRID, _GRID_COL = (
    _w("gridBefore"),
    _w("gridAfter"),
    _w("tblGrid"),
    _w("gridCol"),
)
_SKIP_TEXT = _w("del") | _w("moveFrom") | {_MC_FALLBACK}


def _read_docx(data: bytes) -> list[Block]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        main = _main_part(zf) or "word/document.xml"
        root = _parse_xml(_read_member(zf, main))
    body = next((el for el in root if el.tag in _w("body")), None)
    if body is None:
        raise PlanParseError(_MSG_DOCX + _RESAVE)
    blocks: list[Block] = []
    budget = GridBudget()
    table_no = 0
    for element in _content(body):
        if element.tag in _P:
            text = nfc(_paragraph_text(element)).strip()
            if text:
                budget.line()
                blocks.append(TextLine(text=text, line_no=len(blocks) + 1))
        else:
            table_no += 1
            for cells in _table_rows(element, budget):
                blocks.append(TableRow(cells=cells, line_no=len(blocks) + 1, table_no=table_no))
    return blocks


def _content(parent: etree._Element, kinds: frozenset[str] = _P | _TBL) -> Iterator[Any]:
    """Children of ``kinds`` in order, looking through content controls and custom XML."""
    for child in parent:
        if child.tag in kinds:
            yield child
        elif child.tag in _SDT or child.tag in _SDT_CONTENT or child.tag in _CUSTOM_XML:
            yield from _content(child, kinds)


def _paragraph_text(paragraph: etree._Element) -> str:
    parts: list[str] = []
    _collect_text(paragraph, parts)
    return "".join(parts)


def _collect_text(element: etree._Element, parts: list[str]) -> None:
    for child in element:
        tag = child.tag
        if tag in _T:
            parts.append(child.text or "")
        elif tag in _TAB:
            parts.append("\t")
        elif tag in _BREAKS:
            parts.append("\n")
        elif tag in _HYPHEN:
            parts.append("-")
        elif tag not in _SKIP_TEXT and isinstance(tag, str):
            _collect_text(child, parts)  # runs inside hyperlinks, insertions, fields, ...


def _table_rows(table: etree._Element, budget: GridBudget) -> list[tuple[str, ...]]:
    rows = [_row_cells(tr, budget) for tr in _content(table, _TR)]
    width = max([len(row) for row in rows] + [_grid_width(table)], default=0)
    budget.pad(sum(width - len(row) for row in rows))
    return [tuple(row + [""] * (width - len(row))) for row in rows]


def _grid_width(table: etree._Element) -> int:
    for child in table:
        if child.tag in _TBL_GRID:
            return min(sum(1 for col in child if col.tag in _GRID_COL), MAX_GRID_SPAN)
    return 0


def _row_cells(tr: etree._Element, budget: GridBudget) -> list[str]:
    properties = _child(tr, _TR_PR)
    before = _int_val(_child(properties, _GRID_BEFORE), 0)
    after = _int_val(_child(properties, _GRID_AFTER), 0)
    cells_xml = list(_content(tr, _TC))
    spans = [max(_int_val(_child(_child(tc, _TC_PR), _GRID_SPAN), 1), 1) for tc in cells_xml]
    budget.row(before + sum(spans) + after)  # before allocating the row
    cells = [""] * before
    for tc, span in zip(cells_xml, spans, strict=True):
        v_merge = _child(_child(tc, _TC_PR), _V_MERGE)
        continued = v_merge is not None and _val(v_merge) != "restart"
        cells.append("" if continued else _cell_text_docx(tc, budget))
        cells.extend([""] * (span - 1))
    cells.extend([""] * after)
    return cells


def _cell_text_docx(tc: etree._Element, budget: GridBudget) -> str:
    lines: list[str] = []
    for element in _content(tc):
        if element.tag in _P:
            lines.append(nfc(_paragraph_text(element)))
        else:  # nested table: its cells become lines of this cell
            lines.extend(cell for row in _table_rows(element, budget) for cell in row if cell)
    return "\n".join(lines)


def _child(element: etree._Element | None, tags: frozenset[str]) -> etree._Element | None:
    if element is None:
        return None
    return next((child for child in element if child.tag in tags), None)


def _val(element: etree._Element) -> str | None:
    return next((element.get(f"{{{ns}}}val") for ns in _W_NS if element.get(f"{{{ns}}}val")), None)


def _int_val(element: etree._Element | None, default: int) -> int:
    if element is None:
        return default
    try:
        return min(max(int(_val(element) or default), 0), MAX_GRID_SPAN)
    except ValueError:
        return default
