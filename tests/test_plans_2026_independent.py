"""Issue 17's independent check of the 2026 fixtures.

Every expected value below was written from the fixture rows alone (the .txt and .csv in
tests/fixtures/plans2026/ and the row lists in tests/plans2026.py), the domain primer
(../shared/domain.md) and the README's `plan parse --json` contract, by a helper who has
not read the parser nor the other tests' expectations. The parser is only called.

Readings taken from the domain and the contract:
- a Roman or whole-number heading row (an area) has no requirement, task, owners or
  deadline, and no due date (its deadline cell is empty; the end-of-year rule is for plans
  with no deadline column at all);
- "Quý N/YYYY" is the last day of that quarter, "Trước (ngày) d/m/YYYY" and a bare date are
  that day, "Trong năm YYYY" is 31/12, "Thường xuyên" is continuous with no date;
- "Văn phòng HĐND và UBND" is VPUB in a 2026 plan and VPTK in a 2024 one; "Các phòng
  chuyên môn", "các phòng, ban, đơn vị (thuộc UBND …)", "Các đơn vị liên quan", "Các CBCC"
  are ALL; an unknown body ("Tổ công nghệ số cộng đồng") maps to nothing and is warned about;
- a task column beside a requirement column is `task`; a task column alone is the
  `requirement` (task null); text carried over a page break joins its row with a space;
- every text comes out in NFC whatever form it went in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from core.plans import parse_plan_file
from core.roster import read_roster
from tests.plans2026 import (
    ROSTER,
    TEXT_PLAN,
    commune_2024_xlsx,
    fixture_bytes,
    ward_docx,
)

FIELDS = (
    "index",
    "code",
    "parent",
    "title",
    "requirement",
    "task",
    "leads",
    "supports",
    "deadline_text",
    "due_dates",
    "recurrence",
    "max_points",
    "target_points",
)


def _area(index: str, code: str, title: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "code": code,
        "parent": None,
        "title": title,
        "requirement": None,
        "task": None,
        "leads": [],
        "supports": [],
        "deadline_text": None,
        "due_dates": [],
        "recurrence": None,
        "max_points": None,
        "target_points": None,
    }
    row.update(extra)
    return row


def _item(
    index: str,
    code: str,
    parent: str,
    title: str,
    requirement: str,
    task: str | None,
    leads: list[str],
    supports: list[str],
    deadline_text: str,
    due_dates: list[str],
    recurrence: str | None = None,
    max_points: float | None = None,
    target_points: float | None = None,
) -> dict[str, Any]:
    return {
        "index": index,
        "code": code,
        "parent": parent,
        "title": title,
        "requirement": requirement,
        "task": task,
        "leads": leads,
        "supports": supports,
        "deadline_text": deadline_text,
        "due_dates": due_dates,
        "recurrence": recurrence,
        "max_points": max_points,
        "target_points": target_points,
    }


# Xã Phú Riềng 2026: "Cải cách hành chính năm 2026" is a CCHC plan (areas of reform work),
# not the PAR index's criteria; requirement column and task column "Nhiệm vụ cụ thể".
_C = "CCHC"
TEXT_EXPECTED = {
    "unit": "Xã Phú Riềng",
    "year": 2026,
    "period": (2026, 2026),
    "criteria": [
        _area(_C, "I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"),
        _item(
            _C,
            "1",
            "I",
            "Kế hoạch cải cách hành chính năm",
            "Ban hành đúng thời hạn",
            "Tham mưu UBND xã ban hành Kế hoạch CCHC năm 2026",
            ["VPUB"],
            ["ALL"],
            "Quý I/2026",
            ["2026-03-31"],
        ),
        _item(
            _C,
            "2",
            "I",
            "Báo cáo cải cách hành chính định kỳ",
            "Đầy đủ, đúng thời hạn",
            "Tổng hợp báo cáo quý, 6 tháng, năm gửi UBND tỉnh",
            ["VPUB"],
            ["ALL"],
            "Trước ngày 15/12/2026",
            ["2026-12-15"],
        ),
        _area(_C, "II", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH"),
        _item(
            _C,
            "3",
            "II",
            "Công khai thủ tục hành chính",
            "100% thủ tục được công khai",
            "Niêm yết, cập nhật thủ tục hành chính tại Trung tâm",
            ["TTHCC"],
            ["VPUB"],
            "Thường xuyên",
            [],
            "continuous",
        ),
        _item(
            _C,
            "4",
            "II",
            "Giải quyết hồ sơ đúng hạn",
            "Tối thiểu 98% hồ sơ đúng hạn",
            "Theo dõi, đôn đốc xử lý hồ sơ trên Hệ thống thông tin giải quyết thủ tục hành chính",
            ["TTHCC"],
            ["PKT", "PVHXH"],
            "Quý IV/2026",
            ["2026-12-31"],
        ),
        _area(_C, "III", "CẢI CÁCH TÀI CHÍNH CÔNG"),
        _item(
            _C,
            "5",
            "III",
            "Công khai ngân sách xã",
            "Đúng quy định",
            "Công khai dự toán, quyết toán ngân sách xã",
            ["PKT"],
            ["VPUB"],
            "Quý II/2026",
            ["2026-06-30"],
        ),
        _area(_C, "IV", "XÂY DỰNG CHÍNH QUYỀN SỐ"),
        _item(
            _C,
            "6",
            "IV",
            "Tuyên truyền chuyển đổi số",
            "Ít nhất 02 tin, bài mỗi quý",
            "Đăng tin trên Trang thông tin điện tử xã",
            ["PVHXH"],
            [],  # "Tổ công nghệ số cộng đồng": no such position or department
            "Quý III/2026",
            ["2026-09-30"],
        ),
        _item(
            _C,
            "7",
            "IV",
            "Chữ ký số",
            "100% văn bản đi được ký số",
            "Cấp, quản lý chữ ký số cho cán bộ, công chức",
            ["PVHXH"],
            ["ALL"],
            "Trong năm 2026",
            ["2026-12-31"],
        ),
        _item(
            _C,
            "8",
            "IV",
            "Khảo sát sự hài lòng",
            "Trên 90% người dân hài lòng",
            "Tổ chức khảo sát ý kiến người dân, doanh nghiệp",
            [],  # "Tổ công nghệ số cộng đồng"
            ["TTHCC"],
            "Quý IV/2026",
            ["2026-12-31"],
        ),
    ],
}

# Phường An Bình 2026: "Nâng cao Chỉ số cải cách hành chính (PAR INDEX)"; the task column
# "Nội dung công việc" is alone, so it is the requirement and task is null.
_P = "PAR"
WARD_EXPECTED = {
    "unit": "Phường An Bình",
    "year": 2026,
    "period": (2026, 2026),
    "criteria": [
        _area(_P, "1", "CẢI CÁCH THỂ CHẾ"),
        _item(
            _P,
            "1.1",
            "1",
            "Rà soát văn bản quy phạm pháp luật",
            "Rà soát, hệ thống hóa văn bản do HĐND, UBND phường ban hành",
            None,
            ["VPUB"],
            ["ALL"],
            "30/6/2026",
            ["2026-06-30"],
        ),
        _item(
            _P,
            "1.2",
            "1",
            "Theo dõi thi hành pháp luật",
            "Xây dựng kế hoạch và báo cáo theo dõi thi hành pháp luật",
            None,
            ["VPUB"],
            ["PKT"],
            "Quý IV/2026",
            ["2026-12-31"],
        ),
        _area(_P, "2", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH"),
        _item(
            _P,
            "2.1",
            "2",
            "Số hóa hồ sơ",
            # the rest of the cell, carried over the page break
            "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn hiệu lực theo quy định",
            None,
            ["TTHCC"],
            ["PKT"],
            "Thường xuyên",
            [],
            "continuous",
        ),
        _item(
            _P,
            "2.2",
            "2",
            "Cấp giấy phép xây dựng đúng hạn",
            "Giải quyết hồ sơ cấp giấy phép xây dựng đúng hạn",
            None,
            ["PKT"],
            ["TTHCC"],
            "Trước 30/9/2026",
            ["2026-09-30"],
        ),
        _area(_P, "3", "XÂY DỰNG CHÍNH QUYỀN SỐ"),
        _item(
            _P,
            "3.1",
            "3",
            "Tuyên truyền cải cách hành chính",
            "Tuyên truyền cải cách hành chính trên các nền tảng số",
            None,
            ["PVHXH"],
            ["ALL"],
            "Quý III/2026",
            ["2026-09-30"],
        ),
        _item(
            _P,
            "3.2",
            "3",
            "Bồi dưỡng kỹ năng số",
            "Cử công chức tham gia bồi dưỡng kỹ năng số",
            None,
            ["PVHXH"],
            ["VPUB"],
            "Trong năm 2026",
            ["2026-12-31"],
        ),
    ],
}

# Xã Tân Lập 2024 (before the merger): "Văn phòng HĐND và UBND" is the VPTK post;
# deadlines are Excel dates shown as dd/mm/yyyy; points are numbers.
COMMUNE_EXPECTED = {
    "unit": "Xã Tân Lập",
    "year": 2024,
    "period": (2024, 2024),
    "criteria": [
        _area(_P, "I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", max_points=3.0, target_points=2.75),
        _item(
            _P,
            "1.1",
            "I",
            "Kế hoạch cải cách hành chính",
            "Ban hành trước ngày 31/01/2024",
            "Tham mưu ban hành Kế hoạch CCHC năm 2024",
            ["VPTK"],
            ["ALL"],
            "31/01/2024",
            ["2024-01-31"],
            max_points=1.5,
            target_points=1.5,
        ),
        _item(
            _P,
            "1.2",
            "I",
            "Kiểm tra cải cách hành chính",
            "Kiểm tra ít nhất 01 lần",
            "Xây dựng và thực hiện kế hoạch kiểm tra",
            ["VPTK"],
            ["TPHT"],
            "15/10/2024",
            ["2024-10-15"],
            max_points=1.5,
            target_points=1.25,
        ),
        _area(_P, "II", "CẢI CÁCH THỂ CHẾ", max_points=2.0, target_points=2.0),
        _item(
            _P,
            "2.1",
            "II",
            "Rà soát văn bản",
            "100% văn bản được rà soát",
            "Rà soát văn bản quy phạm pháp luật của xã",
            ["TPHT"],
            ["VPTK"],
            "30/06/2024",
            ["2024-06-30"],
            max_points=2.0,
            target_points=2.0,
        ),
    ],
}

SOURCES: dict[str, tuple[Callable[[], bytes], str, dict[str, Any]]] = {
    "txt-nfc": (lambda: fixture_bytes(TEXT_PLAN), TEXT_PLAN, TEXT_EXPECTED),
    "txt-nfd": (lambda: fixture_bytes(TEXT_PLAN, nfd=True), TEXT_PLAN, TEXT_EXPECTED),
    "docx-nfc": (lambda: ward_docx(), "an_binh_2026.docx", WARD_EXPECTED),
    "docx-nfd": (lambda: ward_docx(nfd=True), "an_binh_2026.docx", WARD_EXPECTED),
    "xlsx-nfc": (lambda: commune_2024_xlsx(), "tan_lap_2024.xlsx", COMMUNE_EXPECTED),
    "xlsx-nfd": (lambda: commune_2024_xlsx(nfd=True), "tan_lap_2024.xlsx", COMMUNE_EXPECTED),
}

_parsed: dict[str, Any] = {}


def _parse(source: str) -> Any:
    if source not in _parsed:
        build, filename, _ = SOURCES[source]
        _parsed[source] = parse_plan_file(build(), filename=filename)
    return _parsed[source]


def _actual(criterion: Any) -> dict[str, Any]:
    """The criterion in the JSON contract's terms (dates as YYYY-MM-DD, recurrence a string)."""
    values = {name: getattr(criterion, name) for name in FIELDS}
    values["due_dates"] = [d.isoformat() for d in criterion.due_dates]
    recurrence = criterion.recurrence
    values["recurrence"] = None if recurrence is None else getattr(recurrence, "value", recurrence)
    return values


