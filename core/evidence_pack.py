"""The year-end evidence pack: TuDanhGia.xlsx and every evidence file, in one ZIP or in parts.

Layout inside the ZIP::

    TuDanhGia.xlsx
    PAR/1.3 Công tác kiểm tra CCHC/2023-09-12 Nguyễn Thị Lan 1.jpg

Every path part goes through :func:`safe_name`, because the coordinator opens
the pack on a Windows office PC: forbidden characters, reserved device names
and over-long paths make Explorer refuse to extract it. Files are streamed into
the archive in chunks; a pack of several hundred photos never sits in memory.
"""

from __future__ import annotations

import asyncio
import io
import logging
import mimetypes
import os
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

from core.evidence import HEAD_BYTES, content_extension
from core.progress import STATUS_LABELS
from core.summary_xlsx import LOCAL_TZ, MAX_WIDTH, Column, write_table

log = logging.getLogger(__name__)

TABLE_NAME = "TuDanhGia.xlsx"
CHUNK = 1 << 20  # 1 MiB: large enough to be fast, small enough to keep memory flat
MAX_PATH = 200  # Windows' limit is 260 with the folder it is extracted into
# Path budgets: 20 + 1 + 60 + 1 + (10 + 1 + 40 + 1 + 6 + 9) = 149 <= MAX_PATH, always.
INDEX_CHARS, ITEM_CHARS, SENDER_CHARS = 20, 60, 40

_FORBIDDEN = dict.fromkeys(map(ord, '<>:"?*'))
# Slashes become dashes rather than vanish, so "01/KH-UBND" and "24/8/2022" stay readable.
_DASHES = {ord("/"): "-", ord("\\"): "-", ord("|"): "-"}
_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,8}")
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{device}{n}" for device in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]
}
# Already compressed: deflating them again costs CPU and saves nothing.
_STORED = {
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".pdf", ".zip", ".rar", ".7z", ".gz",
    ".docx", ".xlsx", ".pptx", ".mp4", ".mov", ".mp3", ".m4a", ".ogg", ".oga",
}  # fmt: skip


# ---------------------------------------------------------------- safe names


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if text[limit] == " ":
        return text[:limit]
    head = text[:limit]
    cut = head.rfind(" ")
    # Keep whole words unless that would throw away more than half the room.
    return head[:cut] if cut >= limit // 2 else head


def _is_reserved(name: str) -> bool:
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _RESERVED


def clean_text(text: str, *, max_length: int = 60) -> str:
    """Characters Windows forbids or cannot show removed, spaces collapsed, cut at a word.

    This is :func:`safe_name` without the reserved-name rule, for a piece of a
    name (a sender) that never stands alone.
    """
    # Not core.text.nfc, which drops control characters: here they separate words.
    name = unicodedata.normalize("NFC", text).translate(_DASHES).translate(_FORBIDDEN)
    name = "".join(_clean_char(ch) for ch in name)
    name = _SPACES.sub(" ", name).strip()
    return _truncate(name, max_length).rstrip(" .")


def safe_name(text: str, *, max_length: int = 60) -> str:
    """A folder or file name that Windows accepts, keeping the Vietnamese letters (NFC)."""
    name = clean_text(text, max_length=max_length)
    if _is_reserved(name):
        name = _truncate("_" + name, max_length).rstrip(" .")
    return name or "_"


def _clean_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cc":
        return " "  # tabs and line breaks separate words
    return "" if category in {"Cf", "Cs", "Co"} else ch  # invisible or unpaired: drop


# ---------------------------------------------------------------- the data


@dataclass
class PackItem:
    index: str
    code: str
    title: str
    max_points: float | None
    target_points: float | None
    status: str  # not_started | in_progress | done | blocked
    evidence_count: int
    owners: list[str]
    done: bool
    task: str | None = None  # what to do, where the plan has a task column


@dataclass
class PackFile:
    index: str
    code: str
    title: str
    path: Path
    uploaded_at: datetime
    sender: str
    original_name: str | None
    mime: str | None


