"""The weekly summary's three renderings: chat text, PNG chart and .xlsx workbook.

The summaries are built by hand (Phường 6's PAR plan with points, plus SIPAS
and PAPI sections for a big unit) so every expected line is known exactly.
"""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from core.summary_chart import BANDS, area_bands, render_chart
from core.summary_model import (
    AreaRow,
    IndexSummary,
    ItemLine,
    OfficerRow,
    Points,
    Summary,
    Totals,
    Trend,
)
from core.summary_render import (
    MAX_CHARS,
    format_points,
    message_sections,
    pack_sections,
    render_message,
    sentence_case,
    short_title,
)
from core.summary_xlsx import SHEETS, render_workbook

AS_OF = date(2023, 9, 15)

PAR_AREAS = [
    # code, title, items, done, in progress, not started (incl. blocked), overdue
    ("1", "CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH CCHC", 8, 5, 2, 1, 1),
    ("2", "CẢI CÁCH THỂ CHẾ", 3, 1, 1, 1, 1),
    ("3", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH", 11, 4, 4, 3, 2),
    ("4", "CẢI CÁCH TỔ CHỨC BỘ MÁY HÀNH CHÍNH", 9, 6, 2, 1, 0),
    ("5", "CẢI CÁCH CHẾ ĐỘ CÔNG VỤ", 8, 2, 3, 3, 2),
    ("6", "CẢI CÁCH TÀI CHÍNH CÔNG", 4, 4, 0, 0, 0),
    ("7", "XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ, CHÍNH QUYỀN SỐ", 12, 3, 5, 4, 1),
    ("8", "TÁC ĐỘNG CỦA CCHC ĐẾN PHÁT TRIỂN KINH TẾ - XÃ HỘI", 4, 0, 1, 3, 0),
]

OFFICERS = [
    "Nguyễn Thị Lan",
    "Trần Văn Hùng",
    "Lê Thị Mai",
    "Phạm Minh Tuấn",
    "Võ Thị Hồng",
    "Đặng Quốc Bảo",
    "Huỳnh Thị Thu Trang",
    "Bùi Văn Khoa",
]


def item(
    code: str,
    title: str,
    owners: list[str],
    *,
    index: str = "PAR",
    status: str = "in_progress",
    due: date | None = None,
    days_late: int = 0,
    percent: int = 50,
    note: str | None = None,
    evidence: int = 0,
    points: tuple[float, float] | None = (2.0, 2.0),
) -> ItemLine:
    return ItemLine(
        criterion_id=abs(hash((index, code))) % 100000,
        index=index,
        code=code,
        title=title,
        short_title=short_title(title),
        owners=owners,
        due_date=due,
        status=status,
        percent=percent,
        overdue=days_late > 0,
        days_late=days_late,
        last_note=note,
        evidence_count=evidence,
        max_points=points[0] if points else None,
        target_points=points[1] if points else None,
    )


def par_overdue() -> list[ItemLine]:
    lan, hung, mai, tuan = OFFICERS[:4]
    return [
        item(
            "3.3.1",
            "Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp nhận trong năm được giải quyết đúng hạn",
            [lan, hung],
            due=date(2023, 6, 30),
            days_late=77,
            status="not_started",
            points=(3.0, 3.0),
        ),
        item(
            "5.2",
            "Công tác quản lý, sử dụng đội ngũ cán bộ, công chức",
            [tuan],
            due=date(2023, 6, 30),
            days_late=77,
            points=(3.5, 3.5),
        ),
        item(
            "1.3",
            "Công tác kiểm tra CCHC",
            [lan],
            due=date(2023, 7, 31),
            days_late=46,
            status="blocked",
            points=(2.5, 2.5),
        ),
        item(
            "2.3",
            "Tác động của cải cách đến chất lượng VBQPPL",
            [hung],
            due=date(2023, 8, 31),
            days_late=15,
            points=(4.0, 3.6),
        ),
        item(
            "7.1",
            "Cung cấp dịch vụ công trực tuyến toàn trình và một phần",
            [mai],
            due=date(2023, 9, 1),
            days_late=14,
            status="not_started",
            points=(1.5, 1.5),
        ),
        item(
            "3.4.2",
            "Thực hiện kế hoạch rà soát, đánh giá, kiến nghị đơn giản hóa TTHC",
            [],
            due=date(2023, 9, 5),
            days_late=10,
            points=(1.5, 1.5),
        ),
        item(
            "5.4",
            "Thực hiện đánh giá, xếp loại chất lượng cán bộ, công chức",
            [tuan, lan, mai],
            due=date(2023, 9, 10),
            days_late=5,
            status="not_started",
            points=(1.0, 1.0),
        ),
    ]


def par_due() -> list[ItemLine]:
    lan, hung = OFFICERS[:2]
    return [
        item(
            "1.2", "Thực hiện chế độ báo cáo CCHC", [lan], due=date(2023, 9, 18), points=(3.0, 3.0)
        ),
        item(
            "3.1",
            "Cập nhật, công khai TTHC và công khai tiến độ, kết quả giải quyết TTHC",
            [hung],
            due=date(2023, 9, 20),
            status="not_started",
            points=(2.0, 2.0),
        ),
        item(
            "6.2",
            "Thực hiện cơ chế tự chủ tài chính tại đơn vị",
            [OFFICERS[4]],
            due=date(2023, 9, 22),
            points=(1.0, 1.0),
        ),
    ]


def par_index(overdue: list[ItemLine] | None = None) -> IndexSummary:
    overdue = par_overdue() if overdue is None else overdue
    details = [
        item(
            "1.1",
            "Kế hoạch CCHC",
            [OFFICERS[0]],
            status="done",
            percent=100,
            due=date(2023, 1, 31),
            note="Đã ban hành Kế hoạch 12/KH-UBND",
            evidence=2,
        ),
        item(
            "1.8",
            "Sự năng động, quyết tâm của lãnh đạo trong CCHC",
            ["Chủ tịch UBND"],
            status="done",
            percent=100,
            due=date(2023, 12, 31),
            points=(2.0, 1.8),
        ),
        *overdue,
        *par_due(),
    ]
    return IndexSummary(
        index="PAR",
        totals=Totals(
            items=59, done=25, in_progress=18, not_started=13, blocked=3, overdue=7, due_next_7=3
        ),
        points=Points(max=100.0, target=97.9, secured=40.5, at_risk=12.25),
        areas=[AreaRow(*row) for row in PAR_AREAS],
        overdue=overdue,
        due_next_week=par_due(),
        items=details,
    )


def officers() -> list[OfficerRow]:
    tz7 = datetime(2023, 9, 14, 9, 30, tzinfo=UTC)
    return [
        OfficerRow("Nguyễn Thị Lan", 14, 6, 3, tz7),
        OfficerRow("Trần Văn Hùng", 9, 4, 2, tz7 - timedelta(days=3)),
        OfficerRow("Lê Thị Mai", 8, 5, 2, tz7 - timedelta(days=20)),
        OfficerRow("Phạm Minh Tuấn", 7, 2, 2, None),
        OfficerRow("Võ Thị Hồng", 6, 6, 0, tz7 - timedelta(days=1)),
    ]


LAST_WEEK = Trend(done_delta=3, secured_delta=2.5)


def small_summary(trend: Trend | None = LAST_WEEK) -> Summary:
    return Summary(
        unit="Phường 6",
        as_of=AS_OF,
        indexes=[par_index()],
        officers=officers(),
        silent_officers=["Lê Thị Mai", "Phạm Minh Tuấn"],
        evidence_added=9,
        trend=trend,
    )


def many_overdue(count: int) -> list[ItemLine]:
    lines = []
    for n in range(count):
        area = n % 8 + 1
        lines.append(
            item(
                f"{area}.{n // 8 + 1}.{n % 3 + 1}",
                f"Nhiệm vụ số {n + 1} về cải cách hành chính của lĩnh vực {area} năm 2023",
                [OFFICERS[n % len(OFFICERS)]],
                due=date(2023, 8, 1),
                days_late=120 - n,
                status="not_started" if n % 2 else "in_progress",
            )
        )
    return lines


def sipas_index() -> IndexSummary:
    return IndexSummary(
        index="SIPAS",
        totals=Totals(
            items=11, done=4, in_progress=3, not_started=4, blocked=0, overdue=2, due_next_7=1
        ),
        points=None,
        areas=[
            AreaRow(
                "1",
                "Mức độ hài lòng của người dân đối với việc xây dựng, tổ chức thực "
                "hiện chính sách của cơ quan nhà nước",
                5,
                2,
                1,
                2,
                1,
            ),
            AreaRow(
                "2",
                "Mức độ hài lòng của người dân đối với việc cung ứng dịch vụ hành chính công",
                6,
                2,
                2,
                2,
                1,
            ),
        ],
        overdue=[
            item(
                "1.2",
                "Khảo sát ý kiến người dân về chính sách trên địa bàn phường",
                [OFFICERS[2]],
                index="SIPAS",
                due=date(2023, 8, 15),
                days_late=31,
                points=None,
            ),
            item(
                "2.1",
                "Niêm yết quy trình giải quyết TTHC tại Bộ phận Một cửa",
                [OFFICERS[6]],
                index="SIPAS",
                due=date(2023, 9, 8),
                days_late=7,
                status="not_started",
                points=None,
            ),
        ],
        due_next_week=[
            item(
                "2.3",
                "Tổ chức đối thoại với người dân về dịch vụ công",
                [OFFICERS[0]],
                index="SIPAS",
                due=date(2023, 9, 21),
                points=None,
            ),
        ],
    )


PAPI_AREAS = [
    "Tham gia của người dân ở cấp cơ sở",
    "Công khai minh bạch",
    "Trách nhiệm giải trình với người dân",
    "Kiểm soát tham nhũng trong lĩnh vực công",
    "Thủ tục hành chính",
    "Cung ứng dịch vụ công",
    "Quản trị môi trường",
    "Quản trị điện tử",
]


def papi_index() -> IndexSummary:
    due = [
        item(
            f"{n % 8 + 1}.{n + 1}",
            f"Triển khai nội dung PAPI thành phần số {n + 1} tại khu phố",
            [OFFICERS[n % 8]],
            index="PAPI",
            due=AS_OF + timedelta(days=1 + n % 7),
            points=None,
        )
        for n in range(14)
    ]
    return IndexSummary(
        index="PAPI",
        totals=Totals(
            items=31, done=10, in_progress=9, not_started=12, blocked=1, overdue=0, due_next_7=14
        ),
        points=None,
        areas=[AreaRow(str(n + 1), title, 4, 1, 1, 2, 0) for n, title in enumerate(PAPI_AREAS)],
        overdue=[],
        due_next_week=due,
    )


def large_summary() -> Summary:
    names = [f"{OFFICERS[n % 8]} ({n + 1})" for n in range(30)]
    return Summary(
        unit="Phường 6",
        as_of=AS_OF,
        indexes=[par_index(many_overdue(60)), sipas_index(), papi_index()],
        officers=[OfficerRow(name, 10, n % 10, n % 4, None) for n, name in enumerate(names)],
        silent_officers=names[:25],
        evidence_added=41,
        trend=Trend(done_delta=-1, secured_delta=-0.75),
    )


# ---------------------------------------------------------------- formatting helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (16.5, "16,5"),
        (2.0, "2"),
        (0.75, "0,75"),
        (100, "100"),
        (0.0, "0"),
        (97.9, "97,9"),
        (12.25, "12,25"),
        (-2.5, "-2,5"),
        (0.1 + 0.2, "0,3"),
        (16.30, "16,3"),
        (-0.001, "0"),
    ],
)
def test_format_points(value: float, text: str) -> None:
    assert format_points(value) == text


