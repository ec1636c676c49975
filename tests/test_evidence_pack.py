"""The year-end evidence pack: Windows-safe names, TuDanhGia.xlsx, streaming, and parts."""

from __future__ import annotations

import io
import os
import tracemalloc
import unicodedata
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.evidence_pack import (
    PackFile,
    PackItem,
    PackParts,
    plan_entries,
    safe_name,
    self_assessment_workbook,
    write_pack,
)

ICT = timezone(timedelta(hours=7))
FORBIDDEN = set('<>:"/\\|?*')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10))} | {
    f"LPT{n}" for n in range(1, 10)
}

LONG_TITLE = (
    "Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp nhận trong năm được giải quyết đúng hạn và trước "
    "hạn theo quy định của pháp luật về thủ tục hành chính"
)
ODD_TITLE = "Ban hành Kế hoạch số 01/KH-UBND: đã công khai trên cổng thông tin?"


# ---------------------------------------------------------------- safe_name


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Kế hoạch 01/KH-UBND: ngày 24/8/2022?", "Kế hoạch 01-KH-UBND ngày 24-8-2022"),
        ('a<b>c"d|e?f*g\\h', "abcd-efg-h"),
        ("CON", "_CON"),
        ("con.jpg", "_con.jpg"),
        ("Lpt9.txt", "_Lpt9.txt"),
        ("nul ", "_nul"),
        ("COM1", "_COM1"),
        ("COM10", "COM10"),
        ("CONSOLE", "CONSOLE"),
        ("Biên bản họp. . .", "Biên bản họp"),
        ("..", "_"),
        ("", "_"),
        ("???", "_"),
        ("a\tb\nc\x00d", "a b c d"),
        ("Văn\u200bphòng", "Vănphòng"),  # zero-width space: invisible, dropped
        ("  Nguyễn   Thị  Lan  ", "Nguyễn Thị Lan"),
    ],
)
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


def test_safe_name_keeps_vietnamese_in_nfc_and_cuts_at_a_word() -> None:
    decomposed = unicodedata.normalize("NFD", "Phường 6 – Tiếp nhận hồ sơ")
    assert safe_name(decomposed) == "Phường 6 – Tiếp nhận hồ sơ"
    assert safe_name(LONG_TITLE, max_length=30) == "Tỷ lệ hồ sơ TTHC do UBND cấp"
    assert safe_name("A" * 80, max_length=10) == "A" * 10


@given(st.text(max_size=120), st.integers(min_value=1, max_value=80))
def test_safe_name_is_always_safe(raw: str, limit: int) -> None:
    name = safe_name(raw, max_length=limit)
    assert 1 <= len(name) <= limit
    assert not FORBIDDEN & set(name)
    assert all(unicodedata.category(ch) != "Cc" for ch in name)
    assert name == "_" or not name.endswith((".", " "))
    assert name.split(".")[0].rstrip(" ").upper() not in RESERVED
    assert unicodedata.is_normalized("NFC", name)
    assert safe_name(name, max_length=limit) == name


# ---------------------------------------------------------------- a pack


def pack_items() -> list[PackItem]:
    lan, hung, mai = "Nguyễn Thị Lan", "Trần Văn Hùng", "Lê Thị Mai"
    return [
        PackItem("PAR", "1.1", "Kế hoạch CCHC", 2.0, 2.0, "done", 3, [lan], True),
        PackItem("PAR", "1.3", "Công tác kiểm tra CCHC", 2.5, 2.5, "done", 0, [lan, hung], True),
        PackItem("PAR", "2.1", ODD_TITLE, 1.5, 1.5, "in_progress", 1, [hung], False),
        PackItem("PAR", "3.3.1", LONG_TITLE, 3.0, 2.75, "done", 1, [mai], True),
        PackItem("PAR", "8.1", "Tác động của CCHC đến phát triển KT-XH", 2.0, 1.5, "blocked", 0,
                 [], False),
        PackItem("SIPAS", "1.1", "Khảo sát mức độ hài lòng của người dân", None, None, "done", 1,
                 [mai], True),
        PackItem("SIPAS", "2.1", "Niêm yết TTHC tại Bộ phận Một cửa", None, None, "done", 0,
                 ["Võ Thị Hồng"], True),
    ]  # fmt: skip


