"""Turn the free-text deadline of a plan row into due dates.

Plans write deadlines as Vietnamese phrases ("Chậm nhất trước ngày 31/12/2024",
"Quý III,IV/2023", "06 tháng/cuộc", "Thường xuyên", "Theo tiến độ thời gian").
:func:`parse_deadline` reads one such cell and says what kind of deadline it
is, which concrete dates it stands for within the plan's period, and — in
Vietnamese, for the admin — what it could not read. The original text is kept
by the caller; nothing here rewrites it.

This runs once per table row inside the plan parser, so it must be fast and
must never raise: all patterns are compiled once, every date is built through
a guarded constructor, and identical cells (a plan repeats "Thường xuyên"
dozens of times) are answered from a small cache.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

from core.plan_model import Recurrence
from core.text import clean_cell, one_line

DeadlineKind = Literal["dated", "recurring", "continuous", "unscheduled", "empty", "not_understood"]

__all__ = ["DeadlineKind", "DeadlineResult", "month_end", "parse_deadline", "quarter_end"]


@dataclass(frozen=True)
class DeadlineResult:
    kind: DeadlineKind
    due_dates: tuple[date, ...]  # sorted, unique
    recurrence: Recurrence | None
    warnings: tuple[str, ...]  # Vietnamese, for the admin; never empty when not understood

    @property
    def understood(self) -> bool:
        return self.kind != "not_understood"


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_end(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range: {month}")
    if month == 2 and calendar.isleap(year):
        return date(year, 2, 29)
    return date(year, month, _DAYS_IN_MONTH[month - 1])


def quarter_end(year: int, quarter: int) -> date:
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter out of range: {quarter}")
    return month_end(year, 3 * quarter)


# --- folding -----------------------------------------------------------------
# core.text.fold() drops punctuation, but here "/", "-", "," and ";" carry
# meaning ("Quý II-IV" is a range, "Quý III,IV" a list, "31/12/2024" a date).
# So we fold letters only, the way strip_diacritics does, but with C-level
# passes (NFD + one regex) instead of a Python loop per character.

_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_DASHES = re.compile("[\u2010-\u2015\u2212]")
_PART_SPLIT = re.compile(r"[;\n]")
_HAS_ALNUM = re.compile(r"[^\W_]")


def _fold_part(text: str) -> str:
    folded = text.lower()
    if not folded.isascii():
        folded = _MARKS.sub("", unicodedata.normalize("NFD", folded)).replace("đ", "d")
        folded = _DASHES.sub("-", folded)
    return " ".join(folded.split())


# --- patterns (all on folded text) ---------------------------------------------

# Relative to an event that has no date ("15 ngày kể từ ngày UBND tỉnh ban hành").
_RELATIVE = re.compile(r"\b(?:ke tu|tinh tu|sau khi)\b", re.ASCII)

# No date at all: the admin sets one. Checked before recurrences because
# "Theo Kế hoạch CCHC hàng năm" contains "hàng năm" but is not annual.
_UNSCHEDULED = re.compile(
    r"\b(?:theo (?:tien do|ke hoach|yeu cau|chi dao|quy dinh|huong dan)|khi co yeu cau)\b",
    re.ASCII,
)

_SIX = r"(?<![\d/.,-])(?:0?6|sau) thang"
_EVERY = r"\b(?:hang|moi|tung)"
_RECURRENCE = re.compile(
    r"(?=[lt06shm])"  # cheap first-letter filter; the engine would try every branch per position
    r"(?:(?P<continuous>\b(?:thuong xuyen|lien tuc)\b)"
    # "6 tháng/lần", "06 tháng một lần", "6 tháng 1 lần", "06 tháng/cuộc"
    rf"|(?P<semiannual>{_SIX} ?(?:/|1|mot|moi) ?(?:lan|cuoc|ky|dot)\b"
    # bare "định kỳ 6 tháng", "sáu tháng" — but not "06 tháng 12" (a date)
    rf"|{_SIX}\b(?! ?[/.-]? ?\d))"
    rf"|(?P<monthly>{_EVERY} thang\b)"
    rf"|(?P<quarterly>{_EVERY} quy\b)"
    rf"|(?P<annual>{_EVERY} nam\b))",
    re.ASCII,
)

_RECURRENCE_OF: dict[str | None, Recurrence] = {
    "continuous": "continuous",
    "semiannual": "semiannual",
    "monthly": "monthly",
    "quarterly": "quarterly",
    "annual": "annual",
}
_OCCURRENCE_MONTHS: dict[Recurrence, tuple[int, ...]] = {
    "monthly": tuple(range(1, 13)),
    "quarterly": (3, 6, 9, 12),
    "semiannual": (6, 12),
    "annual": (12,),
}

_Q = r"(?:iv|i{1,3}|[1-4])\b"
_YEAR = r"(?P<{name}>\d{{4}})(?!\d)"
_TIMES = r"(?:lan|dot|ky|cuoc)\b"  # "6 tháng 1 lần" is a frequency, not 6 January
_TOKEN = re.compile(
    r"(?=[0-9nqtc])(?:"  # cheap first-letter filter, as above
    # "ngày 05 hằng tháng": a day in every month
    r"(?P<dom>\bngay (?P<dom_d>\d{1,2}) (?:cua )?(?:hang|moi|tung) thang\b)"
    # "ngày 15 tháng 12 năm 2023", "15 tháng 12"
    r"|(?P<vn>(?:\bngay )?(?<![\d/.,-])(?P<vn_d>\d{1,2}) thang (?P<vn_m>\d{1,2})(?!\d)"
    rf"(?! {_TIMES})(?:(?: nam | ?[/-] ?){_YEAR.format(name='vn_y')})?)"
    # "31/12/2024", "1-3-2023", "31.12.2024"
    r"|(?P<dmy>(?<![\d/.-])(?P<dmy_d>\d{1,2})(?P<sep>[/.-])(?P<dmy_m>\d{1,2})(?P=sep)"
    rf"{_YEAR.format(name='dmy_y')})"
    # "15/12" (only with a slash: "1.1" and "2-3" are item numbers)
    r"|(?P<dm>(?<![\d/.-])(?P<dm_d>\d{1,2})/(?P<dm_m>\d{1,2})(?!\d|[/.-]\d))"
    # "Quý III năm 2024", "Quý 3/2024", "Quý III,IV/2023", "Quý II-IV/2023", "Quý IV"
    rf"|(?P<q>\bquy (?P<q_list>{_Q}(?: ?(?:,|-|&|va|den|toi) ?(?:quy )?{_Q})*)"
    rf"(?:(?: nam | ?[/-] ?| ){_YEAR.format(name='q_y')})?)"
    # "tháng 12/2022", "tháng 12 năm 2022", "tháng 6"
    r"|(?P<mon>(?<!\d )\bthang (?P<mon_m>\d{1,2})(?!\d)"
    rf"(?! {_TIMES})(?:(?: nam | ?[/.-] ?){_YEAR.format(name='mon_y')})?)"
    # "Năm 2024", "trong năm 2024"
    rf"|(?P<yr>\bnam {_YEAR.format(name='yr_y')})"
    # "trong năm", "cuối năm" (the plan's year)
    r"|(?P<ye>\b(?:trong|cuoi) nam\b(?! ?\d)))",
    re.ASCII,
)
_Q_ITEM = re.compile(rf"(?:(?P<sep>,|-|&|va|den|toi) ?)?(?:quy )?(?P<q>{_Q})", re.ASCII)
_ROMAN_QUARTER = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_DAY_TOKENS = frozenset({"vn", "dmy", "dm"})

# Explicit years outside this window are typos ("31/12/2204"), not plans.
_MIN_YEAR, _MAX_YEAR = 1900, 2100
_QUOTE_LEN = 80


# --- per-part evaluation -------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    plan_year: int | None
    period: tuple[int, int] | None


@dataclass
class _Part:
    dates: list[date] = field(default_factory=list)
    recurrence: Recurrence | None = None
    unscheduled: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        return bool(self.dates) or self.recurrence is not None or self.unscheduled


@dataclass
class _Found:
    """What the date tokens of one part say, before recurrence is applied."""

    dates: list[date] = field(default_factory=list)
    anchors: list[tuple[int, int | None]] = field(default_factory=list)  # (month, day or end)
    month_days: list[int] = field(default_factory=list)  # "ngày 05 hằng tháng"
    warnings: list[str] = field(default_factory=list)


def _quote(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= _QUOTE_LEN else text[: _QUOTE_LEN - 1] + "…"


def _day_ok(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else _DAYS_IN_MONTH[month - 1])


def _add_day(found: _Found, day: int, month: int, year: str | None) -> None:
    if year is None:
        if _day_ok(month, day):
            found.anchors.append((month, day))
        else:
            found.warnings.append(f"Ngày không hợp lệ: {day:02d}/{month:02d}.")
        return
    y = int(year)
    try:
        if not _MIN_YEAR <= y <= _MAX_YEAR:
            raise ValueError
        found.dates.append(date(y, month, day))
    except ValueError:
        found.warnings.append(f"Ngày không hợp lệ: {day:02d}/{month:02d}/{year}.")


def _add_month_end(found: _Found, month: int, year: str | None) -> None:
    if not 1 <= month <= 12:
        found.warnings.append(f"Tháng không hợp lệ: {month}.")
    elif year is None:
        found.anchors.append((month, None))
    elif _MIN_YEAR <= int(year) <= _MAX_YEAR:
        found.dates.append(month_end(int(year), month))
    else:
        found.warnings.append(f"Năm không hợp lệ: {year}.")


def _quarters(listing: str) -> list[int]:
    quarters: list[int] = []
    for item in _Q_ITEM.finditer(listing):
        q = _ROMAN_QUARTER[item["q"]]
        if item["sep"] in ("-", "den", "toi") and quarters:
            low, high = sorted((quarters[-1], q))
            quarters.extend(range(low + 1, high + 1))
        else:
            quarters.append(q)
    return quarters


def _find_dates(folded: str, *, day_precision_only: bool) -> _Found:
    found = _Found()
    for m in _TOKEN.finditer(folded):
        kind = m.lastgroup  # the outer group of each alternative closes last
        if day_precision_only and kind not in _DAY_TOKENS:
            continue
        if kind == "dom":
            day = int(m["dom_d"])
            if 1 <= day <= 31:
                found.month_days.append(day)
            else:
                found.warnings.append(f"Ngày không hợp lệ: {day}.")
        elif kind == "dm":
            _add_day(found, int(m["dm_d"]), int(m["dm_m"]), None)
        elif kind in _DAY_TOKENS:
            _add_day(found, int(m[f"{kind}_d"]), int(m[f"{kind}_m"]), m[f"{kind}_y"])
        elif kind == "q":
            for q in _quarters(m["q_list"]):
                _add_month_end(found, 3 * q, m["q_y"])
        elif kind == "mon":
            _add_month_end(found, int(m["mon_m"]), m["mon_y"])
        elif kind == "yr":
            _add_month_end(found, 12, m["yr_y"])
        else:
            found.anchors.append((12, None))
    return found


def _on_day(year: int, month: int, day: int | None) -> date:
    end = month_end(year, month)
    return end if day is None or day >= end.day else end.replace(day=day)


@lru_cache(maxsize=256)
def _occurrences(recurrence: Recurrence, first: int, last: int) -> tuple[date, ...]:
    months = _OCCURRENCE_MONTHS.get(recurrence, ())
    return tuple(month_end(y, m) for y in range(first, last + 1) for m in months)


def _apply_recurrence(part: _Part, found: _Found, recurrence: Recurrence, ctx: _Context) -> None:
    part.recurrence = recurrence
    if recurrence == "continuous":
        _apply_plan_year(part, found, ctx)
        return
    if ctx.period is None:
        part.warnings.append("Kế hoạch chưa có năm nên chưa tính được các mốc định kỳ.")
        return
    first, last = ctx.period
    years = range(first, last + 1)
    # An anchor without a year ("Quý IV hàng năm", "trước ngày 15/12 hằng năm")
    # says *when* in each year; without one, the recurrence's own ends apply.
    if found.anchors or found.month_days:
        part.dates.extend(_on_day(y, m, d) for y in years for m, d in found.anchors)
        part.dates.extend(
            _on_day(y, m, d) for y in years for m in range(1, 13) for d in found.month_days
        )
    else:
        part.dates.extend(_occurrences(recurrence, first, last))


def _apply_plan_year(part: _Part, found: _Found, ctx: _Context) -> None:
    if not (found.anchors or found.month_days):
        return
    if ctx.plan_year is None:
        part.warnings.append("Thời hạn không ghi năm và kế hoạch chưa có năm.")
        return
    year = ctx.plan_year
    part.dates.extend(_on_day(year, m, d) for m, d in found.anchors)
    part.dates.extend(_on_day(year, m, d) for m in range(1, 13) for d in found.month_days)


def _parse_part(raw: str, ctx: _Context) -> _Part:
    folded = _fold_part(raw)
    part = _Part()
    if _RELATIVE.search(folded):
        part.unscheduled = True
        part.warnings.append(
            f"Thời hạn tính từ một sự kiện chưa có ngày («{_quote(raw)}»); cần đặt ngày thủ công."
        )
        return part
    unscheduled = _UNSCHEDULED.search(folded) is not None
    # In "Theo Kế hoạch CCHC năm 2024" the year names the plan; only a full
    # day ("theo quy định, trước 15/12/2024") is taken as a deadline there.
    found = _find_dates(folded, day_precision_only=unscheduled)
    part.dates.extend(found.dates)
    part.warnings.extend(found.warnings)
    rec = None if unscheduled else _RECURRENCE.search(folded)
    if rec is not None:
        _apply_recurrence(part, found, _RECURRENCE_OF[rec.lastgroup], ctx)
    else:
        _apply_plan_year(part, found, ctx)
    part.unscheduled = unscheduled
    return part


# --- public entry point ---------------------------------------------------------


def _valid_year(year: object) -> int | None:
    # Callers pass ints, but a bad one must not make date() raise deep inside.
    if isinstance(year, int) and not isinstance(year, bool) and 1 <= year <= 9999:
        return year
    return None


def _context(year: int | None, period: tuple[int, int] | None) -> _Context:
    plan_year = _valid_year(year)
    span: tuple[int, int] | None = None
    if isinstance(period, tuple) and len(period) == 2:
        first, last = _valid_year(period[0]), _valid_year(period[1])
        if first is not None and last is not None:
            span = (first, last) if first <= last else (last, first)
    if span is None and plan_year is not None:
        span = (plan_year, plan_year)
    if plan_year is None and span is not None:
        plan_year = span[0]
    return _Context(plan_year, span)


def parse_deadline(
    text: str, *, year: int | None, period: tuple[int, int] | None = None
) -> DeadlineResult:
    """Read one deadline cell. ``year`` is the plan's year, ``period`` its (first, last) years."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _parse_cached(text, _context(year, period))