def test_short_title_cuts_at_a_word_boundary() -> None:
    title = "Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp nhận trong năm được giải quyết đúng hạn"
    assert short_title(title, 40) == "Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp…"
    assert short_title("Kế hoạch   CCHC\n2023") == "Kế hoạch CCHC 2023"
    assert short_title("A" * 50, limit=10) == "AAAAAAAAA…"
    assert all(len(short_title(title, n)) <= n for n in range(5, 80))


def test_sentence_case_keeps_acronyms() -> None:
    assert sentence_case("CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH CCHC") == "Công tác chỉ đạo điều hành CCHC"
    assert (
        sentence_case("TÁC ĐỘNG CỦA CCHC ĐẾN PHÁT TRIỂN KINH TẾ - XÃ HỘI")
        == "Tác động của CCHC đến phát triển kinh tế - xã hội"
    )
    assert sentence_case("Kế hoạch CCHC") == "Kế hoạch CCHC"  # not shouted: untouched


# ---------------------------------------------------------------- the message


def test_small_summary_wording() -> None:
    messages = render_message(small_summary())
    # Header and PAR's totals and areas fill exactly 30 lines; the lists follow.
    assert [len(message.split("\n")) for message in messages] == [30, 12]
    lines = "\n".join(messages).split("\n")
    expected = [
        "TỔNG HỢP CCHC – Phường 6",
        "Số liệu đến ngày 15/09/2023",
        "So với tuần trước: +3 việc hoàn thành, +2,5 điểm",
        "Minh chứng mới trong tuần: 9 tệp",
        "■ CHỈ SỐ PAR",
        "Hoàn thành 25/59 việc (42%)",
        "Đang làm 18 · Chưa làm 13 · Gặp khó khăn 3",
        "Quá hạn 7 · Đến hạn 7 ngày tới 3",
        "Điểm: tối đa 100 · mục tiêu 97,9",
        "Đã chắc 40,5 điểm · có nguy cơ 12,25 điểm",
        "PAR – theo lĩnh vực (% hoàn thành):",
        "1. Công tác chỉ đạo điều hành CCHC: 62%, 1 quá hạn",
        "4. Cải cách tổ chức bộ máy hành chính: 66%",
        "6. Cải cách tài chính công: 100%",
        "7. Xây dựng chính quyền điện tử, chính…: 25%, 1 quá hạn",
        "PAR – quá hạn (7 việc):",
        "• 3.3.1 Tỷ lệ hồ sơ TTHC do UBND cấp xã tiếp… – Nguyễn Thị Lan, Trần Văn Hùng"
        " – trễ 77 ngày",
        "• 3.4.2 Thực hiện kế hoạch rà soát, đánh giá… – chưa giao – trễ 10 ngày",
        "• 5.4 Thực hiện đánh giá, xếp loại chất… – Phạm Minh Tuấn, Nguyễn Thị Lan +1 – trễ 5 ngày",
        "PAR – đến hạn 7 ngày tới (3 việc):",
        "• 18/09 1.2 Thực hiện chế độ báo cáo CCHC – Nguyễn Thị Lan",
        "Theo cán bộ:",
        "• Nguyễn Thị Lan: 14 việc, xong 6, quá hạn 3",
        "Không cập nhật từ 14 ngày trở lên: Lê Thị Mai, Phạm Minh Tuấn",
    ]
    missing = [line for line in expected if line not in lines]
    assert missing == []
    # Officers: the most overdue first, ties by the most unfinished work.
    officer_lines = [line for line in lines if line.startswith("• ") and "việc, xong" in line]
    assert [line.split(":")[0] for line in officer_lines] == [
        "• Nguyễn Thị Lan",
        "• Phạm Minh Tuấn",  # 5 unfinished, like Hùng: then by name
        "• Trần Văn Hùng",
        "• Lê Thị Mai",
        "• Võ Thị Hồng",
    ]