# The first bytes of each kind: the pack names a file by its content as well as its name.
JPEG, PNG, PDF, OLE = b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"%PDF-1.4", b"\xd0\xcf\x11\xe0"


def store(tmp_path: Path, name: str, size: int, head: bytes = JPEG) -> Path:
    """A stored evidence file: random after its kind's first bytes, so its bytes can only
    survive by being copied intact."""
    path = tmp_path / "store" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(head + os.urandom(size - len(head)))
    return path


def pack_files(tmp_path: Path) -> list[PackFile]:
    def at(day: int, month: int, hour: int = 9) -> datetime:
        return datetime(2023, month, day, hour, tzinfo=ICT)

    return [
        # Stored under a hash, like the bot's storage: the extension comes from elsewhere.
        PackFile("SIPAS", "1.1", "Khảo sát mức độ hài lòng của người dân",
                 store(tmp_path, "b7e1", 3000), at(12, 9), "CON", "con.jpg", "image/jpeg"),
        PackFile("PAR", "3.3.1", LONG_TITLE, store(tmp_path, "c0ff", 5000, PNG), at(5, 7),
                 "Lê Thị Mai", None, "image/png"),
        PackFile("PAR", "1.1", "Kế hoạch CCHC", store(tmp_path, "a1b2", 4000), at(2, 3, 10),
                 "Nguyễn Thị Lan", "IMG_0001.JPG", "image/jpeg"),
        PackFile("PAR", "1.1", "Kế hoạch CCHC", store(tmp_path, "a1b3.pdf", 6000, PDF),
                 at(2, 3, 11), "Nguyễn Thị Lan", "Kế hoạch 12/KH-UBND.pdf", "application/pdf"),
        PackFile("PAR", "1.1", "Kế hoạch CCHC", store(tmp_path, "a1b4", 2000), at(2, 3, 15),
                 "nguyễn thị lan", "anh.jpg", "image/jpeg"),
        # 23:30 UTC on 30 June is 1 July in Việt Nam: the name uses the local date.
        PackFile("PAR", "2.1", ODD_TITLE, store(tmp_path, "d00d", 7000, OLE),
                 datetime(2023, 6, 30, 23, 30, tzinfo=UTC), "Võ Thị Hồng (VP/TK)",
                 "Biên bản.doc", "application/msword"),
    ]  # fmt: skip


EXPECTED_NAMES = [
    "TuDanhGia.xlsx",
    "PAR/1.1 Kế hoạch CCHC/2023-03-02 Nguyễn Thị Lan 1.jpg",
    "PAR/1.1 Kế hoạch CCHC/2023-03-02 Nguyễn Thị Lan 2.pdf",
    "PAR/1.1 Kế hoạch CCHC/2023-03-02 nguyễn thị lan 3.jpg",
    "PAR/2.1 Ban hành Kế hoạch số 01-KH-UBND đã công khai trên cổng/"
    "2023-07-01 Võ Thị Hồng (VP-TK) 1.doc",
    "PAR/3.3.1 Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp nhận trong năm/2023-07-05 Lê Thị Mai 1.png",
    "SIPAS/1.1 Khảo sát mức độ hài lòng của người dân/2023-09-12 CON 1.jpg",
]


def by_name(files: list[PackFile]) -> dict[str, bytes]:
    entries = plan_entries(files, pack_items())
    return {entry.arcname: entry.file.path.read_bytes() for entry in entries}


def test_pack_holds_every_file_under_its_safe_name(tmp_path: Path) -> None:
    files = pack_files(tmp_path)
    out = io.BytesIO()
    assert write_pack(out, items=pack_items(), files=files) is None
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == EXPECTED_NAMES
        for name, data in by_name(files).items():
            assert archive.read(name) == data
        info = {i.filename: i for i in archive.infolist()}
    assert info[EXPECTED_NAMES[1]].compress_type == zipfile.ZIP_STORED  # a JPEG
    assert info[EXPECTED_NAMES[4]].compress_type == zipfile.ZIP_DEFLATED  # an old .doc
    assert info[EXPECTED_NAMES[1]].date_time == (2023, 3, 2, 10, 0, 0)
    for name in EXPECTED_NAMES:
        assert len(name) <= 200
        assert all(safe_name(part, max_length=200) == part for part in name.split("/"))


