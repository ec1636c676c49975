"""Hostile documents, written at test time, and a way to read one under a memory limit.

Each generator writes a small file that expands into something no real plan or
roster is: span and sparse-grid bombs, a sea of paragraphs, a YAML alias bomb,
codes 50,000 levels deep. ``read_limited`` reads a file in a child process under
RLIMIT_AS and a timeout, so the code of a day when the reader was unbounded fails
the test instead of taking the machine down. bench/hostile_inputs.py reuses both.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CHUNK = 1 << 20


def _chunks(parts: Iterator[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= _CHUNK:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    yield "".join(buffer).encode()


def _write_zip(path: Path, members: dict[str, Callable[[], Iterator[str]]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, parts in members.items():
            with zf.open(name, "w", force_zip64=True) as out:
                for chunk in _chunks(parts()):
                    out.write(chunk)
    return path


def _docx(path: Path, body: Callable[[], Iterator[str]]) -> Path:
    def document() -> Iterator[str]:
        yield f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'
        yield from body()
        yield "</w:body></w:document>"

    return _write_zip(path, {"word/document.xml": document})


def _header_row() -> str:
    cells = "".join(
        f"<w:tc><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"
        for text in ("STT", "Nội dung", "Chủ trì", "Thời gian")
    )
    return f"<w:tr>{cells}</w:tr>"


def docx_span_bomb(path: Path) -> Path:
    """One row of 4,096 cells each spanning 256 columns, then 200,000 empty rows."""

    def body() -> Iterator[str]:
        yield "<w:tbl>" + _header_row() + "<w:tr>"
        cell = '<w:tc><w:tcPr><w:gridSpan w:val="256"/></w:tcPr><w:p/></w:tc>'
        yield from (cell for _ in range(4096))
        yield "</w:tr>"
        yield from ("<w:tr/>" for _ in range(200_000))
        yield "</w:tbl>"

    return _docx(path, body)


def docx_grid_before_after(path: Path) -> Path:
    """A million rows, each padded by gridBefore and gridAfter of 256."""

    def body() -> Iterator[str]:
        yield "<w:tbl>" + _header_row()
        row = (
            '<w:tr><w:trPr><w:gridBefore w:val="256"/><w:gridAfter w:val="256"/></w:trPr>'
            "<w:tc><w:p/></w:tc></w:tr>"
        )
        yield from (row for _ in range(1_000_000))
        yield "</w:tbl>"

    return _docx(path, body)


def docx_paragraphs(path: Path) -> Path:
    """About 150 MB of one-word paragraphs (a few hundred KB zipped)."""

    def body() -> Iterator[str]:
        paragraph = "<w:p><w:r><w:t>Dòng</w:t></w:r></w:p>"
        yield from (paragraph for _ in range(4_000_000))

    return _docx(path, body)


def _xlsx(path: Path, sheet: Callable[[], Iterator[str]]) -> Path:
    def text(value: str) -> Callable[[], Iterator[str]]:
        return lambda: iter([value])

    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_S}" xmlns:r="{_R}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    )
    return _write_zip(
        path,
        {
            "[Content_Types].xml": text(content_types),
            "_rels/.rels": text(rels),
            "xl/workbook.xml": text(workbook),
            "xl/_rels/workbook.xml.rels": text(workbook_rels),
            "xl/worksheets/sheet1.xml": sheet,
        },
    )


def _inline(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def xlsx_sparse(path: Path, rows: int = 200_001) -> Path:
    """A1..A200001 and XFD1: every row spread to 16,384 columns."""

    def sheet() -> Iterator[str]:
        yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_S}">'
        yield f'<dimension ref="A1:XFD{rows}"/><sheetData>'
        yield f'<row r="1">{_inline("A1", "Họ tên")}{_inline("XFD1", "Vị trí")}</row>'
        yield from (f'<row r="{n}">{_inline(f"A{n}", "x")}</row>' for n in range(2, rows + 1))
        yield "</sheetData></worksheet>"

    return _xlsx(path, sheet)


def xlsx_huge_cell(path: Path, megabytes: int = 400) -> Path:
    """A roster whose one cell inflates to hundreds of MB (about 1 MB zipped)."""

    def sheet() -> Iterator[str]:
        yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_S}"><sheetData>'
        yield f'<row r="1">{_inline("A1", "Họ tên")}{_inline("B1", "Vị trí")}</row>'
        yield '<row r="2"><c r="A2" t="inlineStr"><is><t>'
        yield from ("a" * _CHUNK for _ in range(megabytes))
        yield "</t></is></c></row></sheetData></worksheet>"

    return _xlsx(path, sheet)


def tsv_many_rows(path: Path, rows: int = 200_000) -> Path:
    """A plan table of 200,000 criteria (about 19 MB)."""
    lines = ["KẾ HOẠCH Cải cách hành chính năm 2024 của xã Hòa Bình", "STT\tNội dung\tChủ trì"]
    lines += [
        f"{n // 500 + 1}.{n % 500 + 1}\tTiêu chí số {n} của kế hoạch\tVăn phòng - Thống kê"
        for n in range(rows)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def tsv_deep_code(path: Path, depth: int = 50_000) -> Path:
    """A table whose one code is "1.1.1.….1", 100 KB long."""
    code = ".".join(["1"] * depth)
    lines = ["Kế hoạch năm 2024", "STT\tNội dung\tChủ trì", "1\tLĩnh vực\tVăn phòng - Thống kê"]
    lines.append(f"{code}\tTiêu chí sâu\tVăn phòng - Thống kê")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def yaml_alias_bomb(path: Path) -> Path:
    """A 600-byte YAML plan whose requirement expands to 9^9 strings."""
    lines = ["dondoc_plan: 1", "year: 2024", 'a0: &a0 ["lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines += ["criteria:", '  - {index: PAR, code: "1", title: Bom, requirement: *a9}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def yaml_long_period(path: Path, items: int = 200) -> Path:
    """``period: [1, 9999]`` with a monthly deadline: 120,000 dates per item."""
    lines = ["dondoc_plan: 1", "year: 2024", "period: [1, 9999]", "criteria:"]
    lines += [
        f'  - {{index: PAR, code: "{n}", title: Việc {n}, deadline: Hằng tháng}}'
        for n in range(1, items + 1)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def yaml_deep_code(path: Path, depth: int = 50_000) -> Path:
    code = ".".join(["1"] * depth)
    text = (
        f'dondoc_plan: 1\nyear: 2024\ncriteria:\n  - {{index: PAR, code: "{code}", title: Sâu}}\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


def csv_roster_errors(path: Path, rows: int = 1_000_000) -> Path:
    """A 20 MB roster of a million bad rows (no name, unknown position)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("Họ tên,Vị trí\n")
        for _ in range(rows // 1000):
            out.write(",Không có vị trí\n" * 1000)
    return path


def csv_roster_rows(path: Path) -> Path:
    """A roster under the size cap, with 150,000 bad rows."""
    return csv_roster_errors(path, rows=150_000)


# name -> (generator, file name, what reads it)
HOSTILE: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "docx_span_bomb": (docx_span_bomb, "span.docx", "plan"),
    "docx_grid_before_after": (docx_grid_before_after, "grid.docx", "plan"),
    "docx_paragraphs": (docx_paragraphs, "paragraphs.docx", "plan"),
    "xlsx_sparse": (xlsx_sparse, "sparse.xlsx", "plan"),
    "tsv_many_rows": (tsv_many_rows, "rows.txt", "plan"),
    "tsv_deep_code": (tsv_deep_code, "deep.txt", "plan"),
    "yaml_alias_bomb": (yaml_alias_bomb, "alias.yaml", "plan"),
    "yaml_long_period": (yaml_long_period, "period.yaml", "plan"),
    "yaml_deep_code": (yaml_deep_code, "deep.yaml", "plan"),
    "roster_xlsx_sparse": (xlsx_sparse, "roster_sparse.xlsx", "roster"),
    "roster_xlsx_huge_cell": (xlsx_huge_cell, "roster_huge.xlsx", "roster"),
    "roster_csv_errors": (csv_roster_errors, "roster_errors.csv", "roster"),
    "roster_csv_rows": (csv_roster_rows, "roster_rows.csv", "roster"),
}