def test_no_trend_line_without_a_previous_summary() -> None:
    text = "\n".join(render_message(small_summary(trend=None)))
    assert "So với tuần trước" not in text
    assert "Minh chứng mới trong tuần: 9 tệp" in text


def test_trend_wording() -> None:
    flat = small_summary(trend=Trend(done_delta=0, secured_delta=0.0))
    assert "So với tuần trước: không thay đổi" in render_message(flat)[0]
    down = render_message(large_summary())[0]
    assert "So với tuần trước: -1 việc hoàn thành, -0,75 điểm" in down


def test_large_summary_respects_the_limits_and_loses_nothing() -> None:
    summary = large_summary()
    messages = render_message(summary)
    assert len(messages) > 3
    for message in messages:
        lines = message.split("\n")
        assert len(lines) <= 30
        assert len(message) <= MAX_CHARS
        assert lines[0] != "" and lines[-1] != ""
    # Every line of every section arrives, in order, and no line was cut.
    sent = [line for message in messages for line in message.split("\n") if line]
    assert sent == [line for section in message_sections(summary) for line in section]
    # A section that fits a message is never split across two.
    for section in message_sections(summary):
        assert any("\n".join(section) in message for message in messages)


def test_overdue_list_shows_the_ten_worst_then_a_count() -> None:
    text = "\n".join(render_message(large_summary()))
    lines = text.split("\n")
    start = lines.index("PAR – quá hạn (60 việc):")
    shown = lines[start + 1 : start + 11]
    assert [line.rsplit("– trễ ", 1)[1] for line in shown] == [
        f"{days} ngày" for days in range(120, 110, -1)
    ]
    assert lines[start + 11] == "… và 50 mục khác"
    assert "SIPAS – quá hạn (2 việc):" in lines
    assert "PAPI – quá hạn: không có" in lines
    papi_due = lines.index("PAPI – đến hạn 7 ngày tới (14 việc):")
    assert lines[papi_due + 11] == "… và 4 mục khác"
    assert "… và 20 cán bộ khác" in lines
    assert "■ CHỈ SỐ SIPAS" in lines and "■ CHỈ SỐ PAPI" in lines


