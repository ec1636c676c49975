"""The weekly summary as chat text: Vietnamese, plain text, split into phone-sized messages.

Plain text on purpose: the message is full of names and titles with ``<``,
``&`` and ``*``, and a single stray character would make Telegram reject an
HTML or Markdown message outright. Nothing here knows about Telegram itself;
the handlers send the strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from core.summary_model import AreaRow, IndexSummary, ItemLine, OfficerRow, Summary, Trend
from core.text import format_date, format_points, is_all_caps, short_title

MAX_LINES = 30  # the "about 30 lines": one to two phone screens
MAX_CHARS = 4096  # Telegram's limit for one text message, in UTF-16 code units
LIST_LIMIT = 10  # the overdue / due-next-week / officer lists show this many, then a count
LIST_TITLE_CHARS = 40  # titles in those lists

_SPACES = re.compile(r"\s+")
_VOWELS = set("aeiouyăâêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
# All-caps words that are acronyms although they contain a vowel letter.
_ACRONYMS = {"UBND", "HĐND", "MTTQ", "PAR", "SIPAS", "PAPI", "PCI", "INDEX", "KT-XH", "UBMTTQ"}


# ---------------------------------------------------------------- small formatters


def format_signed_points(value: float) -> str:
    text = format_points(value)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def percent_of(done: int, total: int) -> int:
    """Whole percent, rounded down so that 100% only ever means everything is done."""
    return math.floor(100 * done / total) if total else 0


def sentence_case(title: str) -> str:
    """ "CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH CCHC" -> "Công tác chỉ đạo điều hành CCHC".

    Area titles in plans are shouted in capitals; on a phone that reads as
    noise. Acronyms (no vowel, or a known one) stay in capitals.
    """
    if not is_all_caps(title):
        return title
    words = [_lower_word(word) for word in title.split(" ")]
    text = " ".join(words)
    for index, ch in enumerate(text):
        if ch.isalpha():
            return text[:index] + ch.upper() + text[index + 1 :]
    return text


def _lower_word(word: str) -> str:
    bare = word.strip(",.;:()")
    if bare in _ACRONYMS or (bare and not (_VOWELS & set(bare.lower()))):
        return word
    return word.lower()


def area_label(area: AreaRow, limit: int = 40) -> str:
    return short_title(f"{area.code}. {sentence_case(area.title)}", limit)


def owners_text(owners: Sequence[str]) -> str:
    if not owners:
        return "chưa giao"
    if len(owners) <= 2:
        return ", ".join(owners)
    return f"{owners[0]}, {owners[1]} +{len(owners) - 2}"


def trend_text(trend: Trend, *, with_points: bool) -> str:
    if trend.done_delta == 0 and (not with_points or format_points(trend.secured_delta) == "0"):
        return "So với tuần trước: không thay đổi"
    parts = [f"{trend.done_delta:+d} việc hoàn thành"]
    if with_points:
        parts.append(f"{format_signed_points(trend.secured_delta)} điểm")
    return "So với tuần trước: " + ", ".join(parts)


# ---------------------------------------------------------------- sections


def _header(summary: Summary) -> list[str]:
    lines = [
        f"TỔNG HỢP CCHC – {summary.unit}",
        f"Số liệu đến ngày {format_date(summary.as_of)}",
    ]
    if summary.trend is not None:
        lines.append(trend_text(summary.trend, with_points=_has_points(summary)))
    lines.append(f"Minh chứng mới trong tuần: {summary.evidence_added} tệp")
    return lines


def _has_points(summary: Summary) -> bool:
    return any(index.points is not None for index in summary.indexes)


def _headline(index: IndexSummary) -> list[str]:
    t = index.totals
    lines = [
        f"■ CHỈ SỐ {index.index}",
        f"Hoàn thành {t.done}/{t.items} việc ({percent_of(t.done, t.items)}%)",
        f"Đang làm {t.in_progress} · Chưa làm {t.not_started} · Gặp khó khăn {t.blocked}",
        f"Quá hạn {t.overdue} · Đến hạn 7 ngày tới {t.due_next_7}",
    ]
    if index.points is not None:
        p = index.points
        lines.append(f"Điểm: tối đa {format_points(p.max)} · mục tiêu {format_points(p.target)}")
        lines.append(
            f"Đã chắc {format_points(p.secured)} điểm · có nguy cơ {format_points(p.at_risk)} điểm"
        )
    return lines


def _areas(index: IndexSummary) -> list[str]:
    if not index.areas:
        return []
    lines = [f"{index.index} – theo lĩnh vực (% hoàn thành):"]
    for area in index.areas:
        line = f"{area_label(area)}: {percent_of(area.done, area.items)}%"
        if area.overdue:
            line += f", {area.overdue} quá hạn"
        lines.append(line)
    return lines


def _capped(lines: list[str], total: int, noun: str) -> list[str]:
    shown = lines[:LIST_LIMIT]
    if total > len(shown):
        shown.append(f"… và {total - len(shown)} {noun} khác")
    return shown


def _overdue_line(line: ItemLine) -> str:
    title = short_title(line.short_title or line.title, LIST_TITLE_CHARS)
    return f"• {line.code} {title} – {owners_text(line.owners)} – trễ {line.days_late} ngày"


def _due_line(line: ItemLine) -> str:
    when = line.due_date.strftime("%d/%m") if line.due_date else "--/--"
    title = short_title(line.short_title or line.title, LIST_TITLE_CHARS)
    return f"• {when} {line.code} {title} – {owners_text(line.owners)}"


def _overdue(index: IndexSummary) -> list[str]:
    if not index.overdue:
        return [f"{index.index} – quá hạn: không có"]
    body = [_overdue_line(line) for line in index.overdue[:LIST_LIMIT]]
    head = f"{index.index} – quá hạn ({len(index.overdue)} việc):"
    return [head, *_capped(body, len(index.overdue), "mục")]


def _due_next_week(index: IndexSummary) -> list[str]:
    if not index.due_next_week:
        return [f"{index.index} – đến hạn 7 ngày tới: không có"]
    body = [_due_line(line) for line in index.due_next_week[:LIST_LIMIT]]
    head = f"{index.index} – đến hạn 7 ngày tới ({len(index.due_next_week)} việc):"
    return [head, *_capped(body, len(index.due_next_week), "mục")]


def _officer_line(officer: OfficerRow) -> str:
    return f"• {officer.name}: {officer.items} việc, xong {officer.done}, quá hạn {officer.overdue}"


def _officers(summary: Summary) -> list[str]:
    lines: list[str] = []
    if summary.officers:
        # Whose work is late is what the chairman asks first, so the most overdue lead.
        ranked = sorted(summary.officers, key=lambda o: (-o.overdue, o.done - o.items, o.name))
        body = [_officer_line(officer) for officer in ranked[:LIST_LIMIT]]
        lines = ["Theo cán bộ:", *_capped(body, len(ranked), "cán bộ")]
    if summary.silent_officers:
        names = ", ".join(summary.silent_officers)
        lines.append(f"Không cập nhật từ 14 ngày trở lên: {names}")
    return lines


def message_sections(summary: Summary) -> list[list[str]]:
    """The message as sections of lines, in reading order; a section is never split if it fits."""
    sections = [_header(summary)]
    if not summary.indexes:
        sections.append(["Chưa có kế hoạch nào được nhập."])
    for index in summary.indexes:
        sections += [_headline(index), _areas(index), _overdue(index), _due_next_week(index)]
    sections.append(_officers(summary))
    return [section for section in sections if section]


# ---------------------------------------------------------------- packing


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fit_line(line: str, max_chars: int) -> str:
    # Only a pathological line (hundreds of silent officers) gets here.
    if _units(line) <= max_chars:
        return line
    while _units(line) > max_chars - 1:
        line = line[: max(1, len(line) - (_units(line) - max_chars) - 1)]
    return line + "…"


def _chunks(section: list[str], max_lines: int) -> Iterable[list[str]]:
    for start in range(0, len(section), max_lines):
        yield section[start : start + max_lines]


def pack_sections(
    sections: Sequence[list[str]], *, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS
) -> list[str]:
    """Fill messages with whole sections (a blank line between them), never splitting a line."""
    messages: list[list[str]] = []
    current: list[str] = []
    for section in sections:
        fitted = [_fit_line(line, max_chars) for line in section]
        for chunk in _chunks(fitted, max_lines):
            candidate = [*current, "", *chunk] if current else chunk
            if len(candidate) <= max_lines and _units("\n".join(candidate)) <= max_chars:
                current = candidate
                continue
            if current:
                messages.append(current)
            current = chunk
            while _units("\n".join(current)) > max_chars:  # 30 very long lines
                messages.append(current[: len(current) // 2])
                current = current[len(current) // 2 :]
    if current:
        messages.append(current)
    return ["\n".join(lines) for lines in messages]


# ---------------------------------------------------------------- public API


def render_message(summary: Summary) -> list[str]:
    """The weekly summary as one or more plain-text messages, each ≤ 30 lines and ≤ 4096 chars."""
    return pack_sections(message_sections(summary))