CASES = [
    pytest.param(source, row["code"], id=f"{source}-{row['code']}")
    for source, (_, _, expected) in SOURCES.items()
    for row in expected["criteria"]
]


@pytest.mark.parametrize("source", list(SOURCES))
def test_plan_header_and_codes(source: str) -> None:
    plan = _parse(source)
    expected = SOURCES[source][2]
    assert (plan.unit, plan.year, plan.period) == (
        expected["unit"],
        expected["year"],
        tuple(expected["period"]),
    )
    assert [c.code for c in plan.criteria] == [row["code"] for row in expected["criteria"]]


@pytest.mark.parametrize(("source", "code"), CASES)
def test_criterion_fields(source: str, code: str) -> None:
    plan = _parse(source)
    expected = next(row for row in SOURCES[source][2]["criteria"] if row["code"] == code)
    found = [c for c in plan.criteria if c.code == code]
    assert len(found) == 1, f"{code}: {len(found)} criteria with this code"
    actual = _actual(found[0])
    differing = {
        name: {"expected": expected[name], "parser": actual[name]}
        for name in FIELDS
        if actual[name] != expected[name]
    }
    assert differing == {}


@pytest.mark.parametrize("source", ["txt-nfc", "txt-nfd"])
def test_unknown_body_is_quoted_whole_for_its_rows(source: str) -> None:
    plan = _parse(source)
    # Line 17 is criterion 6 (unknown support), line 19 criterion 8 (unknown lead); nothing
    # else in the plan is unresolved.
    assert [(w.code, w.line_no) for w in plan.warnings] == [("6", 17), ("8", 19)]
    assert all("«Tổ công nghệ số cộng đồng»" in w.message for w in plan.warnings)
    by_code = {c.code: c for c in plan.criteria}
    assert by_code["8"].lead_text == "Tổ công nghệ số cộng đồng"