def test_packing_splits_between_lines_when_a_section_is_too_long() -> None:
    section = [f"dòng {n}" for n in range(70)]
    messages = pack_sections([["đầu"], section], max_lines=30)
    assert [len(m.split("\n")) for m in messages] == [1, 30, 30, 10]
    wide = ["x" * 1000 for _ in range(9)]
    messages = pack_sections([wide], max_lines=30, max_chars=4096)
    assert all(len(m) <= 4096 for m in messages)
    assert sum(len(m.split("\n")) for m in messages) == 9
    huge = pack_sections([["y" * 5000]])
    assert len(huge[0]) == 4096 and huge[0].endswith("…")


def test_an_empty_unit_still_renders() -> None:
    empty = Summary("Xã Tân Đức", AS_OF, [], [], [], 0, None)
    assert render_message(empty) == [
        "TỔNG HỢP CCHC – Xã Tân Đức\nSố liệu đến ngày 15/09/2023\n"
        "Minh chứng mới trong tuần: 0 tệp\n\nChưa có kế hoạch nào được nhập."
    ]
    assert png_size(render_chart(empty))[0] == 1080
    assert openpyxl.load_workbook(io.BytesIO(render_workbook(empty))).sheetnames == list(SHEETS)


# ---------------------------------------------------------------- the chart


