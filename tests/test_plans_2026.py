"""Plans of merged communes (2026 on), and one from 2024, in every format.

The expected values below were written from the fixtures themselves (the rows of
tests/fixtures/plans2026/xa_phurieng_2026_cchc.txt and of tests/plans2026.py),
not from the parser's output. See tests/fixtures/plans2026/README.md.
"""

from __future__ import annotations

from datetime import date

import pytest

from core.plan_model import ParsedPlan
from core.plan_preview import build_preview
from core.plans import parse_plan_file
from core.roster import read_roster
from tests.plans2026 import (
    ROSTER,
    TEXT_PLAN,
    commune_2024_xlsx,
    fixture_bytes,
    ward_docx,
)

# code, parent, title, requirement, task, leads, supports, deadline text, due dates, recurrence
Row = tuple[
    str,
    str | None,
    str,
    str | None,
    str | None,
    list[str],
    list[str],
    str | None,
    list[str],
    str | None,
]

COMMUNE_2026: list[Row] = [
    ("I", None, "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", None, None, [], [], None, [], None),
    (
        "1",
        "I",
        "Kế hoạch cải cách hành chính năm",
        "Ban hành đúng thời hạn",
        "Tham mưu UBND xã ban hành Kế hoạch CCHC năm 2026",
        ["VPUB"],
        ["ALL"],
        "Quý I/2026",
        ["2026-03-31"],
        None,
    ),
    (
        "2",
        "I",
        "Báo cáo cải cách hành chính định kỳ",
        "Đầy đủ, đúng thời hạn",
        "Tổng hợp báo cáo quý, 6 tháng, năm gửi UBND tỉnh",
        ["VPUB"],
        ["ALL"],
        "Trước ngày 15/12/2026",
        ["2026-12-15"],
        None,
    ),
    ("II", None, "CẢI CÁCH THỦ TỤC HÀNH CHÍNH", None, None, [], [], None, [], None),
    (
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
    (
        "4",
        "II",
        "Giải quyết hồ sơ đúng hạn",
        "Tối thiểu 98% hồ sơ đúng hạn",
        "Theo dõi, đôn đốc xử lý hồ sơ trên Hệ thống thông tin giải quyết thủ tục hành chính",
        ["TTHCC"],
        ["PKT", "PVHXH"],
        "Quý IV/2026",
        ["2026-12-31"],
        None,
    ),
    ("III", None, "CẢI CÁCH TÀI CHÍNH CÔNG", None, None, [], [], None, [], None),
    (
        "5",
        "III",
        "Công khai ngân sách xã",
        "Đúng quy định",
        "Công khai dự toán, quyết toán ngân sách xã",
        ["PKT"],
        ["VPUB"],
        "Quý II/2026",
        ["2026-06-30"],
        None,
    ),
    ("IV", None, "XÂY DỰNG CHÍNH QUYỀN SỐ", None, None, [], [], None, [], None),
    (
        "6",
        "IV",
        "Tuyên truyền chuyển đổi số",
        "Ít nhất 02 tin, bài mỗi quý",
        "Đăng tin trên Trang thông tin điện tử xã",
        ["PVHXH"],
        [],
        "Quý III/2026",
        ["2026-09-30"],
        None,
    ),
    (
        "7",
        "IV",
        "Chữ ký số",
        "100% văn bản đi được ký số",
        "Cấp, quản lý chữ ký số cho cán bộ, công chức",
        ["PVHXH"],
        ["ALL"],
        "Trong năm 2026",
        ["2026-12-31"],
        None,
    ),
    (
        "8",
        "IV",
        "Khảo sát sự hài lòng",
        "Trên 90% người dân hài lòng",
        "Tổ chức khảo sát ý kiến người dân, doanh nghiệp",
        [],
        ["TTHCC"],
        "Quý IV/2026",
        ["2026-12-31"],
        None,
    ),
]

# The task column is the only "what to do" column: it is the requirement.
WARD_2026: list[Row] = [
    ("1", None, "CẢI CÁCH THỂ CHẾ", None, None, [], [], None, [], None),
    (
        "1.1",
        "1",
        "Rà soát văn bản quy phạm pháp luật",
        "Rà soát, hệ thống hóa văn bản do HĐND, UBND phường ban hành",
        None,
        ["VPUB"],
        ["ALL"],
        "30/6/2026",
        ["2026-06-30"],
        None,
    ),
    (
        "1.2",
        "1",
        "Theo dõi thi hành pháp luật",
        "Xây dựng kế hoạch và báo cáo theo dõi thi hành pháp luật",
        None,
        ["VPUB"],
        ["PKT"],
        "Quý IV/2026",
        ["2026-12-31"],
        None,
    ),
    ("2", None, "CẢI CÁCH THỦ TỤC HÀNH CHÍNH", None, None, [], [], None, [], None),
    (
        "2.1",
        "2",
        "Số hóa hồ sơ",
        "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn hiệu lực theo quy định",
        None,
        ["TTHCC"],
        ["PKT"],
        "Thường xuyên",
        [],
        "continuous",
    ),
    (
        "2.2",
        "2",
        "Cấp giấy phép xây dựng đúng hạn",
        "Giải quyết hồ sơ cấp giấy phép xây dựng đúng hạn",
        None,
        ["PKT"],
        ["TTHCC"],
        "Trước 30/9/2026",
        ["2026-09-30"],
        None,
    ),
    ("3", None, "XÂY DỰNG CHÍNH QUYỀN SỐ", None, None, [], [], None, [], None),
    (
        "3.1",
        "3",
        "Tuyên truyền cải cách hành chính",
        "Tuyên truyền cải cách hành chính trên các nền tảng số",
        None,
        ["PVHXH"],
        ["ALL"],
        "Quý III/2026",
        ["2026-09-30"],
        None,
    ),
    (
        "3.2",
        "3",
        "Bồi dưỡng kỹ năng số",
        "Cử công chức tham gia bồi dưỡng kỹ năng số",
        None,
        ["PVHXH"],
        ["VPUB"],
        "Trong năm 2026",
        ["2026-12-31"],
        None,
    ),
]

# Before the merger "Văn phòng HĐND và UBND" is the VPTK post.
COMMUNE_2024: list[Row] = [
    ("I", None, "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH", None, None, [], [], None, [], None),
    (
        "1.1",
        "I",
        "Kế hoạch cải cách hành chính",
        "Ban hành trước ngày 31/01/2024",
        "Tham mưu ban hành Kế hoạch CCHC năm 2024",
        ["VPTK"],
        ["ALL"],
        "31/01/2024",
        ["2024-01-31"],
        None,
    ),
    (
        "1.2",
        "I",
        "Kiểm tra cải cách hành chính",
        "Kiểm tra ít nhất 01 lần",
        "Xây dựng và thực hiện kế hoạch kiểm tra",
        ["VPTK"],
        ["TPHT"],
        "15/10/2024",
        ["2024-10-15"],
        None,
    ),
    ("II", None, "CẢI CÁCH THỂ CHẾ", None, None, [], [], None, [], None),
    (
        "2.1",
        "II",
        "Rà soát văn bản",
        "100% văn bản được rà soát",
        "Rà soát văn bản quy phạm pháp luật của xã",
        ["TPHT"],
        ["VPTK"],
        "30/06/2024",
        ["2024-06-30"],
        None,
    ),
]


# Points, typed as numbers in the Excel sheet; the other two plans have none.
COMMUNE_2024_POINTS = {
    "I": (3.0, 2.75),
    "1.1": (1.5, 1.5),
    "1.2": (1.5, 1.25),
    "II": (2.0, 2.0),
    "2.1": (2.0, 2.0),
}


def rows_of(plan: ParsedPlan) -> list[Row]:
    return [
        (
            c.code,
            c.parent,
            c.title,
            c.requirement,
            c.task,
            c.leads,
            c.supports,
            c.deadline_text,
            [d.isoformat() for d in c.due_dates],
            c.recurrence,
        )
        for c in plan.criteria
    ]


def parsed(kind: str, nfd: bool) -> ParsedPlan:
    if kind == "text":
        return parse_plan_file(fixture_bytes(TEXT_PLAN, nfd=nfd), filename=TEXT_PLAN)
    if kind == "docx":
        return parse_plan_file(ward_docx(nfd=nfd), filename="phuong_an_binh_2026.docx")
    return parse_plan_file(commune_2024_xlsx(nfd=nfd), filename="xa_tan_lap_2024.xlsx")


@pytest.mark.parametrize("nfd", [False, True], ids=["nfc", "nfd"])
@pytest.mark.parametrize(
    ("kind", "unit", "year", "index", "expected"),
    [
        ("text", "Xã Phú Riềng", 2026, "CCHC", COMMUNE_2026),
        ("docx", "Phường An Bình", 2026, "PAR", WARD_2026),
        ("xlsx", "Xã Tân Lập", 2024, "PAR", COMMUNE_2024),
    ],
)
def test_each_fixture_parses_exactly(
    kind: str, unit: str, year: int, index: str, expected: list[Row], nfd: bool
) -> None:
    plan = parsed(kind, nfd)
    assert plan.source_format == kind
    assert (plan.unit, plan.year, plan.period) == (unit, year, (year, year))
    assert {c.index for c in plan.criteria} == {index}
    assert rows_of(plan) == expected
    points = COMMUNE_2024_POINTS if kind == "xlsx" else {}
    assert {c.code: (c.max_points, c.target_points) for c in plan.criteria} == {
        row[0]: points.get(row[0], (None, None)) for row in expected
    }


def test_unmapped_lead_and_support_are_quoted_whole_with_row_and_code() -> None:
    plan = parsed("text", nfd=False)
    messages = [(w.code, w.message) for w in plan.warnings if "ánh xạ" in w.message]
    assert messages == [
        (
            "6",
            "Dòng 17, mục CCHC 6: không nhận ra đơn vị phối hợp «Tổ công nghệ số cộng đồng»; "
            "cần ánh xạ.",
        ),
        (
            "8",
            "Dòng 19, mục CCHC 8: không nhận ra đơn vị chủ trì «Tổ công nghệ số cộng đồng»; "
            "cần ánh xạ.",
        ),
    ]
    item = next(c for c in plan.criteria if c.code == "8")
    assert item.unmapped_leads == ["Tổ công nghệ số cộng đồng"]
    # The preview offers the whole text to map, once for both items.
    assert build_preview(plan).unmapped_leads == {"Tổ công nghệ số cộng đồng": 2}


def test_a_fragment_is_named_inside_the_whole_cell() -> None:
    plan = parse_plan_file(
        (
            "Kế hoạch cải cách hành chính năm 2026 của Xã Phú Riềng\n"
            "STT\tTiêu chí\tChủ trì\tThời gian\n"
            "1\tTuyên truyền\tPhòng Văn hóa - Xã hội; Đài truyền thanh xã\tQuý I/2026\n"
        ).encode(),
        filename="kh.txt",
    )
    (item,) = plan.criteria
    assert item.leads == ["PVHXH"] and item.unmapped_leads == ["Đài truyền thanh"]
    assert any(
        "«Đài truyền thanh» trong đơn vị chủ trì «Phòng Văn hóa - Xã hội; Đài truyền thanh xã»"
        in w.message
        for w in plan.warnings
    )


def test_everyone_in_2026_spellings_and_departments_by_the_plans_year() -> None:
    from core.positions import default_catalogue

    catalogue = default_catalogue()
    for text in (
        "Các phòng chuyên môn",
        "các phòng, ban, đơn vị (thuộc UBND xã)",
        "Các phòng, ban, đơn vị thuộc UBND phường",
        "Các đơn vị liên quan",
    ):
        assert catalogue.for_year(2026).match(text).codes == ("ALL",), text
    for text, before, after in (
        ("Văn phòng HĐND và UBND xã", "VPTK", "VPUB"),
        ("Phòng Kinh tế", "DCXD", "PKT"),
        ("Phòng Kinh tế - Hạ tầng và Đô thị phường", "DCXD", "PKT"),
        ("Phòng Văn hóa - Xã hội xã", "VHXH", "PVHXH"),
        ("Trung tâm Phục vụ hành chính công phường", "MOTCUA", "TTHCC"),
    ):
        assert catalogue.for_year(2024).match(text).codes == (before,), text
        assert catalogue.for_year(2026).match(text).codes == (after,), text
        assert catalogue.for_year(None).match(text).codes == (after,), text


def test_a_units_own_mapping_wins_in_every_year() -> None:
    from core.positions import default_catalogue

    unit = default_catalogue().with_aliases({"Phòng Kinh tế": "TCKT"})
    assert unit.for_year(2024).match("Phòng Kinh tế").codes == ("TCKT",)
    assert unit.for_year(2026).match("Phòng Kinh tế").codes == ("TCKT",)
    assert unit.for_year(2026) is unit.for_year(2027)  # one view per set of dated aliases


def test_roster_with_departments_and_a_head() -> None:
    rows = read_roster(fixture_bytes(ROSTER), filename=ROSTER)
    assert [(r.name, r.department, r.department_head, r.positions, r.roles) for r in rows] == [
        ("Nguyễn Văn An", "PKT", True, (), ("officer",)),
        ("Trần Thị Bình", "PKT", False, (), ("officer",)),
        ("Lê Văn Cường", "VPUB", True, (), ("coordinator",)),
        ("Phạm Thị Dung", "TTHCC", False, ("MOTCUA",), ("officer",)),
        ("Hoàng Văn Em", "PVHXH", False, (), ("officer",)),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Ngô Văn Phú,Phòng Tài nguyên,,,", "Phòng/đơn vị «Phòng Tài nguyên» không có"),
        ("Ngô Văn Phú,VPTK,,,", "«VPTK» (VPTK) không phải một phòng/đơn vị"),
        ("Ngô Văn Phú,,x,VPTK,", "trưởng phòng cần ghi phòng/đơn vị"),
        ("Ngô Văn Phú,PKT,có lẽ,,", "cột Trưởng phòng «có lẽ»"),
        ("Ngô Văn Phú,,,,", "thiếu vị trí hoặc phòng/đơn vị"),
    ],
)
def test_bad_department_cells_are_refused_with_the_line(line: str, problem: str) -> None:
    from core.roster import RosterError

    data = ("Họ tên,Phòng/Đơn vị,Trưởng phòng,Vị trí,Vai trò\n" + line + "\n").encode()
    with pytest.raises(RosterError) as caught:
        read_roster(data, filename="r.csv")
    assert any(p.startswith("Dòng 2:") and problem in p for p in caught.value.problems)