def test_self_assessment_table(tmp_path: Path) -> None:
    out = tmp_path / "HoSo-2023.zip"
    write_pack(out, items=pack_items(), files=pack_files(tmp_path))
    with zipfile.ZipFile(out) as archive:
        wb = openpyxl.load_workbook(io.BytesIO(archive.read("TuDanhGia.xlsx")))
    assert wb.sheetnames == ["Tự đánh giá", "Thiếu minh chứng"]
    table = list(wb["Tự đánh giá"].iter_rows(values_only=True))
    assert table[0] == (
        "Chỉ số", "Mã", "Nội dung", "Điểm tối đa", "Điểm mục tiêu", "Điểm tự chấm (đề xuất)",
        "Trạng thái", "Số minh chứng", "Người phụ trách",
    )  # fmt: skip
    assert table[1:] == [
        ("PAR", "1.1", "Kế hoạch CCHC", 2, 2, 2, "Hoàn thành", 3, "Nguyễn Thị Lan"),
        ("PAR", "1.3", "Công tác kiểm tra CCHC", 2.5, 2.5, 0, "Hoàn thành", 0,
         "Nguyễn Thị Lan\nTrần Văn Hùng"),
        ("PAR", "2.1", ODD_TITLE, 1.5, 1.5, 0, "Đang làm", 1, "Trần Văn Hùng"),
        ("PAR", "3.3.1", LONG_TITLE, 3, 2.75, 2.75, "Hoàn thành", 1, "Lê Thị Mai"),
        ("PAR", "8.1", "Tác động của CCHC đến phát triển KT-XH", 2, 1.5, 0, "Gặp khó khăn", 0,
         None),
        ("SIPAS", "1.1", "Khảo sát mức độ hài lòng của người dân", None, None, None,
         "Hoàn thành", 1, "Lê Thị Mai"),
        ("SIPAS", "2.1", "Niêm yết TTHC tại Bộ phận Một cửa", None, None, None, "Hoàn thành", 0,
         "Võ Thị Hồng"),
    ]  # fmt: skip
    for row in table[1:]:
        assert all(isinstance(v, int | float) for v in (*row[3:6], row[7]) if v is not None)
    missing = wb["Thiếu minh chứng"]
    assert list(missing.iter_rows(values_only=True)) == [
        ("Chỉ số", "Mã", "Nội dung", "Điểm mục tiêu", "Trạng thái", "Người phụ trách",
         "Giải trình"),
        ("PAR", "1.3", "Công tác kiểm tra CCHC", 2.5, "Hoàn thành",
         "Nguyễn Thị Lan\nTrần Văn Hùng", None),
        ("SIPAS", "2.1", "Niêm yết TTHC tại Bộ phận Một cửa", None, "Hoàn thành", "Võ Thị Hồng",
         None),
    ]  # fmt: skip
    assert missing.column_dimensions["G"].width >= 50
    assert missing["G2"].alignment.wrap_text  # room for the explanation, wrapped when printed


def test_an_empty_year_gives_a_table_and_nothing_else() -> None:
    out = io.BytesIO()
    write_pack(out, items=[], files=[])
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["TuDanhGia.xlsx"]
    wb = openpyxl.load_workbook(io.BytesIO(self_assessment_workbook([])))
    assert wb["Thiếu minh chứng"].max_row == 1


def test_a_missing_evidence_file_fails_before_anything_is_written(tmp_path: Path) -> None:
    files = pack_files(tmp_path)
    files[2].path.unlink()
    out = tmp_path / "pack.zip"
    with pytest.raises(FileNotFoundError, match="a1b2"):
        write_pack(out, items=pack_items(), files=files)
    assert not out.exists()


# ---------------------------------------------------------------- parts


def part_names(parts: list[Path]) -> list[list[str]]:
    names = []
    for part in parts:
        with zipfile.ZipFile(part) as archive:
            assert archive.testzip() is None
            names.append(archive.namelist())
    return names


def big_files(tmp_path: Path, sizes: list[int]) -> list[PackFile]:
    when = datetime(2023, 10, 2, 8, tzinfo=ICT)
    return [
        PackFile("PAR", f"1.{n + 1}", "Ảnh chụp hội nghị", store(tmp_path, f"f{n}", size),
                 when, "Nguyễn Thị Lan", f"anh{n}.jpg", "image/jpeg")
        for n, size in enumerate(sizes)
    ]  # fmt: skip