@contextmanager
def font_problems() -> Iterator[list[str]]:
    """Collect matplotlib's missing-glyph warnings and font-lookup log warnings."""
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("matplotlib")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield problems
        problems.extend(str(warning.message) for warning in caught)
    finally:
        logger.removeHandler(handler)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and the chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(kind + body) == crc
    assert data[-8:-4] == b"IEND"
    width, height = struct.unpack(">II", body[:8])
    return width, height


def test_chart_is_phone_sized_and_grows_with_the_areas() -> None:
    small = png_size(render_chart(small_summary()))
    large = png_size(render_chart(large_summary()))
    assert small[0] == large[0] == 1080
    assert 400 <= small[1] < large[1] <= 4000
    assert small[1] == 1060  # 1,8 in header + 0,9 in panel title + 8 x 0,95 in + 0,3 in


def test_chart_has_every_vietnamese_glyph() -> None:
    summary = small_summary()
    # Every vowel with every tone mark, and đ/Đ, in a unit name and an area title.
    summary.unit = "Phường Ỹ Ỵ Ẳ Ẵ Ặ Ơ Ư Đ"
    summary.indexes[0].areas[
        0
    ].title = "ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ ế ề ể ễ ệ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ứ ừ ử ữ ự đ"
    with font_problems() as problems:
        png_size(render_chart(summary))
    assert problems == []