class PackParts(list[Path]):
    """The ZIP parts, in order; ``oversized`` lists parts over the limit (one file too big)."""

    def __init__(self) -> None:
        super().__init__()
        self.oversized: list[Path] = []


# ---------------------------------------------------------------- TuDanhGia.xlsx


def proposed_score(item: PackItem) -> float | None:
    """Target points when done with evidence, else 0; None for an item without points."""
    if item.target_points is None:
        return None
    return item.target_points if item.done and item.evidence_count > 0 else 0


def needs_explanation(item: PackItem) -> bool:
    return item.done and item.evidence_count == 0


ASSESSMENT_COLUMNS = [
    Column("Chỉ số"),
    Column("Mã"),
    Column("Nội dung", wrap=True, max_width=MAX_WIDTH),
    Column("Điểm tối đa"),
    Column("Điểm mục tiêu"),
    Column("Điểm tự chấm (đề xuất)"),
    Column("Trạng thái"),
    Column("Số minh chứng"),
    Column("Người phụ trách", wrap=True, max_width=30),
]

TASK_COLUMN = Column("Nhiệm vụ", wrap=True, max_width=MAX_WIDTH)

MISSING_COLUMNS = [
    Column("Chỉ số"),
    Column("Mã"),
    Column("Nội dung", wrap=True, max_width=MAX_WIDTH),
    Column("Điểm mục tiêu"),
    Column("Trạng thái"),
    Column("Người phụ trách", wrap=True, max_width=30),
    Column("Giải trình", wrap=True, max_width=MAX_WIDTH, min_width=50),
]


def _owners(item: PackItem) -> str | None:
    return "\n".join(item.owners) if item.owners else None


def _status(item: PackItem) -> str:
    return STATUS_LABELS.get(item.status, item.status)


def _assessment_row(item: PackItem) -> list[Any]:
    return [
        item.index,
        item.code,
        item.title,
        item.max_points,
        item.target_points,
        proposed_score(item),
        _status(item),
        item.evidence_count,
        _owners(item),
    ]


def _missing_row(item: PackItem) -> list[Any]:
    row = [item.index, item.code, item.title, item.target_points, _status(item), _owners(item)]
    return [*row, None]  # Giải trình: the unit writes it


def self_assessment_workbook(items: Sequence[PackItem]) -> bytes:
    """TuDanhGia.xlsx: "Tự đánh giá" (every item) and "Thiếu minh chứng" (done, no evidence)."""
    from openpyxl import Workbook  # loaded with the first workbook, not with the bot

    wb = Workbook()
    sheet = wb.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "Tự đánh giá"
    rows = [_assessment_row(item) for item in items]
    columns = ASSESSMENT_COLUMNS
    if any(item.task for item in items):
        # A plan with a task column: what was to be done, beside the criterion.
        columns = [*columns[:3], TASK_COLUMN, *columns[3:]]
        rows = [[*row[:3], item.task, *row[3:]] for row, item in zip(rows, items, strict=True)]
    write_table(sheet, columns, rows)
    missing = [_missing_row(item) for item in items if needs_explanation(item)]
    write_table(wb.create_sheet("Thiếu minh chứng"), MISSING_COLUMNS, missing)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- planning the archive


@dataclass(frozen=True)
class Entry:
    arcname: str
    file: PackFile
    size: int
    compress_type: int
    modified: datetime  # local wall-clock time of the upload


def _local(moment: datetime, tz: tzinfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None) if moment.tzinfo else moment


def _extension(file: PackFile) -> str:
    candidates = [
        Path(file.original_name or "").suffix.lower(),
        file.path.suffix.lower(),
        (mimetypes.guess_extension(file.mime) or "") if file.mime else "",
    ]
    named = next((ext for ext in candidates if _EXTENSION.fullmatch(ext)), "")
    # The content decides, as when the file was stored: files stored before that rule
    # may carry a name's ".exe", which the pack must not hand to a Windows user.
    with file.path.open("rb") as handle:
        return content_extension(handle.read(HEAD_BYTES), named)