@pytest.mark.parametrize("source", ["docx-nfc", "docx-nfd", "xlsx-nfc", "xlsx-nfd"])
def test_nothing_to_warn_about(source: str) -> None:
    # Every lead and support maps, every row is numbered, and the 2024 areas' points
    # add up (I: 1,5 + 1,5 = 3 and 1,5 + 1,25 = 2,75; II: 2 and 2).
    assert _parse(source).warnings == []


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_text_comes_out_nfc(source: str) -> None:
    plan = _parse(source)
    for criterion in plan.criteria:
        for text in (criterion.title, criterion.requirement, criterion.task):
            if text is not None:
                assert unicodedata.is_normalized("NFC", text), (criterion.code, text)


# roster_2026.csv: Họ tên, Phòng/Đơn vị, Trưởng phòng, Vị trí, Vai trò.
# Roles are the domain's: an empty "Vai trò" is a plain officer, "Đầu mối" the coordinator.
ROSTER_EXPECTED = {
    # name: (department, head, positions, roles)
    "Nguyễn Văn An": ("PKT", True, (), ("officer",)),
    "Trần Thị Bình": ("PKT", False, (), ("officer",)),  # "Phòng Kinh tế xã"
    "Lê Văn Cường": ("VPUB", True, (), ("coordinator",)),
    "Phạm Thị Dung": ("TTHCC", False, ("MOTCUA",), ("officer",)),  # also holds a post
    "Hoàng Văn Em": ("PVHXH", False, (), ("officer",)),
}


@pytest.mark.parametrize("nfd", [False, True], ids=["nfc", "nfd"])
def test_roster_departments_and_heads(nfd: bool) -> None:
    rows = read_roster(fixture_bytes(ROSTER, nfd=nfd), filename=ROSTER)
    actual = {
        row.name: (row.department, row.department_head, tuple(row.positions), tuple(row.roles))
        for row in rows
    }
    assert actual == ROSTER_EXPECTED