def test_a_2026_plan_due_dates_are_dates() -> None:
    plan = parsed("text", nfd=False)
    assert next(c for c in plan.criteria if c.code == "1").due_dates == [date(2026, 3, 31)]


def test_the_task_survives_a_yaml_round_trip() -> None:
    from core.plan_yaml import dump_yaml_plan, load_yaml_plan

    plan = parsed("text", nfd=False)
    again = load_yaml_plan(dump_yaml_plan(plan))
    assert rows_of(again) == rows_of(plan) == COMMUNE_2026
    assert again.criteria[-1].unmapped_leads == ["Tổ công nghệ số cộng đồng"]
    assert any("«Tổ công nghệ số cộng đồng»" in w.message for w in again.warnings)


def test_a_positions_column_reads_names_as_posts_and_a_department_column_as_departments() -> None:
    from core.roster import department_code, position_codes

    assert position_codes(["Văn phòng UBND", "Phòng Kinh tế"]) == ["VPTK", "DCXD"]
    assert department_code("Văn phòng UBND") == "VPUB"
    assert department_code("Phòng Kinh tế, Hạ tầng và Đô thị") == "PKT"


@pytest.mark.parametrize(
    ("task_header", "requirement_header", "requirement", "task"),
    [
        ("Nhiệm vụ và giải pháp", "Yêu cầu", "Đạt 100%", "Rà soát"),
        ("Nội dung nhiệm vụ", "Chỉ tiêu", "Đạt 100%", "Rà soát"),
        ("Công việc cụ thể", "", "Rà soát", None),
        ("Nhiệm vụ", "", "Rà soát", None),  # beside a criterion, what to do is the requirement
    ],
)
def test_task_headers_beside_a_criterion(
    task_header: str, requirement_header: str, requirement: str, task: str | None
) -> None:
    header = ["STT", "Tiêu chí", task_header, requirement_header, "Chủ trì", "Thời gian"]
    row = ["1", "Văn bản", "Rà soát", "Đạt 100%" if requirement_header else "", "VP-TK", "Quý I"]
    text = "Kế hoạch cải cách hành chính năm 2026 của Xã Phú Riềng\n"
    text += "\t".join(header) + "\n" + "\t".join(row) + "\n"
    (item,) = parse_plan_file(text.encode(), filename="kh.txt").criteria
    assert (item.title, item.requirement, item.task) == ("Văn bản", requirement, task)