def test_the_glyph_check_does_catch_a_missing_glyph() -> None:
    summary = small_summary()
    summary.unit = "Phường 6 漢字"  # DejaVu Sans has no CJK, so this must be reported
    with font_problems() as problems:
        render_chart(summary)
    assert any("missing from font" in problem for problem in problems)


def test_charts_render_in_parallel_threads_without_pyplot() -> None:
    summaries = [small_summary(), large_summary(), small_summary(), large_summary()]
    serial = [render_chart(summary) for summary in summaries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(render_chart, summaries)) == serial
    assert serial[0] != serial[1]
    # pyplot's global state (and any chat library) must never be pulled in by the renderers.
    probe = (
        "import sys, core.summary_chart, core.summary_xlsx, core.summary_render, "
        "core.evidence_pack; print(sorted(m for m in ('matplotlib.pyplot', 'telegram') "
        "if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=root, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_area_bands_add_up_and_put_overdue_items_in_their_own_band() -> None:
    par = par_index()
    bands = [area_bands(area, par) for area in par.areas]
    for area, band in zip(par.areas, bands, strict=True):
        assert sum(band.as_tuple()) == area.items
        assert band.overdue == area.overdue
    assert bands[0].as_tuple() == (5, 2, 0, 1)  # 1.3 is blocked: it leaves "not started"
    assert bands[1].as_tuple() == (1, 0, 1, 1)  # 2.3 is in progress: it leaves "in progress"
    # Overdue items the list cannot place come out of "not started" first.
    orphan = AreaRow("9", "Lĩnh vực khác", 6, 1, 2, 3, 4)
    assert area_bands(orphan, par).as_tuple() == (1, 1, 0, 4)
    assert BANDS == ("Hoàn thành", "Đang làm", "Chưa làm", "Quá hạn")


# ---------------------------------------------------------------- the workbook


def load(summary: Summary) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(render_workbook(summary)))


def rows(ws: openpyxl.worksheet.worksheet.Worksheet, first: int = 1) -> list[tuple]:
    return list(ws.iter_rows(min_row=first, values_only=True))


def test_workbook_sheets_and_summary_sheet() -> None:
    wb = load(small_summary())
    assert wb.sheetnames == ["Tổng hợp", "Theo lĩnh vực", "Theo cán bộ", "Quá hạn", "Chi tiết"]
    ws = wb["Tổng hợp"]
    assert ws["B1"].value == "Phường 6"
    assert ws["B2"].value == datetime(2023, 9, 15)
    assert ws["B2"].number_format == "dd/mm/yyyy"
    assert rows(ws, 4)[0][:4] == ("Chỉ số", "Tổng số việc", "Hoàn thành", "Đang làm")
    assert rows(ws, 5)[0] == ("PAR", 59, 25, 18, 13, 3, 7, 3, 25 / 59, 100, 97.9, 40.5, 12.25)
    assert ws["I5"].number_format == "0.0%"
    assert ws["A4"].font.bold and ws.freeze_panes == "A5"
    assert ws.auto_filter.ref == "A4:M5"
    assert rows(ws, 7)[:3] == [
        ("Minh chứng mới trong tuần (tệp)", 9, *[None] * 11),
        ("So với tuần trước: việc hoàn thành", 3, *[None] * 11),
        ("So với tuần trước: điểm đã chắc", 2.5, *[None] * 11),
    ]


