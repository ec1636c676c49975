"""The plan parser raises only its own clear error type, whatever it is given.

Two kinds of input: arbitrary bytes, and "plan-like" TAB text built from the
pieces real plans are made of (header words, codes in every spelling, decimal
commas, deadline phrases, HTML left over from conversion, NFD text, blank
lines and repeated headers), also rendered as .xlsx. Whenever the parser
accepts such an input, the plan it returns must be well formed.
"""

from __future__ import annotations

import io
import unicodedata

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.plan_model import RECURRENCES, ParsedPlan, PlanParseError
from core.plans import parse_plan_file
from core.positions import default_catalogue

CATALOGUE_CODES = frozenset(default_catalogue().positions)

CODE_HEADERS = ("STT", "TT", "Stt", "Số TT", "<b>STT</b>")
HEADER_WORDS = (
    "Lĩnh vực, tiêu chí",
    "Tiêu chí",
    "Nội dung",
    "Nhiệm vụ",
    "Hoạt động",
    "Mục tiêu",
    "Kết quả/sản phẩm",
    "Điểm tối đa",
    "Điểm phấn đấu",
    "Cơ quan chủ trì",
    "Cơ quan phối hợp",
    "Bộ phận chủ trì",
    "Công chức phụ trách",
    "Đơn vị thực hiện",
    "Cơ quan theo dõi",
    "Thời gian thực hiện",
    "Thời hạn hoàn thành",
    "Chỉ tiêu",
    "Yêu cầu năm 2024",
    "Kinh phí",
    "Ghi chú",
    "Phân công nhiệm vụ",
    # Merged communes' plans (2026 on): task columns beside the criterion.
    "Nhiệm vụ cụ thể",
    "Nội dung công việc",
    "Nhiệm vụ, giải pháp",
    "Yêu cầu năm 2026",
)
CODES = (
    "1",
    "2",
    "1.1",
    "1.1.",
    "2.1.",
    "2.10",
    "7.2.6.1",
    "<b>2</b>",
    "<b>3.</b>",
    "I",
    "I.",
    "IV",
    "VIII.",
    "IIII",
    "(1)",
    "a)",
    "-",
    "",
    "",
    "1.1.1.1.1.1",
    "9999.1",
    "1..2",
)
WORDS = (
    "Ban hành",
    "kế hoạch",
    "cải cách",
    "hành chính",
    "CÔNG TÁC CHỈ ĐẠO",
    "tuyên truyền",
    "Văn hoá",
    "Văn hóa",
    "thủ tục",
    "người dân",
    "doanh nghiệp",
    "đúng hạn",
    "100%",
    "năm 2024",
    "Chỉ số hài lòng",
    "SIPAS",
    "PAR INDEX",
    "<p>",
    "</p>",
    "<b>",
    "</b>",
    "<i>nghiêng</i>",
    "<ul><li>mục</li></ul>",
    "&amp;",
    "&lt;",
    "&#272;",
    "<",
    ">",
    "-",
    "•",
    "(",
    ")",
    "tổng điểm",
    "TỔNG ĐIỂM",
)
NUMBERS = ("16,50", "0,75", "1,8", "29", "100", "97,90", "1.000,5", "0.125", "-1", "1e3", "abc", "")
DEADLINES = (
    "Chậm nhất trước ngày 31/12/2024",
    "Trong năm 2024",
    "Trước 31/12/2024",
    "Quý III năm 2024",
    "Quý IV/2023",
    "Quý III,IV/2023",
    "Quý II-IV/2023",
    "Năm 2023",
    "Thường xuyên",
    "06 tháng/cuộc",
    "Quý IV hàng năm",
    "Hàng tháng",
    "Theo tiến độ thời gian",
    "Ban hành Kế hoạch tháng 12/2022; Triển khai thực hiện trong năm 2023",
    "UBND phường ban hành báo cáo UBND TP trước 05/12/2023",
    "chậm nhất 15 ngày kể từ ngày UBND tỉnh ban hành kế hoạch",
    "31/02/2024",
    "tháng 13/2024",
    "Quý V/2024",
    "năm 1899",
    "năm 9999",
    "32/12/2024",
)
LEADS = (
    "Văn phòng- Thống kê",
    "VP-TK",
    "CC VP-TK",
    "Công chức Tư pháp - Hộ tịch",
    "Tur pháp",
    "VHXXH",
    "ĐCXĐ",
    "Công an phường",
    "Các ngành liên quan",
    "Cán bộ, công chức thuộc UBND xã",
    "Bộ phận mottj cửa",
    "Truyền thanh",
    "MTTQ xã",
    "- Nội vụ Phường - CC VP-TK (Tổng hợp)",
    "Văn phòng HĐND và UBND xã",
    "Phòng Kinh tế, Hạ tầng và Đô thị phường",
    "Phòng Văn hóa - Xã hội",
    "Trung tâm Phục vụ hành chính công",
    "Các phòng chuyên môn",
    "các phòng, ban, đơn vị (thuộc UBND phường)",
    "Tổ công nghệ số cộng đồng",
)
VIETNAMESE_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯáàảãạấầẩẫậếềểễệốồổỗộớờởỡợíìỉĩịúùủũụứừửữựýỳỷỹỵ"
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _maybe_nfd(draw: st.DrawFn, text: str) -> str:
    return nfd(text) if draw(st.booleans()) else text