def _code_key(code: str) -> tuple[tuple[int, str], ...]:
    """ "3.10" after "3.9": numeric parts compare as numbers."""
    return tuple((int(part), "") if part.isdigit() else (1 << 30, part) for part in code.split("."))


def _order(files: Sequence[PackFile], items: Sequence[PackItem]) -> list[PackFile]:
    """Plan order (index, then code), oldest upload first, so a folder's files stay together."""
    index_rank: dict[str, int] = {}
    for item in items:
        index_rank.setdefault(item.index, len(index_rank))
    return sorted(
        files,
        key=lambda f: (index_rank.get(f.index, len(index_rank)), f.index, _code_key(f.code),
                       f.uploaded_at.timestamp()),
    )  # fmt: skip


def plan_entries(
    files: Sequence[PackFile], items: Sequence[PackItem] = (), tz: tzinfo = LOCAL_TZ
) -> list[Entry]:
    """Archive names for every file; stats them all first, so a missing file fails fast."""
    missing = [str(file.path) for file in files if not file.path.is_file()]
    if missing:
        raise FileNotFoundError(f"evidence files missing from storage: {', '.join(missing)}")
    used: set[str] = set()
    entries = []
    for file in _order(files, items):
        arcname = _arcname(file, tz, used)
        ext = _extension(file)
        compress = zipfile.ZIP_STORED if ext in _STORED else zipfile.ZIP_DEFLATED
        size = file.path.stat().st_size
        entries.append(Entry(arcname, file, size, compress, _local(file.uploaded_at, tz)))
    return entries


def _arcname(file: PackFile, tz: tzinfo, used: set[str]) -> str:
    folder = "/".join(
        [
            safe_name(file.index, max_length=INDEX_CHARS),
            safe_name(f"{file.code} {file.title}", max_length=ITEM_CHARS),
        ]
    )
    day = _local(file.uploaded_at, tz).strftime("%Y-%m-%d")
    sender = clean_text(file.sender, max_length=SENDER_CHARS) or "Không rõ"
    ext = _extension(file)
    n = 1
    # The number counts a sender's files of the day whatever their type (1.jpg, 2.pdf), and
    # Windows compares names without case, so "Lan" and "LAN" must not both get "1".
    while (stem := f"{folder}/{day} {sender} {n}").casefold() in used:
        n += 1
    used.add(stem.casefold())
    name = f"{folder}/{safe_name(f'{day} {sender} {n}{ext}', max_length=MAX_PATH)}"
    assert len(name) <= MAX_PATH  # guaranteed by the budgets above
    return name


# ---------------------------------------------------------------- writing


def _zipinfo(name: str, modified: datetime, compress_type: int, size: int) -> zipfile.ZipInfo:
    stamp = max(modified, datetime(1980, 1, 1))  # the ZIP format starts in 1980
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = compress_type
    info.file_size = size  # lets zipfile choose ZIP64 headers up front for a huge file
    info.external_attr = 0o644 << 16
    return info


def _add_table(archive: zipfile.ZipFile, table: bytes) -> None:
    info = _zipinfo(TABLE_NAME, datetime.now(), zipfile.ZIP_STORED, len(table))
    archive.writestr(info, table)  # an .xlsx is already a ZIP: storing it is enough


def _add_file(archive: zipfile.ZipFile, entry: Entry) -> None:
    info = _zipinfo(entry.arcname, entry.modified, entry.compress_type, entry.size)
    with entry.file.path.open("rb") as source, archive.open(info, "w") as target:
        shutil.copyfileobj(source, target, CHUNK)


def _open_zip(stream: BinaryIO) -> zipfile.ZipFile:
    return zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)


@contextmanager
def _output(out: BinaryIO | Path | str) -> Iterator[BinaryIO]:
    if isinstance(out, str | os.PathLike):
        with Path(out).open("wb") as stream:
            yield stream
    else:
        yield out