# Run in the child: read one file the way the bot and the CLI do, print what happened.
CHILD = """
import json, sys
kind, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
name = path.rsplit("/", 1)[-1]
try:
    if kind == "plan":
        from core.plans import parse_plan_file
        plan = parse_plan_file(data, filename=name)
        result = {"outcome": "parsed", "criteria": len(plan.criteria),
                  "dates": sum(len(c.due_dates) for c in plan.criteria)}
    else:
        from core.roster import read_roster
        result = {"outcome": "parsed", "rows": len(read_roster(data, filename=name))}
except MemoryError:
    result = {"outcome": "MemoryError"}
except Exception as exc:
    message = str(exc)
    result = {"outcome": "refused", "error": type(exc).__name__,
              "message": message[:2000], "message_chars": len(message)}
print(json.dumps(result, ensure_ascii=False))
"""


def _limit_memory(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def read_limited(
    kind: str, path: Path, *, memory_mb: int = 1024, timeout: float = 120.0
) -> dict[str, object]:
    """Read ``path`` as a plan or roster in a child under RLIMIT_AS; what happened, as a dict."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, kind, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            preexec_fn=_limit_memory(memory_mb),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"outcome": f"crashed ({done.returncode})", "stderr": done.stderr[-2000:]}
    result: dict[str, object] = json.loads(lines[-1])
    return result