free_text = st.text(alphabet=VIETNAMESE_LETTERS + " ,.;:-/()<>&%", max_size=12)


@st.composite
def text_cell(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(WORDS) | free_text, max_size=4))
    return _maybe_nfd(draw, " ".join(words))


@st.composite
def data_cell(draw: st.DrawFn) -> str:
    pool = st.sampled_from(NUMBERS) | st.sampled_from(DEADLINES) | st.sampled_from(LEADS)
    return _maybe_nfd(draw, draw(pool | text_cell() | st.just("")))


@st.composite
def header_row(draw: st.DrawFn) -> list[str]:
    rest = draw(st.lists(st.sampled_from(HEADER_WORDS), min_size=1, max_size=7, unique=True))
    code = draw(st.sampled_from(CODE_HEADERS) | st.just(""))
    return [code, *(_maybe_nfd(draw, word) for word in rest)]


@st.composite
def data_row(draw: st.DrawFn, width: int) -> list[str]:
    code = draw(st.sampled_from(CODES) | free_text)
    title = draw(text_cell() | st.sampled_from(("", "tiếp theo của dòng trên", "MÁY HÀNH CHÍNH")))
    rest = draw(st.lists(data_cell(), min_size=max(width - 2, 0), max_size=max(width - 2, 0)))
    return [code, title, *rest][: max(width, 1)]


APPENDIX_TITLES = ("Phụ lục", "Phụ lục 2", "PHỤ LỤC 3", "**Phụ lục 4**")
INDEX_TITLES = (
    "NHIỆM VỤ NÂNG CAO CHỈ SỐ CẢI CÁCH HÀNH CHÍNH NĂM 2024",
    "NHIỆM VỤ NÂNG CAO CHỈ SỐ HÀI LÒNG",
    "Chỉ số Hiệu quả quản trị và hành chính công cấp tỉnh (PAPI)",
    "NÂNG CAO CHỈ SỐ NĂNG LỰC CẠNH TRANH CẤP TỈNH",
    "Nhiệm vụ cải cách hành chính năm 2023",
)
RUNNING_TEXT = (
    "KẾ HOẠCH",
    "Cải thiện Chỉ số cải cách hành chính năm 2024 của xã Tân Đức",
    "Phường 6, ngày 10 tháng 01 năm 2023",
    "giai đoạn 2023 - 2025 và các năm tiếp theo",
    "Kế hoạch cải cách hành chính năm 2026 của Phường An Bình",
    "Nơi nhận:",
    "- Lưu: VT.",
)
SUB_HEADER = ("Chủ trì", "Phối hợp", "Điểm tối đa", "Điểm phấn đấu")


