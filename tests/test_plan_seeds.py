"""The importer against the five real plans, with expectations read from the documents by hand."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from core.plan_model import ParsedCriterion, ParsedPlan
from tests.seed_files import PHUONG6, PHUSON, SONGCAU, TAMQUANBAC, TANDUC, parsed_seed


def criterion(
    plan: ParsedPlan, code: str, index: str | None = None, nth: int = 1
) -> ParsedCriterion:
    found = [c for c in plan.criteria if c.code == code and (index is None or c.index == index)]
    assert len(found) >= nth, f"{index} {code} not found"
    return found[nth - 1]


def d(text: str) -> date:
    day, month, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


# -- what each plan is ------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "unit", "year", "period", "counts"),
    [
        (PHUONG6, "Phường 6", 2023, (2023, 2023), {"PAR": 109}),
        (
            PHUSON,
            "Phường Phú Sơn",
            2023,
            (2023, 2025),
            {"PAR": 39, "SIPAS": 11, "PAPI": 31, "PCI": 31},
        ),
        (SONGCAU, "Phường Sông Cầu", 2023, (2023, 2023), {"CCHC": 37}),
        (TAMQUANBAC, "Phường Tam Quan Bắc", 2023, (2023, 2023), {"PAR": 69}),
        (TANDUC, "Xã Tân Đức", 2024, (2024, 2024), {"PAR": 59}),
    ],
)
def test_unit_year_period_and_counts(
    seed: str, unit: str, year: int, period: tuple[int, int], counts: dict[str, int]
) -> None:
    plan = parsed_seed(seed)
    assert (plan.unit, plan.year, plan.period) == (unit, year, period)
    assert dict(Counter(c.index for c in plan.criteria)) == counts
    # Each index keeps document order: Phú Sơn's appendices come PAR, SIPAS, PAPI, PCI.
    assert plan.indexes() == list(counts)


def test_tam_quan_bac_says_it_covers_following_years_too() -> None:
    messages = [w.message for w in parsed_seed(TAMQUANBAC).warnings]
    assert any("các năm tiếp theo" in message for message in messages)


# -- points -----------------------------------------------------------------


def test_phuong6_area_points_sum_to_100_and_targets_to_the_stated_total() -> None:
    plan = parsed_seed(PHUONG6)
    areas = [c for c in plan.criteria if c.parent is None]
    assert [c.code for c in areas] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert sum(c.max_points or 0 for c in areas) == pytest.approx(100.0)
    # The document's TỔNG ĐIỂM row states 97,90 as the target.
    assert sum(c.target_points or 0 for c in areas) == pytest.approx(97.9)
    assert not any("tổng điểm" in w.message for w in plan.warnings)


@pytest.mark.parametrize(
    ("code", "max_points", "target"),
    [
        ("1", 16.5, 16.3),
        ("1.8", 2.0, 1.8),  # "1,8" with one decimal
        ("3", 29.0, 28.5),  # "29" without decimals
        ("3.6", 10.0, 9.5),
        ("7.2.2", 0.75, 0.75),
        ("7.2.6.1", 0.5, 0.5),
        ("8.4", 1.0, 1.0),  # the last row, just above the TỔNG ĐIỂM row
    ],
)
def test_phuong6_points_with_decimal_commas(code: str, max_points: float, target: float) -> None:
    found = criterion(parsed_seed(PHUONG6), code)
    assert (found.max_points, found.target_points) == (max_points, target)


def test_children_points_add_up_to_their_parent_in_phuong6() -> None:
    plan = parsed_seed(PHUONG6)
    for parent_code in ("3.3", "7.2.6", "7.2.9"):
        children = [c for c in plan.criteria if c.parent == parent_code]
        assert sum(c.max_points or 0 for c in children) == criterion(plan, parent_code).max_points


def test_plans_without_points_have_none() -> None:
    for seed in (TANDUC, PHUSON, SONGCAU, TAMQUANBAC):
        assert all(
            c.max_points is None and c.target_points is None for c in parsed_seed(seed).criteria
        )


# -- codes, titles and structure ----------------------------------------------


def test_codes_lose_markup_and_trailing_dots_and_romans_stay_roman() -> None:
    tamquanbac = parsed_seed(TAMQUANBAC)
    assert criterion(tamquanbac, "2.1").title.startswith("Theo dõi thi hành pháp luật")
    assert criterion(tamquanbac, "8.1.2").parent == "8.1"
    tanduc = parsed_seed(TANDUC)
    assert [c.code for c in tanduc.criteria if c.parent is None] == [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
    ]
    assert criterion(tanduc, "1.1").parent == "I"
    assert criterion(tanduc, "8.1.5").parent == "8.1"
    phuong6 = parsed_seed(PHUONG6)
    assert criterion(phuong6, "1.6").title == (
        "Thực hiện các nhiệm vụ được UBND Thành phố, Chủ tịch UBND Thành phố giao"
    )


def test_titles_are_clean_text() -> None:
    for seed in (PHUONG6, PHUSON, SONGCAU, TAMQUANBAC, TANDUC):
        for found in parsed_seed(seed).criteria:
            assert found.title, f"{seed} {found.code} has no title"
            assert "<" not in found.title and "&amp;" not in found.title
            assert "\n" not in found.title
            assert found.title not in ("STT", "TT", "Lĩnh vực, tiêu chí")


def test_titles_carried_over_page_breaks_are_joined() -> None:
    phuong6 = parsed_seed(PHUONG6)
    assert criterion(phuong6, "4").title == "CẢI CÁCH TỔ CHỨC BỘ MÁY HÀNH CHÍNH"
    assert criterion(phuong6, "6").title == "CẢI CÁCH TÀI CHÍNH CÔNG"
    assert criterion(phuong6, "1.7").title.endswith("với người dân, doanh ngiệp")
    assert criterion(phuong6, "7.2.6.6").title.endswith("thuộc thẩm quyền cấp xã")
    tanduc = parsed_seed(TANDUC)
    assert criterion(tanduc, "5.2").title.endswith("của cán bộ, công chức cơ quan")
    requirement = criterion(tanduc, "2.1.2").requirement or ""
    assert requirement.endswith("theo thẩm quyền")
    tamquanbac = parsed_seed(TAMQUANBAC)
    assert criterion(tamquanbac, "7.1.2").title.endswith("ngày 18/4/2022 của UBND tỉnh")


def test_duplicate_code_is_kept_and_warned_about() -> None:
    tanduc = parsed_seed(TANDUC)
    first, second = criterion(tanduc, "4.1"), criterion(tanduc, "4.1", nth=2)
    assert first.title.startswith("Thực hiện quy định của Chính phủ")
    assert second.title.startswith("Sắp xếp tổ chức bộ máy")
    assert (first.occurrence, second.occurrence) == (1, 2)
    assert (first.parent, second.parent) == ("IV", "4.1")
    assert criterion(tanduc, "4.2").parent == "IV"
    assert any(w.code == "4.1" and "4.1" in w.message for w in tanduc.warnings)


def test_rows_without_numbers_become_items_with_made_up_codes() -> None:
    phuong6 = parsed_seed(PHUONG6)
    first, second = criterion(phuong6, "7.2.9.a"), criterion(phuong6, "7.2.9.b")
    assert first.parent == second.parent == "7.2.9"
    assert first.title.startswith("Tính kịp thời của thông tin")
    assert (first.max_points, second.max_points) == (0.5, 0.5)
    assert first.synthetic_code and second.synthetic_code
    phuson = parsed_seed(PHUSON)
    extra = criterion(phuson, "2.a", "SIPAS")
    assert extra.title == "Tiếp nhận phản ánh kiến nghị"
    assert extra.parent == "2" and extra.leads == ["VPTK"]
    for plan, code in ((phuong6, "7.2.9.a"), (phuson, "2.a")):
        assert any(w.code == code and "không có số thứ tự" in w.message for w in plan.warnings)


def test_songcau_tasks_gap_and_unnumbered_tasks() -> None:
    plan = parsed_seed(SONGCAU)
    codes = [c.code for c in plan.criteria]
    assert "10" not in codes and "11" not in codes and "27" not in codes
    assert codes[-8:] == ["VII", "26", "VII.a", "VII.b", "VII.c", "28", "29", "30"]
    assert criterion(plan, "VII.b").title.startswith("Xây dựng sáng kiến, giải pháp")
    assert criterion(plan, "VII.c").title == "Nâng cao Chỉ số CCHC năm 2023"
    assert {criterion(plan, c).parent for c in ("26", "VII.a", "VII.b", "28")} == {"VII"}
    assert criterion(plan, "3").parent == "II"
    # Task 24 continues over a page break: its title and a third activity carry on.
    task24 = criterion(plan, "24")
    assert task24.title.endswith("phát sinh trực tuyến.")
    # Three activities; the later two share the first one's merged timeframe cell.
    assert [(m.due_date, m.leads) for m in task24.milestones] == [
        (date(2023, 12, 31), ["ALL"]),
        (date(2023, 12, 31), ["VHXH"]),
        (date(2023, 12, 31), ["VHXH"]),
    ]
    assert (task24.milestones[2].label or "").startswith("Tổ chức các hoạt động tuyên truyền")
    assert task24.leads == ["ALL", "VHXH"]


def test_every_criterion_has_a_parent_that_exists_before_it() -> None:
    for seed in (PHUONG6, PHUSON, SONGCAU, TAMQUANBAC, TANDUC):
        seen: set[tuple[str, str]] = set()
        for found in parsed_seed(seed).criteria:
            if found.parent is not None:
                assert (found.index, found.parent) in seen, f"{seed} {found.code}"
            seen.add((found.index, found.code))


# -- who leads ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "index", "code", "leads", "supports"),
    [
        (PHUONG6, "PAR", "1.1", ["VPTK"], ["ALL"]),  # "- VP-TK Phường"
        # "- Nội vụ Phường - CC VP-TK" continued over a page break by "- CC TP-HT -CC VH-XH"
        (PHUONG6, "PAR", "1.2", ["NV", "VPTK", "TPHT", "VHXH"], ["ALL"]),
        # "Công chức Văn hóa" + "- xã hội Phường - CC VP-TK Phường - Truyền thanh Phường"
        (PHUONG6, "PAR", "1.4", ["VHXH", "VPTK"], ["ALL"]),
        (PHUONG6, "PAR", "1.7", ["NV", "VPTK"], ["ALL"]),  # "-CC VP -TK (Tổng hợp)"
        (PHUONG6, "PAR", "3.5", ["VPTK"], ["ALL"]),  # "CC Văn phòng – Thống kê xã"
        (PHUONG6, "PAR", "3.3.2", ["VPTK"], ["ALL"]),  # blank: shares 3.2's merged cell
        (PHUONG6, "PAR", "4.2.1", ["NV"], ["ALL"]),  # blank: shares 4.1's merged cell
        (PHUONG6, "PAR", "6.1", ["TCKT"], ["ALL"]),  # "Công chức Tài chính – Kế toán Phường"
        (PHUONG6, "PAR", "7.2.7", ["VPTK", "TCKT", "VHXH"], ["ALL"]),
        (PHUONG6, "PAR", "3.3", [], []),  # a heading keeps its own blank cell
        (TANDUC, "PAR", "1.1", ["UBND"], ["ALL"]),  # "UBND xã"
        (TANDUC, "PAR", "1.2", ["ALL"], ["VPTK"]),  # "Cán bộ, công chức thuộc UBND xã được…"
        (TANDUC, "PAR", "1.6", ["MTTQ"], []),
        (TANDUC, "PAR", "2.1.1", ["TPHT"], ["ALL"]),  # "Công chức Tư pháp"
        (TANDUC, "PAR", "3.1.2", ["ALL"], ["VPTK", "VHXH"]),
        (TANDUC, "PAR", "3.1.3", ["MOTCUA"], ["VPTK"]),  # "Bộ phận Một cửa của UBND xã"
        (TANDUC, "PAR", "7.1.1", ["VPTK", "VHXH"], ["ALL"]),  # "Công chức VP UBND; …"
        (TANDUC, "PAR", "7.3.5", ["ALL", "MOTCUA"], ["VPTK"]),  # "Bộ phận mottj cửa"
        (PHUSON, "PAR", "1.4", ["VHXH"], ["ALL"]),  # "Công chức VHXXH"
        (PHUSON, "PAR", "6.1", ["TCKT"], ["ALL"]),  # "Công chức KTNS"
        (PHUSON, "SIPAS", "1.1", ["ALL"], ["MTTQ"]),  # "Các công chức"
        (PHUSON, "PAPI", "2.4", ["DCXD"], ["ALL"]),  # "Công chức ĐCXĐ"
        (PHUSON, "PAPI", "7.3", ["DCXD"], ["ALL"]),  # "Công chức ĐCXD"
        (PHUSON, "PAPI", "6.1", ["CA"], ["ALL"]),  # "Công an phường"
        (PHUSON, "PAPI", "5.1", ["TPHT"], ["ALL", "CA"]),
        (PHUSON, "PCI", "8.1", ["VHXH"], ["ALL"]),  # "VHXXH phụ trách công tác LĐTBOXH"
        (SONGCAU, "CCHC", "1", ["TPHT"], ["ALL"]),  # "Công chức Tư pháp – Hộ tịch"
        (SONGCAU, "CCHC", "6", ["TPHT"], ["ALL"]),  # "Công chức Tư pháp-Hộ tịch"
        (SONGCAU, "CCHC", "4", ["ALL"], ["VHXH"]),  # "Các công chức chuyên môn"
        (SONGCAU, "CCHC", "9", ["MOTCUA"], ["VPTK"]),  # "Bộ phận tiếp nhận và trả kết quả"
        (SONGCAU, "CCHC", "25", ["VPTK", "VHXH"], ["ALL"]),  # "Văn phòng UBND", "Công chức VHTT"
        (SONGCAU, "CCHC", "26", ["VPTK"], ["ALL"]),  # "Công chức Văn phòng – Thông kê"
        (TAMQUANBAC, "PAR", "1.1", ["VPTK"], ["ALL"]),  # "Văn phòng- Thống kê"
        (TAMQUANBAC, "PAR", "1.4", ["VHXH"], ["ALL"]),  # "Văn hóa- Thông tin"
        (TAMQUANBAC, "PAR", "1.5", ["ALL"], ["VPTK"]),  # "Các ngành liên quan"
        (TAMQUANBAC, "PAR", "8.2.1", ["TCKT"], ["ALL"]),  # "Tài chính – Kế toán"
    ],
)
def test_leads_in_many_spellings(
    seed: str, index: str, code: str, leads: list[str], supports: list[str]
) -> None:
    found = criterion(parsed_seed(seed), code, index)
    assert (found.leads, found.supports) == (leads, supports)


def test_unmapped_and_fuzzy_leads_are_warnings_naming_row_and_code() -> None:
    phuong6 = parsed_seed(PHUONG6)
    assert criterion(phuong6, "1.4").unmapped_leads == ["Truyền thanh"]
    assert any(
        w.code == "1.4" and "Truyền thanh" in w.message and w.message.startswith("Dòng ")
        for w in phuong6.warnings
    )
    tanduc = parsed_seed(TANDUC)
    assert any(w.code == "7.3.5" and "mottj" in w.message for w in tanduc.warnings)
    assert any(w.code == "1.6" and "Người đứng đầu" in w.message for w in tanduc.warnings)


def test_every_leaf_has_an_owner_or_a_warning() -> None:
    for seed in (PHUONG6, PHUSON, SONGCAU, TAMQUANBAC, TANDUC):
        plan = parsed_seed(seed)
        parents = {(c.index, c.parent) for c in plan.criteria}
        for found in plan.criteria:
            if (found.index, found.code) not in parents:
                assert found.leads or found.unmapped_leads, f"{seed} {found.code}"


# -- deadlines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "index", "code", "text", "due", "recurrence"),
    [
        (TANDUC, "PAR", "1.1", "Chậm nhất trước ngày 31/12/2024", ["31/12/2024"], None),
        (TANDUC, "PAR", "1.4", "Theo tiến độ thời gian", [], None),
        (TANDUC, "PAR", "1.5", "Trong năm 2024", ["31/12/2024"], None),
        (TANDUC, "PAR", "3.1.1", "Thường xuyên", [], "continuous"),
        (TANDUC, "PAR", "5.3", "Trước 31/12/2024", ["31/12/2024"], None),
        (TANDUC, "PAR", "7.3.2", "Quý III năm 2024", ["30/09/2024"], None),
        (
            SONGCAU,
            "CCHC",
            "1",
            "Ban hành Kế hoạch tháng 12/2022; Triển khai thực hiện trong năm 2023",
            ["31/12/2022", "31/12/2023"],
            None,
        ),
        (
            SONGCAU,
            "CCHC",
            "2",
            "Ban hành kế hoạch trước 30/01/2023; "
            "UBND phường ban hành báo cáo UBND TP trước 05/12/2023",
            ["30/01/2023", "05/12/2023"],
            None,
        ),
        (SONGCAU, "CCHC", "3", "Thường xuyên", [], "continuous"),
        (SONGCAU, "CCHC", "4", "Trong năm 2023", ["31/12/2023"], None),
        (
            SONGCAU,
            "CCHC",
            "5",
            "Ban hành Kế hoạch rà soát (chậm nhất 15 ngày kể từ ngày UBND tỉnh ban hành "
            "kế hoạch); báo cáo kết quả thực hiện trước 31/3/2023",
            ["31/03/2023"],
            None,
        ),
        (SONGCAU, "CCHC", "8", "Quý IV/2023", ["31/12/2023"], None),
        (SONGCAU, "CCHC", "13", "Năm 2023", ["31/12/2023"], None),
        (SONGCAU, "CCHC", "26", "Quý III/2023; Thường xuyên", ["30/09/2023"], "continuous"),
        (SONGCAU, "CCHC", "VII.b", "Quý III,IV/2023", ["30/09/2023", "31/12/2023"], None),
        (
            SONGCAU,
            "CCHC",
            "VII.a",
            "Quý I/2023; Ban hành Kế hoạch tháng 01/2023; Triển khai thực hiện trong năm 2023",
            ["31/01/2023", "31/03/2023", "31/12/2023"],
            None,
        ),
        (SONGCAU, "CCHC", "29", "06 tháng/cuộc", ["30/06/2023", "31/12/2023"], "semiannual"),
        (
            SONGCAU,
            "CCHC",
            "30",
            "Quý II-IV/2023",
            ["30/06/2023", "30/09/2023", "31/12/2023"],
            None,
        ),
        (
            PHUSON,
            "PAR",
            "1.1",
            "Theo Kế hoạch cải cách hành chính hàng năm của phường",
            [],
            None,
        ),
        (PHUSON, "PAR", "1.4", "Thường xuyên", [], "continuous"),
        (
            PHUSON,
            "PAR",
            "8.1",
            "Quý IV hàng năm",
            ["31/12/2023", "31/12/2024", "31/12/2025"],
            "annual",
        ),
    ],
)
def test_deadline_phrases(
    seed: str, index: str, code: str, text: str, due: list[str], recurrence: str | None
) -> None:
    found = criterion(parsed_seed(seed), code, index)
    assert found.deadline_text == text
    assert found.due_dates == [d(day) for day in due]
    assert found.recurrence == recurrence


def test_relative_deadline_is_a_warning() -> None:
    plan = parsed_seed(SONGCAU)
    assert any(w.code == "5" and "kể từ" in w.message for w in plan.warnings)


@pytest.mark.parametrize(("seed", "year"), [(PHUONG6, 2023), (TAMQUANBAC, 2023)])
def test_plan_without_deadline_column_is_due_at_year_end(seed: str, year: int) -> None:
    plan = parsed_seed(seed)
    for found in plan.criteria:
        assert found.deadline_text is None
        assert found.due_dates == [date(year, 12, 31)]
        assert found.recurrence is None


def test_songcau_activities_become_milestones_with_their_own_owners() -> None:
    task2 = criterion(parsed_seed(SONGCAU), "2")
    assert [(m.due_date, m.leads) for m in task2.milestones] == [
        (date(2023, 1, 30), ["TPHT"]),
        (date(2023, 12, 5), ["TPHT"]),
    ]
    assert task2.milestones[1].label is not None
    assert task2.milestones[1].label.startswith("Xây dựng dự thảo báo cáo kết quả")
    task22 = criterion(parsed_seed(SONGCAU), "22")
    # The second activity shares the first's merged timeframe, but has its own lead.
    assert [m.leads for m in task22.milestones] == [["ALL"], ["VHXH"]]