def test_workbook_area_officer_and_overdue_sheets() -> None:
    wb = load(small_summary())
    areas = wb["Theo lĩnh vực"]
    assert rows(areas)[0] == (
        "Chỉ số", "Mã", "Lĩnh vực", "Số việc", "Hoàn thành", "Đang làm", "Chưa làm", "Quá hạn",
        "% hoàn thành",
    )  # fmt: skip
    assert rows(areas)[1] == ("PAR", "1", "CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH CCHC", 8, 5, 2, 1, 1, 0.625)
    assert len(rows(areas)) == 9 and areas["I9"].number_format == "0.0%"
    assert areas.freeze_panes == "A2" and areas.auto_filter.ref == "A1:I9"
    assert areas["C2"].alignment.wrap_text

    officer_rows = rows(wb["Theo cán bộ"])
    assert officer_rows[0][4] == "Cập nhật gần nhất"
    # 09:30 UTC is 16:30 in Hồ Chí Minh City.
    assert officer_rows[1] == ("Nguyễn Thị Lan", 14, 6, 3, datetime(2023, 9, 14, 16, 30), None)
    assert officer_rows[3][5] == "Có" and officer_rows[4] == ("Phạm Minh Tuấn", 7, 2, 2, None, "Có")
    assert wb["Theo cán bộ"]["E2"].number_format == "dd/mm/yyyy hh:mm"

    overdue = rows(wb["Quá hạn"])
    assert overdue[0] == ("Chỉ số", "Mã", "Nội dung", "Người phụ trách", "Hạn", "Số ngày trễ")
    assert len(overdue) == 8
    assert overdue[1][3] == "Nguyễn Thị Lan\nTrần Văn Hùng"
    assert overdue[1][4] == datetime(2023, 6, 30) and overdue[1][5] == 77
    assert overdue[6][3] is None  # unassigned
    assert wb["Quá hạn"]["E2"].number_format == "dd/mm/yyyy"


def test_workbook_detail_sheet_types_and_print_setup() -> None:
    wb = load(small_summary())
    ws = wb["Chi tiết"]
    table = rows(ws)
    assert table[0] == (
        "Chỉ số", "Mã", "Nội dung", "Người phụ trách", "Hạn", "Trạng thái", "Tiến độ", "Quá hạn",
        "Ghi chú gần nhất", "Số minh chứng", "Điểm tối đa", "Điểm mục tiêu",
    )  # fmt: skip
    assert len(table) == 13
    assert table[1] == (
        "PAR", "1.1", "Kế hoạch CCHC", "Nguyễn Thị Lan", datetime(2023, 1, 31), "Hoàn thành", 1,
        None, "Đã ban hành Kế hoạch 12/KH-UBND", 2, 2, 2,
    )  # fmt: skip
    assert {row[5] for row in table[1:]} == {"Hoàn thành", "Đang làm", "Chưa làm", "Gặp khó khăn"}
    assert ws["G2"].number_format == "0%" and ws["E2"].number_format == "dd/mm/yyyy"
    for row in table[1:]:
        assert isinstance(row[4], datetime)
        assert all(isinstance(value, int | float) for value in (row[6], row[9], row[10], row[11]))
    for name in wb.sheetnames:
        sheet = wb[name]
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert 30 <= ws.column_dimensions["C"].width <= 60  # measured, capped
    assert ws.column_dimensions["B"].width < 10
    assert ws.print_title_rows == "$1:$1"


def test_workbook_for_a_big_unit() -> None:
    wb = load(large_summary())
    assert len(rows(wb["Quá hạn"])) == 1 + 60 + 2
    assert [row[0] for row in rows(wb["Tổng hợp"], 5)[:3]] == ["PAR", "SIPAS", "PAPI"]
    assert rows(wb["Tổng hợp"], 6)[0][9:] == (None, None, None, None)  # SIPAS has no points
    assert len(rows(wb["Theo lĩnh vực"])) == 1 + 8 + 2 + 8
