"""Checks every parsed plan gets: area totals against their leaves, warnings in line order."""

from __future__ import annotations

import pytest

from core.plans import parse_plan_file
from tests.seed_files import ALL_SEEDS, PHUONG6, parsed_seed


def test_area_totals_that_disagree_with_their_leaves_are_named_once() -> None:
    warnings = [w for w in parsed_seed(PHUONG6).warnings if "lĩnh vực" in w.message]
    # The document: area 5 targets 13,2 and area 6 targets 6,8, but their leaves add up
    # to 14 and 7; that is the whole gap between 97,9 (areas) and 98,9 (leaves).
    assert [(w.code, w.message) for w in warnings] == [
        (
            "5",
            "Dòng 92, lĩnh vực PAR 5: điểm phấn đấu ghi 13,2, các mục con cộng lại 14. "
            "Tổng hợp tính theo các mục con.",
        ),
        (
            "6",
            "Dòng 121, lĩnh vực PAR 6: điểm phấn đấu ghi 6,8, các mục con cộng lại 7. "
            "Tổng hợp tính theo các mục con.",
        ),
    ]


@pytest.mark.parametrize("seed", ALL_SEEDS)
def test_warnings_come_in_the_order_of_the_document(seed: str) -> None:
    lines = [w.line_no for w in parsed_seed(seed).warnings]
    numbered = [line for line in lines if line is not None]
    assert numbered == sorted(numbered)
    assert lines == numbered + [None] * (len(lines) - len(numbered))  # file-wide ones last


YAML = """\
dondoc_plan: 1
unit: Xã Thử
year: 2024
criteria:
  - {index: PAR, code: "1", title: Chỉ đạo, max_points: 3, target_points: 2.5}
  - {index: PAR, code: "1.1", title: Kế hoạch, max_points: 1, target_points: 1,
     lead: Truyền thanh xã}
  - {index: PAR, code: "1.2", title: Báo cáo, max_points: 2, target_points: 1}
  - {index: PAR, code: "1.2", title: Báo cáo lần hai, lead: VPTK}
"""


def test_yaml_warnings_name_the_code_not_the_list_position() -> None:
    plan = parse_plan_file(YAML.encode(), filename="thu.yaml")
    assert [(w.code, w.message) for w in plan.warnings] == [
        (
            "1",
            "Lĩnh vực PAR 1: điểm phấn đấu ghi 2,5, các mục con cộng lại 2. "
            "Tổng hợp tính theo các mục con.",
        ),
        ("1.1", "Mục PAR 1.1: không nhận ra đơn vị chủ trì «Truyền thanh xã»; cần ánh xạ."),
        ("1.2", "Mục PAR 1.2: mã lặp lại (mục thứ 4); giữ cả hai mục."),
    ]
