"""Render a seed :class:`Document` as .docx/.xlsx/.csv, the way users' files look.

The seeds are text extractions of Word/PDF originals. These renderers rebuild a
plausible original (bold runs, paragraphs inside cells, merged cells, NFD text)
so the readers are tested on real structure while the expected grid is known:
every rendering must read back to the seed's cleaned cells.

Merges only ever cover cells that are empty in the seed, which is what keeps the
grid unchanged: a reader reports covered cells as "".
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import docx
from docx.oxml.ns import qn
from docx.table import _Cell
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from core.plan_model import Document, TableRow, TextLine
from core.text import clean_cell

Run = tuple[str, bool, bool]  # text, bold, italic
Paragraph = list[Run]

# The same tag pattern as core.text.clean_cell, so both sides agree on what is markup.
_TAG = re.compile(r"<[^>]{0,200}>")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9]+)")
_BLOCK_TAGS = frozenset({"p", "li", "ul", "ol", "br", "div", "tr"})
_BOLD_TAGS = frozenset({"b", "strong"})
_ITALIC_TAGS = frozenset({"i", "em"})


@dataclass
class MergePlan:
    """Merges for one table: horizontal spans and vertical runs, never overlapping."""

    spans: dict[tuple[int, int], int] = field(default_factory=dict)  # origin -> width
    h_covered: set[tuple[int, int]] = field(default_factory=set)
    runs: dict[tuple[int, int], int] = field(default_factory=dict)  # origin -> height
    v_covered: set[tuple[int, int]] = field(default_factory=set)


def render_docx(
    doc: Document,
    *,
    nfd: bool = False,
    merge_columns: Sequence[int] = (),
    merge_header: bool = True,
) -> bytes:
    out = docx.Document()
    for item in _groups(doc):
        if isinstance(item, TextLine):
            out.add_paragraph(_norm(item.text, nfd))
        else:
            _docx_table(out, _padded(item), nfd, merge_columns, merge_header)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def render_xlsx(
    doc: Document,
    *,
    nfd: bool = False,
    merge_columns: Sequence[int] = (),
    merge_header: bool = True,
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    row_no = 1
    for item in _groups(doc):
        if isinstance(item, TextLine):
            _set_xlsx_value(sheet.cell(row=row_no, column=1), _norm(item.text, nfd))
            row_no += 1
        else:
            rows = _padded(item)
            _xlsx_table(sheet, row_no, rows, nfd, _plan(rows, merge_columns, merge_header))
            row_no += len(rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render_csv(doc: Document, *, nfd: bool = False, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for item in _groups(doc):
        if isinstance(item, TextLine):
            writer.writerow([_norm(item.text, nfd)])
        else:
            writer.writerows([_norm(clean_cell(c), nfd) for c in row] for row in _padded(item))
    return buffer.getvalue().encode("utf-8-sig")  # Excel's "CSV UTF-8" writes a BOM


def html_paragraphs(raw: str) -> list[Paragraph]:
    """Split cell HTML into paragraphs of formatted runs; blank paragraphs dropped."""
    paragraphs: list[Paragraph] = [[]]
    bold = italic = 0
    position = 0
    for match in _TAG.finditer(raw):
        _add_run(paragraphs[-1], raw[position : match.start()], bold, italic)
        position = match.end()
        name_match = _TAG_NAME.match(match.group())
        if name_match is None:
            continue
        step = -1 if name_match.group(1) else 1
        name = name_match.group(2).lower()
        if name in _BLOCK_TAGS:
            paragraphs.append([])
        elif name in _BOLD_TAGS:
            bold = max(bold + step, 0)
        elif name in _ITALIC_TAGS:
            italic = max(italic + step, 0)
    _add_run(paragraphs[-1], raw[position:], bold, italic)
    return [p for p in paragraphs if any(text.strip() for text, _, _ in p)]


def _add_run(paragraph: Paragraph, text: str, bold: int, italic: int) -> None:
    if text:
        paragraph.append((html.unescape(text), bold > 0, italic > 0))


def _norm(text: str, nfd: bool) -> str:
    return unicodedata.normalize("NFD", text) if nfd else text


def _groups(doc: Document) -> Iterator[TextLine | list[TableRow]]:
    """TextLines one by one, and the rows of each table_no together."""
    table: list[TableRow] = []
    for block in doc.blocks:
        if isinstance(block, TableRow) and table and block.table_no != table[0].table_no:
            yield table
            table = []
        if isinstance(block, TableRow):
            table.append(block)
            continue
        if table:
            yield table
            table = []
        yield block
    if table:
        yield table


def _padded(rows: list[TableRow]) -> list[list[str]]:
    width = max(len(row.cells) for row in rows)
    return [list(row.cells) + [""] * (width - len(row.cells)) for row in rows]


def _plan(rows: list[list[str]], merge_columns: Sequence[int], merge_header: bool) -> MergePlan:
    plain = [[clean_cell(cell) for cell in row] for row in rows]
    plan = MergePlan()
    if merge_header:
        # The header repeats after each page break; every repeat gets the same spans.
        for r, row in enumerate(plain):
            if row == plain[0]:
                _header_spans(plan, r, row)
    for c in merge_columns:
        _vertical_runs(plan, plain, c)
    return plan


def _header_spans(plan: MergePlan, r: int, row: list[str]) -> None:
    for c, text in enumerate(row):
        end = c + 1
        while text and end < len(row) and not row[end]:
            end += 1
        if end - c > 1:
            plan.spans[(r, c)] = end - c
            plan.h_covered.update((r, k) for k in range(c + 1, end))


def _vertical_runs(plan: MergePlan, plain: list[list[str]], c: int) -> None:
    if not plain or c >= len(plain[0]):
        return
    # A vertical merge may not touch a horizontal one: Word and Excel need rectangles.
    horizontal = plan.h_covered | set(plan.spans)
    for r, row in enumerate(plain):
        if not row[c] or (r, c) in horizontal:
            continue
        end = r + 1
        while end < len(plain) and not plain[end][c] and (end, c) not in horizontal:
            end += 1
        if end - r > 1:
            plan.runs[(r, c)] = end - r
            plan.v_covered.update((k, c) for k in range(r + 1, end))


def _docx_table(
    out: docx.document.Document,
    rows: list[list[str]],
    nfd: bool,
    merge_columns: Sequence[int],
    merge_header: bool,
) -> None:
    plan = _plan(rows, merge_columns, merge_header)
    table = out.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, tr in enumerate(table._tbl.tr_lst):
        for c, tc in enumerate(list(tr.tc_lst)):
            if (r, c) in plan.h_covered:
                tr.remove(tc)
                continue
            if (r, c) in plan.spans:
                tc.grid_span = plan.spans[(r, c)]
            if (r, c) in plan.runs or (r, c) in plan.v_covered:
                _set_v_merge(tc, restart=(r, c) in plan.runs)
            if (r, c) not in plan.v_covered:
                _fill_docx_cell(_Cell(tc, table), rows[r][c], nfd)


def _set_v_merge(tc: object, *, restart: bool) -> None:
    v_merge = tc.get_or_add_tcPr().get_or_add_vMerge()  # type: ignore[attr-defined]
    if restart:  # Word writes a bare <w:vMerge/> for the covered cells
        v_merge.set(qn("w:val"), "restart")


def _fill_docx_cell(cell: _Cell, raw: str, nfd: bool) -> None:
    for index, runs in enumerate(html_paragraphs(raw)):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        for text, bold, italic in runs:
            run = paragraph.add_run(_norm(text, nfd))
            run.bold = bold or None
            run.italic = italic or None


def _xlsx_table(sheet: object, top: int, rows: list[list[str]], nfd: bool, plan: MergePlan) -> None:
    for r, row in enumerate(rows):
        for c, raw in enumerate(row):
            if raw and (r, c) not in plan.h_covered and (r, c) not in plan.v_covered:
                cell = sheet.cell(row=top + r, column=c + 1)  # type: ignore[attr-defined]
                _set_xlsx_value(cell, _xlsx_value(raw, nfd))
    for (r, c), width in plan.spans.items():
        _merge(sheet, top + r, c + 1, top + r, c + width)
    for (r, c), height in plan.runs.items():
        _merge(sheet, top + r, c + 1, top + r + height - 1, c + 1)


def _merge(sheet: object, row1: int, col1: int, row2: int, col2: int) -> None:
    sheet.merge_cells(  # type: ignore[attr-defined]
        start_row=row1, start_column=col1, end_row=row2, end_column=col2
    )


def _xlsx_value(raw: str, nfd: bool) -> str | CellRichText:
    paragraphs = html_paragraphs(raw)
    if not any(bold or italic for runs in paragraphs for _, bold, italic in runs):
        return _norm(clean_cell(raw), nfd)
    parts: list[str | TextBlock] = []
    for index, runs in enumerate(paragraphs):
        if index:
            parts.append("\n")
        for text, bold, italic in runs:
            font = InlineFont(b=bold or None, i=italic or None)
            parts.append(TextBlock(font, _norm(text, nfd)) if bold or italic else _norm(text, nfd))
    return CellRichText(parts)


def _set_xlsx_value(cell: object, value: str | CellRichText) -> None:
    cell.value = value  # type: ignore[attr-defined]
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # type: ignore[attr-defined]  # text, not a formula