@st.composite
def header_block(draw: st.DrawFn) -> list[list[str]]:
    """A header row, sometimes with a second row under it ("Phân công nhiệm vụ" / "Chủ trì")."""
    block = [draw(header_row())]
    if draw(st.integers(0, 3)) == 0:
        sub_header = draw(st.lists(st.sampled_from(SUB_HEADER), min_size=1, max_size=3))
        block.append(["", *sub_header])
    return block


@st.composite
def appendix_lines(draw: st.DrawFn) -> list[list[str]]:
    """One appendix: titles, a header, then rows as a converted Word/PDF table has them."""
    titles = draw(st.lists(st.sampled_from(APPENDIX_TITLES + INDEX_TITLES), max_size=2))
    header = draw(header_block())
    lines = [[title] for title in titles] + header
    for _ in range(draw(st.integers(0, 20))):
        kind = draw(st.integers(0, 11))
        if kind == 0:
            lines.append([""])  # a blank line left by a page break
        elif kind == 1:
            lines.extend(header)  # the header repeated after a page break
        elif kind == 2:
            lines.extend(draw(header_block()))  # another table, maybe of the same index
        elif kind == 3:
            lines.append([f"({i + 1})" for i in range(len(header[0]))])  # the numbering row
        elif kind == 4:
            lines.append([draw(st.sampled_from(RUNNING_TEXT + APPENDIX_TITLES) | text_cell())])
        else:
            lines.append(draw(data_row(len(header[0]))))
    return lines


@st.composite
def plan_lines(draw: st.DrawFn) -> list[list[str]]:
    """A plan as lines of cells: a one-cell line is running text, the rest are table rows."""
    lines = [[draw(st.sampled_from(RUNNING_TEXT))] for _ in range(draw(st.integers(0, 3)))]
    for _ in range(draw(st.integers(1, 4))):
        lines.extend(draw(appendix_lines()))
    return lines


def as_text(lines: list[list[str]]) -> bytes:
    return "\n".join("\t".join(cells) for cells in lines).encode()


def as_xlsx(lines: list[list[str]], numeric_codes: bool) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row_no, cells in enumerate(lines, start=1):
        for col_no, text in enumerate(cells, start=1):
            if not text:
                continue
            cell = sheet.cell(row=row_no, column=col_no)
            if numeric_codes and col_no == 1 and text.replace(".", "", 1).isdigit():
                cell.value = float(text) if "." in text else int(text)
            else:
                cell.value = text
                cell.data_type = "s"  # "=..." stays text, not a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse_or_refuse(data: bytes, filename: str | None) -> ParsedPlan | None:
    try:
        plan = parse_plan_file(data, filename=filename)
    except PlanParseError as error:
        assert str(error).strip(), "a PlanParseError must say why"
        return None
    assert isinstance(plan, ParsedPlan)
    return plan


def assert_well_formed(plan: ParsedPlan) -> None:
    assert plan.criteria, "an accepted plan has at least one criterion"
    keys: set[tuple[str, str, int]] = set()
    seen: set[tuple[str, str]] = set()
    for criterion in plan.criteria:
        assert criterion.code.strip(), criterion
        assert criterion.code == criterion.code.strip()
        assert criterion.key not in keys, f"duplicate key {criterion.key}"
        keys.add(criterion.key)
        if criterion.parent is not None:
            assert (criterion.index, criterion.parent) in seen, (
                f"{criterion.index} {criterion.code}: parent {criterion.parent} not before it"
            )
        seen.add((criterion.index, criterion.code))
        assert criterion.due_dates == sorted(set(criterion.due_dates)), criterion.due_dates
        assert criterion.recurrence is None or criterion.recurrence in RECURRENCES
        assert set(criterion.leads) <= CATALOGUE_CODES, criterion.leads
        assert set(criterion.supports) <= CATALOGUE_CODES, criterion.supports
        assert not set(criterion.leads) & set(criterion.supports)
        for milestone in criterion.milestones:
            assert set(milestone.leads) <= CATALOGUE_CODES, milestone.leads
    for warning in plan.warnings:
        assert warning.message.strip()