@lru_cache(maxsize=4096)
def _parse_cached(text: str, ctx: _Context) -> DeadlineResult:
    cleaned = clean_cell(text)
    if not cleaned:
        return DeadlineResult("empty", (), None, ())
    raws = [raw for raw in _PART_SPLIT.split(cleaned) if _HAS_ALNUM.search(raw)]
    parts = [_parse_part(raw, ctx) for raw in raws]
    dates = tuple(sorted({d for part in parts for d in part.dates}))
    recurrence = next((p.recurrence for p in parts if p.recurrence), None)
    warnings = [w for part in parts for w in part.warnings]
    if not any(part.understood for part in parts):
        quote = f"Không hiểu thời hạn «{_quote(cleaned)}»; cần đặt hạn thủ công."
        return DeadlineResult("not_understood", (), None, tuple(dict.fromkeys([quote, *warnings])))
    for raw, part in zip(raws, parts, strict=True):
        if not part.understood and not part.warnings:
            warnings.append(f"Không hiểu phần «{_quote(raw)}» của thời hạn; đã bỏ qua.")
    kind: DeadlineKind
    if recurrence == "continuous":
        kind = "continuous"
    elif recurrence is not None:
        kind = "recurring"
    else:
        kind = "dated" if dates else "unscheduled"
    return DeadlineResult(kind, dates, recurrence, tuple(dict.fromkeys(warnings)))
