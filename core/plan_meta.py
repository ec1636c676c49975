"""What a plan says about itself: its unit, year, period, title, and each appendix's index."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.indexes import earliest_index
from core.plan_model import ParseWarning
from core.plan_tables import PlanTable
from core.text import fold, is_all_caps, strip_diacritics

PLAIN_REFORM_INDEX = "CCHC"

_PERIOD = re.compile(r"giai doan (20\d\d) (?:den )?(?:nam )?(20\d\d)")
_YEAR = re.compile(r"\bnam (20\d\d)\b")
_FOLLOWING_YEARS = re.compile(r"va cac nam tiep theo")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_UNIT_WORD = re.compile(r"\b(?:xa|phuong|thi tran)\b", re.ASCII)
_UNIT_KINDS = {"xa": "Xã", "phuong": "Phường", "thi tran": "Thị trấn"}
# Capitalised words that follow a unit's name in titles but are not part of it.
_NOT_NAME_WORDS = frozenset(
    "giai nam ve theo tai cua trong ngay thang nhiem ke hoach ban thuc xay quyet dieu chu".split()
)
_TITLE_LINES = 12
_UNIT_LINES = 40


@dataclass
class PlanMeta:
    unit: str | None
    year: int | None
    period: tuple[int, int] | None
    title: str | None
    title_lines: list[str]
    warnings: list[ParseWarning] = field(default_factory=list)


def detect_index(context: Sequence[str], *, fallback_lines: Sequence[str] = ()) -> str:
    """The index an appendix covers, from the text just above its table."""
    for lines in (context, () if context else fallback_lines):
        found = earliest_index(" ".join(fold(line) for line in lines))
        if found:
            return found
    return PLAIN_REFORM_INDEX


def read_plan_meta(tables: Sequence[PlanTable], text_lines: Sequence[str]) -> PlanMeta:
    title_lines = list(text_lines[:_TITLE_LINES])
    appendix_lines = list(tables[0].context) if tables else []
    warnings: list[ParseWarning] = []
    year, period = _year_and_period(appendix_lines, title_lines, text_lines)
    if year is None:
        warnings.append(ParseWarning(None, "Không đọc được năm của kế hoạch."))
    elif any(_FOLLOWING_YEARS.search(fold(line)) for line in appendix_lines + title_lines):
        warnings.append(
            ParseWarning(
                None,
                f"Kế hoạch áp dụng cho năm {year} và các năm tiếp theo; "
                f"hạn được tính cho năm {year}, hãy nhập lại kế hoạch cho năm sau.",
            )
        )
    # The unit names itself in the heading, the opening lines and the appendix titles.
    unit = _unit_name([*text_lines[:_UNIT_LINES], *(line for t in tables for line in t.context)])
    if unit is None:
        warnings.append(ParseWarning(None, "Không đọc được tên đơn vị (xã/phường) từ tài liệu."))
    return PlanMeta(
        unit=unit,
        year=year,
        period=period,
        title=_plan_title(text_lines),
        title_lines=title_lines,
        warnings=warnings,
    )


def _year_and_period(
    *line_groups: Sequence[str],
) -> tuple[int | None, tuple[int, int] | None]:
    for lines in line_groups[:2]:
        folded = [fold(line) for line in lines]
        for text in folded:
            match = _PERIOD.search(text)
            if match:
                first, last = int(match.group(1)), int(match.group(2))
                if first <= last <= first + 10:
                    return first, (first, last)
        years = [int(m.group(1)) for text in folded for m in _YEAR.finditer(text)]
        if years:
            year = years[0] if lines is line_groups[0] else Counter(years).most_common(1)[0][0]
            return year, (year, year)
    all_years = [int(m.group(1)) for line in line_groups[2] for m in _YEAR.finditer(fold(line))]
    if all_years:
        year = Counter(all_years).most_common(1)[0][0]
        return year, (year, year)
    return None, None


def _unit_name(text_lines: Sequence[str]) -> str | None:
    """The commune or ward most often named as "xã X" / "phường X" (never "thị xã X")."""
    votes: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for line in text_lines:
        for key, name in _unit_mentions(line):
            votes[key] += 1
            if key not in spelled or (is_all_caps(spelled[key]) and not is_all_caps(name)):
                spelled[key] = name
    if not votes:
        return None
    return spelled[votes.most_common(1)[0][0]]


def _unit_mentions(line: str) -> list[tuple[str, str]]:
    bare_line = strip_diacritics(line).lower()
    if not _UNIT_WORD.search(bare_line):
        return []
    words = line.replace("(", " ").replace(")", " ").split()
    # The bare line keeps every space, so its words line up with ``words``.
    bare_words = bare_line.replace("(", " ").replace(")", " ").split()
    # Most words are plain ASCII letters already; only the rest need their punctuation split.
    folded = [word if word.isalnum() else _bare_word(word) for word in bare_words]
    found = []
    for position, key in enumerate(folded):
        kind_key = key
        start = position + 1
        if key == "thi" and position + 1 < len(folded) and folded[position + 1] == "tran":
            kind_key, start = "thi tran", position + 2
        elif key == "xa" and position > 0 and folded[position - 1] == "thi":
            continue  # "thị xã" is a town, the level above a commune
        if kind_key not in _UNIT_KINDS:
            continue
        name_words = _name_after(words, folded, start)
        if name_words:
            name = " ".join(name_words)
            if is_all_caps(name):
                name = name.title()
            found.append((fold(name), f"{_UNIT_KINDS[kind_key]} {name}"))
    return found


def _bare_word(word: str) -> str:
    return " ".join(_NON_WORD.split(word)).strip()


def _name_after(words: list[str], folded: list[str], start: int) -> list[str]:
    name: list[str] = []
    for word, key in zip(words[start : start + 4], folded[start : start + 4], strict=False):
        bare = word.strip(",.;:!?\"'*")
        if not bare or not (bare[0].isupper() or bare[0].isdigit()) or key in _NOT_NAME_WORDS:
            break
        if key in _UNIT_KINDS or not key:
            break
        name.append(bare)
        if bare != word.rstrip("*"):
            break  # punctuation ends the name
    return name


def _plan_title(text_lines: Sequence[str]) -> str | None:
    for position, line in enumerate(text_lines[:_TITLE_LINES]):
        if fold(line) == "ke hoach" and position + 1 < len(text_lines):
            return text_lines[position + 1]
    return None