def test_a_plan_like_example_is_accepted_and_well_formed() -> None:
    """The pools make real plans: two tables of one index, page breaks, odd codes."""
    header = ["STT", "Lĩnh vực, tiêu chí", "Điểm tối đa", "Cơ quan chủ trì", "Thời gian thực hiện"]
    lines = [
        ["Phụ lục"],
        [INDEX_TITLES[0]],
        header,
        ["(1)", "(2)", "(3)", "(4)", "(5)"],
        ["<b>1</b>", "CÔNG TÁC CHỈ ĐẠO", "16,50", "", ""],
        ["1.1.", nfd("Ban hành kế hoạch"), "0,75", "VP-TK", DEADLINES[0]],
        [""],
        header,
        ["", "tiếp theo của dòng trên", "", "Tur pháp", ""],
        ["1.2", "Tuyên truyền <p>văn bản</p> &amp; thủ tục", "1,8", "VHXXH", "Thường xuyên"],
        ["STT", "Nội dung", "Cơ quan chủ trì", "Thời hạn hoàn thành"],
        ["1.2", "Lặp lại mã ở bảng sau", "Truyền thanh", "Quý III,IV/2023"],
        ["IV", "CẢI CÁCH TỔ CHỨC BỘ MÁY", "", ""],
    ]
    plan = parse_or_refuse(as_text(lines), "plan.txt")
    assert plan is not None
    assert_well_formed(plan)
    assert [c.key for c in plan.criteria] == [
        ("PAR", "1", 1),
        ("PAR", "1.1", 1),
        ("PAR", "1.2", 1),
        ("PAR", "1.2", 2),
        ("PAR", "IV", 1),
    ]
    assert plan.criteria[1].leads == ["VPTK", "TPHT"]
    assert plan.criteria[2].recurrence == "continuous"
    xlsx_plan = parse_or_refuse(as_xlsx(lines, numeric_codes=True), "plan.xlsx")
    assert xlsx_plan is not None
    assert [c.as_json() for c in xlsx_plan.criteria] == [c.as_json() for c in plan.criteria]


def test_the_well_formed_check_catches_a_parent_after_its_child() -> None:
    lines = [["TT", "Nội dung", "Chủ trì"], ["1.1", "Con", "VP-TK"], ["1", "Cha", "VP-TK"]]
    plan = parse_or_refuse(as_text(lines), None)
    assert plan is not None
    assert_well_formed(plan)
    plan.criteria[1].parent, plan.criteria[0].parent = None, "1"
    with pytest.raises(AssertionError, match="parent 1 not before it"):
        assert_well_formed(plan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.binary(max_size=4096), st.text(max_size=2000).map(str.encode)),
    st.sampled_from((None, "plan.txt", "plan.docx", "plan.xlsx", "plan.csv", "plan.yaml")),
)
def test_arbitrary_bytes_give_a_plan_or_a_plan_parse_error(
    data: bytes, filename: str | None
) -> None:
    plan = parse_or_refuse(data, filename)
    if plan is not None:
        assert_well_formed(plan)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_lines())
def test_plan_like_text_parses_to_a_well_formed_plan_or_is_refused(
    lines: list[list[str]],
) -> None:
    plan = parse_or_refuse(as_text(lines), "plan.txt")
    event("accepted" if plan else "refused")
    if plan is not None:
        assert_well_formed(plan)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_lines(), st.booleans())
def test_plan_like_xlsx_parses_to_a_well_formed_plan_or_is_refused(
    lines: list[list[str]], numeric_codes: bool
) -> None:
    plan = parse_or_refuse(as_xlsx(lines, numeric_codes), "plan.xlsx")
    if plan is not None:
        assert_well_formed(plan)