def test_split_into_parts_under_the_limit(tmp_path: Path) -> None:
    files = big_files(tmp_path, [30_000] * 9)
    limit = 100_000
    parts = write_pack(tmp_path / "HoSo.zip", items=pack_items(), files=files, max_part_bytes=limit)
    assert isinstance(parts, PackParts) and parts.oversized == []
    assert [p.name for p in parts] == [f"HoSo-phan-{n}.zip" for n in range(1, len(parts) + 1)]
    names = part_names(parts)
    # Parts are filled, not just started: the table (~6 kB) and 3 files, then 3 and 3.
    assert [len(part) for part in names] == [4, 3, 3]
    assert all(p.stat().st_size <= limit for p in parts)
    assert names[0][0] == "TuDanhGia.xlsx"
    assert all("TuDanhGia.xlsx" not in part for part in names[1:])
    every = [name for part in names for name in part if name != "TuDanhGia.xlsx"]
    expected = by_name(files)
    assert sorted(every) == sorted(expected)  # each file exactly once
    for part in parts:
        with zipfile.ZipFile(part) as archive:
            for name in archive.namelist():
                if name in expected:
                    assert archive.read(name) == expected[name]


def test_a_file_over_the_limit_gets_its_own_part_and_is_reported(tmp_path: Path) -> None:
    files = big_files(tmp_path, [20_000, 150_000, 20_000])
    parts = write_pack(tmp_path / "HoSo.zip", items=[], files=files, max_part_bytes=100_000)
    assert isinstance(parts, PackParts)
    names = part_names(parts)
    assert len(parts) == 3
    assert names[1] == [plan_entries(files)[1].arcname]  # the big one, alone
    assert parts.oversized == [parts[1]]
    assert parts[0].stat().st_size <= 100_000 and parts[2].stat().st_size <= 100_000


def test_a_pack_that_fits_is_one_plain_file(tmp_path: Path) -> None:
    out = tmp_path / "HoSo.zip"
    parts = write_pack(out, items=pack_items(), files=pack_files(tmp_path), max_part_bytes=50 << 20)
    assert parts == [out]
    assert part_names(parts) == [EXPECTED_NAMES]
    assert list(tmp_path.glob("*-phan-*")) == []


def test_parts_need_a_path() -> None:
    with pytest.raises(TypeError):
        write_pack(io.BytesIO(), items=[], files=[], max_part_bytes=1000)


# ---------------------------------------------------------------- memory


def test_a_30_mb_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "store" / "video"
    path.parent.mkdir()
    with path.open("wb") as handle:
        for _ in range(30):
            handle.write(os.urandom(1 << 20))
    # An unknown type is deflated, and exported as .bin whatever its name says (issue 20):
    # the compressor's buffers are part of what is measured.
    files = [PackFile("PAR", "1.4", "Tuyên truyền CCHC", path, datetime(2023, 11, 3, tzinfo=ICT),
                      "Lê Thị Mai", "phong-su.dat", None)]  # fmt: skip
    out = tmp_path / "pack.zip"
    tracemalloc.start()
    try:
        write_pack(out, items=[], files=files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo("PAR/1.4 Tuyên truyền CCHC/2023-11-03 Lê Thị Mai 1.bin")
        assert info.file_size == 30 << 20 and info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.testzip() is None


def test_a_stored_program_is_exported_under_a_neutral_extension(tmp_path: Path) -> None:
    """A file stored before types were checked keeps its ".exe" on disk; the pack drops it."""
    program = store(tmp_path, "e1.exe", 100, b"MZ\x90\x00")
    report = store(tmp_path, "e2.exe", 100, PDF)
    files = [
        PackFile("PAR", "1.1", "Kế hoạch CCHC", program, datetime(2023, 3, 2, tzinfo=ICT),
                 "Lan", "\u202efdp.exe", "application/x-msdownload"),
        PackFile("PAR", "1.1", "Kế hoạch CCHC", report, datetime(2023, 3, 2, tzinfo=ICT),
                 "Lan", "foo.PDF\x00.exe", "application/pdf"),
    ]  # fmt: skip
    out = tmp_path / "pack.zip"
    write_pack(out, items=[], files=files)
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
    assert names == [
        "PAR/1.1 Kế hoạch CCHC/2023-03-02 Lan 1.bin",
        "PAR/1.1 Kế hoạch CCHC/2023-03-02 Lan 2.pdf",
        "TuDanhGia.xlsx",
    ]
