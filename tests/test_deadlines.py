"""Deadline phrases from real plans (tests/../seeds) and the rules in domain.md."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.deadlines import DeadlineResult, month_end, parse_deadline, quarter_end
from core.text import clean_cell

D = date


def every_month_end(first: int, last: int) -> tuple[date, ...]:
    return tuple(month_end(y, m) for y in range(first, last + 1) for m in range(1, 13))


class Case(NamedTuple):
    text: str
    year: int | None
    period: tuple[int, int] | None
    kind: str
    recurrence: str | None
    dates: tuple[date, ...]
    warns: bool = False


Y24, Y23 = 2024, 2023
QUARTERS_2023 = (D(2023, 3, 31), D(2023, 6, 30), D(2023, 9, 30), D(2023, 12, 31))

CASES = [
    # empty
    Case("", Y24, None, "empty", None, ()),
    Case("   \n\t ", Y24, None, "empty", None, ()),
    # one day
    Case("31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("trước 31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("trước ngày 31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("chậm nhất trước ngày 31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("Chậm nhất trước ngày 31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("Trước 31/12/2024", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("ngày 15 tháng 12 năm 2023", Y23, None, "dated", None, (D(2023, 12, 15),)),
    Case("1/3/2023", Y23, None, "dated", None, (D(2023, 3, 1),)),
    Case("01-03-2023", Y23, None, "dated", None, (D(2023, 3, 1),)),
    Case("01.03.2023", Y23, None, "dated", None, (D(2023, 3, 1),)),
    Case("Ban hành kế hoạch trước 30/01/2023", Y23, None, "dated", None, (D(2023, 1, 30),)),
    Case(
        "UBND phường ban hành báo cáo UBND TP trước 05/12/2023",
        Y23,
        None,
        "dated",
        None,
        (D(2023, 12, 5),),
    ),
    # outside the period: kept as written
    Case("Trước 15/12/2022", Y23, (2023, 2025), "dated", None, (D(2022, 12, 15),)),
    # no year: the plan's year, or not understood
    Case("Trước ngày 15/12", Y24, None, "dated", None, (D(2024, 12, 15),)),
    Case("Trước ngày 15/12", None, None, "not_understood", None, (), True),
    Case("31/02/2024", Y24, None, "not_understood", None, (), True),
    # whole year
    Case("Trong năm 2024", None, None, "dated", None, (D(2024, 12, 31),)),
    Case("Năm 2024", None, None, "dated", None, (D(2024, 12, 31),)),
    Case("trong năm", Y24, None, "dated", None, (D(2024, 12, 31),)),
    Case("Trong năm 2023", Y23, None, "dated", None, (D(2023, 12, 31),)),
    Case("Năm 2023", Y23, None, "dated", None, (D(2023, 12, 31),)),
    # quarters
    Case("Quý III năm 2024", Y24, None, "dated", None, (D(2024, 9, 30),)),
    Case("Quý III/2024", Y24, None, "dated", None, (D(2024, 9, 30),)),
    Case("Quý 3/2024", Y24, None, "dated", None, (D(2024, 9, 30),)),
    Case("quý IV năm 2023", Y23, None, "dated", None, (D(2023, 12, 31),)),
    Case("Quý IV/2023", Y23, None, "dated", None, (D(2023, 12, 31),)),
    Case("Quý III/2023", Y23, None, "dated", None, (D(2023, 9, 30),)),
    Case("Quý I/2023", Y23, None, "dated", None, (D(2023, 3, 31),)),
    Case("Quý II", Y23, None, "dated", None, (D(2023, 6, 30),)),
    Case("Quý III,IV/2023", Y23, None, "dated", None, (D(2023, 9, 30), D(2023, 12, 31))),
    Case("Quý II-IV/2023", Y23, None, "dated", None, QUARTERS_2023[1:]),
    Case("Quý II–IV/2023", Y23, None, "dated", None, QUARTERS_2023[1:]),  # en dash
    # months
    Case("tháng 12/2022", Y23, None, "dated", None, (D(2022, 12, 31),)),
    Case("tháng 01/2023", Y23, None, "dated", None, (D(2023, 1, 31),)),
    Case("tháng 12 năm 2022", Y23, None, "dated", None, (D(2022, 12, 31),)),
    Case("tháng 2/2024", Y24, None, "dated", None, (D(2024, 2, 29),)),
    # ongoing
    Case("Thường xuyên", Y24, None, "continuous", "continuous", ()),
    Case("Thường xuyên", None, None, "continuous", "continuous", ()),
    Case("liên tục", Y23, None, "continuous", "continuous", ()),
    Case("thường xuyên, liên tục", Y23, None, "continuous", "continuous", ()),
    # recurring
    Case("Hằng tháng", Y23, None, "recurring", "monthly", every_month_end(2023, 2023)),
    Case("Hàng tháng", Y23, None, "recurring", "monthly", every_month_end(2023, 2023)),
    Case("mỗi tháng", Y23, None, "recurring", "monthly", every_month_end(2023, 2023)),
    Case("định kỳ hàng tháng", Y23, None, "recurring", "monthly", every_month_end(2023, 2023)),
    Case("Hằng tháng", Y23, (2023, 2025), "recurring", "monthly", every_month_end(2023, 2025)),
    Case("Hằng tháng", None, None, "recurring", "monthly", (), True),
    Case("Hằng quý", Y23, None, "recurring", "quarterly", QUARTERS_2023),
    Case("Hàng quý", Y23, None, "recurring", "quarterly", QUARTERS_2023),
    Case("06 tháng/cuộc", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))),
    Case("6 tháng/lần", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))),
    Case(
        "06 tháng một lần", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))
    ),
    Case("6 tháng 1 lần", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))),
    Case(
        "định kỳ 6 tháng", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))
    ),
    Case("sáu tháng", Y23, None, "recurring", "semiannual", (D(2023, 6, 30), D(2023, 12, 31))),
    Case(
        "06 tháng/cuộc",
        Y23,
        (2023, 2024),
        "recurring",
        "semiannual",
        (D(2023, 6, 30), D(2023, 12, 31), D(2024, 6, 30), D(2024, 12, 31)),
    ),
    Case("Hằng năm", Y23, None, "recurring", "annual", (D(2023, 12, 31),)),
    Case("Hàng năm", Y23, (2023, 2024), "recurring", "annual", (D(2023, 12, 31), D(2024, 12, 31))),
    Case("mỗi năm", Y23, None, "recurring", "annual", (D(2023, 12, 31),)),
    Case(
        "Quý IV hàng năm",
        Y23,
        (2023, 2025),
        "recurring",
        "annual",
        (D(2023, 12, 31), D(2024, 12, 31), D(2025, 12, 31)),
    ),
    Case(
        "trước ngày 15/12 hằng năm",
        Y23,
        (2023, 2025),
        "recurring",
        "annual",
        (D(2023, 12, 15), D(2024, 12, 15), D(2025, 12, 15)),
    ),
    # no date at all
    Case("Theo tiến độ thời gian", Y24, None, "unscheduled", None, ()),
    Case(
        "Theo Kế hoạch cải cách hành chính hàng năm của phường",
        Y23,
        (2023, 2025),
        "unscheduled",
        None,
        (),
    ),
    Case("theo Kế hoạch", Y23, None, "unscheduled", None, ()),
    Case("theo yêu cầu", Y23, None, "unscheduled", None, ()),
    Case("khi có yêu cầu", Y23, None, "unscheduled", None, ()),
    Case("theo chỉ đạo", Y23, None, "unscheduled", None, ()),
    Case("theo quy định", Y23, None, "unscheduled", None, ()),
    Case(
        "chậm nhất 15 ngày kể từ ngày UBND tỉnh ban hành kế hoạch",
        Y23,
        None,
        "unscheduled",
        None,
        (),
        True,
    ),
    # several parts
    Case(
        "Ban hành Kế hoạch tháng 12/2022; Triển khai thực hiện trong năm 2023",
        Y23,
        None,
        "dated",
        None,
        (D(2022, 12, 31), D(2023, 12, 31)),
    ),
    Case(
        "Ban hành Kế hoạch tháng 01/2023; Triển khai thực hiện trong năm 2023",
        Y23,
        None,
        "dated",
        None,
        (D(2023, 1, 31), D(2023, 12, 31)),
    ),
    Case(
        "Ban hành Kế hoạch rà soát (<i>chậm nhất 15 ngày kể từ ngày UBND tỉnh ban hành kế hoạch"
        "</i>); báo cáo kết quả thực hiện trước 31/3/2023",
        Y23,
        None,
        "dated",
        None,
        (D(2023, 3, 31),),
        True,
    ),
    Case(
        "Thường xuyên; báo cáo trước 15/12",
        Y23,
        None,
        "continuous",
        "continuous",
        (D(2023, 12, 15),),
    ),
    Case(
        "Trong năm 2023\nHằng quý báo cáo",
        Y23,
        None,
        "recurring",
        "quarterly",
        QUARTERS_2023,
    ),
    Case(
        "Ban hành trước 31/12/2023; Triển khai", Y23, None, "dated", None, (D(2023, 12, 31),), True
    ),
    # garbage
    Case("99/99/99999", Y23, None, "not_understood", None, (), True),
    Case("không rõ", Y23, None, "not_understood", None, (), True),
    Case("-", Y23, None, "not_understood", None, (), True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.text[:40]!r}-{c.year}-{c.period}" for c in CASES])
def test_phrase(case: Case) -> None:
    result = parse_deadline(case.text, year=case.year, period=case.period)
    assert result.kind == case.kind
    assert result.recurrence == case.recurrence
    assert result.due_dates == case.dates
    assert bool(result.warnings) == case.warns, result.warnings
    assert result.understood == (case.kind != "not_understood")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.text[:40]!r}-{c.year}-{c.period}" for c in CASES])
def test_nfd_input_reads_like_nfc(case: Case) -> None:
    nfd = unicodedata.normalize("NFD", case.text)
    assert parse_deadline(nfd, year=case.year, period=case.period) == parse_deadline(
        case.text, year=case.year, period=case.period
    )


def test_nfd_input_is_really_decomposed() -> None:
    # Guards the NFD test above: it must feed text that differs from the NFC one.
    assert unicodedata.normalize("NFD", "Quý IV hàng năm") != "Quý IV hàng năm"


@pytest.mark.parametrize(
    "variant", ["QUÝ III/2024", "quy iii/2024", "Quý  III / 2024", "<b>Quý III/2024</b>"]
)
def test_case_diacritics_spacing_and_markup_do_not_matter(variant: str) -> None:
    result = parse_deadline(variant, year=2024)
    assert (result.kind, result.due_dates) == ("dated", (D(2024, 9, 30),))


def test_relative_event_warning_says_why() -> None:
    result = parse_deadline("chậm nhất 15 ngày kể từ ngày UBND tỉnh ban hành kế hoạch", year=2023)
    assert len(result.warnings) == 1
    assert "sự kiện chưa có ngày" in result.warnings[0]


def test_part_not_understood_is_named_in_a_warning() -> None:
    result = parse_deadline("Trước 31/12/2023; làm gì đó", year=2023)
    assert result.due_dates == (D(2023, 12, 31),)
    assert any("làm gì đó" in w for w in result.warnings)


def test_invalid_part_next_to_valid_one_keeps_the_valid_date() -> None:
    result = parse_deadline("31/02/2024; trước 31/12/2024", year=2024)
    assert result.kind == "dated"
    assert result.due_dates == (D(2024, 12, 31),)
    assert any("31/02/2024" in w for w in result.warnings)


def test_not_understood_quotes_the_text_truncated() -> None:
    text = "xyz " * 60
    result = parse_deadline(text, year=2023)
    assert result.kind == "not_understood"
    quote = result.warnings[0]
    assert "xyz xyz" in quote
    assert len(quote) < 140


def test_plan_year_changes_yearless_dates() -> None:
    # The cache must key on the year as well as on the text.
    assert parse_deadline("Quý IV", year=2023).due_dates == (D(2023, 12, 31),)
    assert parse_deadline("Quý IV", year=2025).due_dates == (D(2025, 12, 31),)


def test_period_without_year_uses_first_year_for_yearless_dates() -> None:
    assert parse_deadline("Trước 15/12", year=None, period=(2023, 2025)).due_dates == (
        D(2023, 12, 15),
    )


def test_reversed_period_is_read_in_order() -> None:
    forward = parse_deadline("Hằng năm", year=2023, period=(2023, 2025))
    backward = parse_deadline("Hằng năm", year=2023, period=(2025, 2023))
    assert forward == backward
    assert len(forward.due_dates) == 3


def test_day_in_every_month() -> None:
    result = parse_deadline("trước ngày 05 hằng tháng", year=2023)
    assert result.recurrence == "monthly"
    assert result.due_dates == tuple(D(2023, m, 5) for m in range(1, 13))


def test_frequency_is_not_read_as_a_date() -> None:
    # "6 tháng 1 lần" is "once every six months", not 6 January.
    assert D(2023, 1, 6) not in parse_deadline("6 tháng 1 lần", year=2023).due_dates


def test_month_and_quarter_ends() -> None:
    assert month_end(2024, 2) == D(2024, 2, 29)
    assert month_end(2023, 2) == D(2023, 2, 28)
    assert month_end(2023, 4) == D(2023, 4, 30)
    assert month_end(2023, 12) == D(2023, 12, 31)
    assert [quarter_end(2023, q) for q in range(1, 5)] == list(QUARTERS_2023)
    with pytest.raises(ValueError):
        month_end(2023, 13)
    with pytest.raises(ValueError):
        quarter_end(2023, 0)


@pytest.mark.parametrize(
    "text",
    [
        "99/99/99999",
        "\x00\x01\x1f31/12\x7f",
        "<i>",
        "<<<>>>",
        "&#x0;",
        "quý " * 500,
        "ngày 0 tháng 0",
    ],
)
def test_hostile_input_does_not_raise(text: str) -> None:
    assert isinstance(parse_deadline(text, year=2023), DeadlineResult)


# --- properties ------------------------------------------------------------------

FRAGMENTS = [
    "Quý", "quý", "III", "IV", "II", "I", "năm", "Năm", "tháng", "ngày", "Trong", "trước",
    "Chậm nhất", "hằng", "hàng", "mỗi", "Thường xuyên", "liên tục", "Theo", "Kế hoạch",
    "tiến độ", "kể từ", "sau khi", "định kỳ", "06", "6", "sáu", "lần", "cuộc", "một",
    "<i>", "</i>", "<br>", "&amp;", "\u0301", "đ", "Đ", "–",
]  # fmt: skip
SEPARATORS = ["", " ", "/", "-", ".", ",", ";", "\n", " / ", "\t", "\x00"]

fragment_text = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.sampled_from(SEPARATORS),
        st.integers(min_value=0, max_value=99999).map(str),
        st.integers(min_value=0, max_value=31).map(lambda n: f"{n:02d}"),
    ),
    max_size=14,
).map("".join)
years = st.none() | st.integers(min_value=1990, max_value=2100)
periods = st.none() | st.tuples(
    st.integers(min_value=1990, max_value=2100), st.integers(min_value=1990, max_value=2100)
).filter(lambda p: abs(p[0] - p[1]) <= 10)

NO_DATE_KINDS = {"unscheduled", "recurring", "continuous", "empty"}


def check_invariants(text: str, result: DeadlineResult) -> None:
    assert isinstance(result, DeadlineResult)
    assert list(result.due_dates) == sorted(set(result.due_dates))
    assert all(type(d) is date for d in result.due_dates)
    assert all(isinstance(w, str) and w for w in result.warnings)
    if result.kind == "not_understood":
        assert result.warnings and not result.due_dates and result.recurrence is None
    if not result.due_dates and result.kind not in NO_DATE_KINDS:
        assert result.kind == "not_understood"
    assert (result.kind == "continuous") == (result.recurrence == "continuous")
    assert (result.kind == "recurring") == (
        result.recurrence in {"monthly", "quarterly", "semiannual", "annual"}
    )
    if result.kind == "dated":
        assert result.due_dates and result.recurrence is None
    if result.kind == "unscheduled":
        assert not result.due_dates and result.recurrence is None
    assert (result.kind == "empty") == (clean_cell(text) == "")
    if result.kind == "empty":
        assert not result.warnings
    assert result.understood == (result.kind != "not_understood")


@given(text=st.text(), year=years, period=periods)
@settings(max_examples=300)
def test_any_text_gives_a_consistent_result(
    text: str, year: int | None, period: tuple[int, int] | None
) -> None:
    check_invariants(text, parse_deadline(text, year=year, period=period))


@given(text=fragment_text, year=years, period=periods)
@settings(max_examples=500)
def test_phrase_like_text_gives_a_consistent_result(
    text: str, year: int | None, period: tuple[int, int] | None
) -> None:
    check_invariants(text, parse_deadline(text, year=year, period=period))


@given(text=fragment_text, year=years)
@settings(max_examples=200)
def test_nfd_never_changes_the_result(text: str, year: int | None) -> None:
    assert parse_deadline(unicodedata.normalize("NFD", text), year=year) == parse_deadline(
        unicodedata.normalize("NFC", text), year=year
    )