def write_pack(
    out: BinaryIO | Path,
    *,
    items: Sequence[PackItem],
    files: Sequence[PackFile],
    max_part_bytes: int | None = None,
    tz: tzinfo = LOCAL_TZ,
) -> list[Path] | None:
    """Write the pack to ``out``; with ``max_part_bytes``, as ``<out>-phan-N.zip`` parts.

    Without a limit it returns None. With one it returns the parts (a
    :class:`PackParts`); a pack that fits in one part is written to ``out``
    itself and returned as ``[out]``.
    """
    entries = plan_entries(files, items, tz)
    table = self_assessment_workbook(items)
    if max_part_bytes is None:
        with _output(out) as stream, _open_zip(stream) as archive:
            _add_table(archive, table)
            for entry in entries:
                _add_file(archive, entry)
        return None
    if not isinstance(out, str | os.PathLike):
        raise TypeError("a split pack is written as files next to `out`: pass a Path")
    return _write_parts(Path(out), table, entries, max_part_bytes)


async def write_pack_async(
    out: Path,
    *,
    items: Sequence[PackItem],
    files: Sequence[PackFile],
    max_part_bytes: int | None = None,
    tz: tzinfo = LOCAL_TZ,
) -> list[Path] | None:
    """write_pack in a worker thread: zipping hundreds of MB must not hold up other users."""
    return await asyncio.to_thread(
        write_pack, out, items=items, files=files, max_part_bytes=max_part_bytes, tz=tz
    )


# ---------------------------------------------------------------- splitting

_END_BYTES = 22 + 56 + 20  # end of central directory, with the ZIP64 records at worst


def _central_bytes(name: str) -> int:
    return 46 + len(name.encode()) + 28  # 28: a ZIP64 extra field, at worst


def _entry_bound(name: str, size: int, compress_type: int) -> int:
    """The most bytes an entry can add: local header, data, and its central directory record."""
    data = size if compress_type == zipfile.ZIP_STORED else size + size // 1024 + 64
    return 30 + len(name.encode()) + 20 + data + _central_bytes(name)


class _PartWriter:
    """Fills one ZIP part after another, starting a new one when the next file might not fit."""

    def __init__(self, out: Path, limit: int) -> None:
        self.out, self.limit = out, limit
        self.parts = PackParts()
        self.stream: BinaryIO | None = None
        self.archive: zipfile.ZipFile | None = None
        self.central = 0  # central-directory bytes the open part will need at close

    def _open(self) -> zipfile.ZipFile:
        path = self.out.with_name(f"{self.out.stem}-phan-{len(self.parts) + 1}{self.out.suffix}")
        self.parts.append(path)
        self.stream = path.open("wb")
        self.archive = _open_zip(self.stream)
        self.central = 0
        return self.archive

    def close(self) -> None:
        if self.archive is None or self.stream is None:
            return
        self.archive.close()
        self.stream.close()
        self.archive = self.stream = None
        path = self.parts[-1]
        if path.stat().st_size > self.limit:
            self.parts.oversized.append(path)
            log.warning(
                "evidence pack part %s is over %d bytes: one file is too big", path, self.limit
            )

    def archive_for(self, name: str, size: int, compress_type: int) -> zipfile.ZipFile:
        """The archive to put the next entry in, opening a fresh part if it might not fit."""
        need = _entry_bound(name, size, compress_type)
        stream = self.stream
        if stream is not None and stream.tell() + self.central + need + _END_BYTES > self.limit:
            self.close()
        archive = self.archive or self._open()
        self.central += _central_bytes(name)
        return archive


def _write_parts(out: Path, table: bytes, entries: Sequence[Entry], limit: int) -> PackParts:
    writer = _PartWriter(out, limit)
    try:
        _add_table(writer.archive_for(TABLE_NAME, len(table), zipfile.ZIP_STORED), table)
        for entry in entries:
            _add_file(writer.archive_for(entry.arcname, entry.size, entry.compress_type), entry)
    finally:
        writer.close()
    parts = writer.parts
    if len(parts) == 1:  # everything fits: one plain file, no "-phan-1" in its name
        parts[0] = parts[0].replace(out)
        parts.oversized = [out] if parts.oversized else []
    return parts
