"""Vietnamese text helpers shared by every part of dondoc.

Everything that enters the system is normalised to NFC first; names, aliases
and header words are compared on a *folded key* that ignores case, spacing,
dashes and diacritics. Folding away every diacritic (not only tone marks) is
deliberate: real plans misplace tones ("hoá"/"hóa") and drop marks ("Thông kê"
for "Thống kê"), and those must still match.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date

_BLOCK_TAG = re.compile(r"<\s*/?\s*(p|li|ul|ol|br|div|tr)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]{0,200}>")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_NEEDS_CLEANING = re.compile(r"[<&\r\n\t\u00a0\u2000-\u200b]|  ")


# C0 and C1 control characters other than TAB, LF and CR: a NUL fails PostgreSQL's text
# columns, and openpyxl refuses every one of them in a workbook. Vertical tab and form
# feed (page breaks in text extractions) separate words, so they become spaces.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_TABLE: dict[int, int | None] = {
    code: None for code in (*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0))
}
_CONTROL_TABLE.update({0x0B: 0x20, 0x0C: 0x20})


def nfc(text: str) -> str:
    """NFC, without control characters: every text that comes in goes through here."""
    normalized = unicodedata.normalize("NFC", text)
    if _CONTROLS.search(normalized) is None:
        return normalized
    return strip_controls(normalized)


def strip_controls(text: str) -> str:
    """``text`` without C0/C1 control characters (TAB, LF and CR stay)."""
    return text.translate(_CONTROL_TABLE)


def _build_ascii_table() -> dict[int, int | None]:
    """Latin letters with marks -> bare letters; lone combining marks -> removed.

    A translate table is C-speed; decomposing every string is not, and the
    parser folds every cell of every row.
    """
    table: dict[int, int | None] = {ord("đ"): ord("d"), ord("Đ"): ord("D")}
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        bare = "".join(
            ch for ch in unicodedata.normalize("NFD", chr(code)) if not unicodedata.combining(ch)
        )
        if len(bare) == 1 and bare != chr(code) and bare.isascii():
            table[code] = ord(bare)
    for code in range(0x0300, 0x0370):
        table[code] = None
    return table


_ASCII_TABLE = _build_ascii_table()


def strip_diacritics(text: str) -> str:
    """Remove every diacritic and map đ/Đ to d/D ("Đổi mới" -> "Doi moi"), NFC or NFD alike."""
    bare = text.translate(_ASCII_TABLE)
    if bare.isascii():
        return bare
    # Rare letters outside the table (other scripts, odd compositions): the slow, exact way.
    decomposed = unicodedata.normalize("NFD", bare)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_words(text: str) -> list[str]:
    """Lower-case ASCII words of ``text``, with diacritics and punctuation gone."""
    folded = strip_diacritics(text).lower()
    return [word for word in _NON_WORD.split(folded) if word]


def fold(text: str) -> str:
    """Folded key: words joined by single spaces ("Văn phòng- Thống kê" -> "van phong thong ke")."""
    return " ".join(fold_words(text))


def fold_compact(text: str) -> str:
    """Folded key without any separators ("VP-TK" and "VPTK" both -> "vptk")."""
    return "".join(fold_words(text))


def clean_cell(raw: str) -> str:
    """Turn a table cell (possibly with HTML left over from conversion) into clean text.

    Block-level tags become line breaks so that bullet lists stay readable;
    inline tags (<b>, <i>) vanish; entities are unescaped; runs of spaces
    collapse. The result is NFC.
    """
    text = nfc(raw)
    if not _NEEDS_CLEANING.search(text):
        return text.strip()  # most cells: plain text on one line
    if "<" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _ANY_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    """Collapse a cleaned multi-line text into one line."""
    if not _NEEDS_CLEANING.search(text):
        return text.strip()
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def join_text(first: str | None, more: str | None) -> str:
    """Join a cell with the rest of its text carried over from a page break."""
    if not first:
        return more or ""
    if not more:
        return first
    return f"{first} {more}"


def is_all_caps(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


def starts_lowercase(text: str) -> bool:
    """True when the first letter of ``text`` is lower case (a sign of carried-over text)."""
    for ch in text:
        if ch.isalpha():
            return ch.islower()
        if ch.isdigit():
            return False
    return False


def parse_decimal(text: str) -> float | None:
    """Parse a Vietnamese number: decimal comma, optional thousands dots ("16,50" -> 16.5)."""
    cleaned = one_line(text).replace(" ", "")
    if not cleaned:
        return None
    # Dots are thousands separators only beside a decimal comma or in several
    # groups ("1.000,5", "1.000.000"); a lone "0.125" from a spreadsheet is a
    # decimal point, and points in a plan never reach a thousand.
    if re.fullmatch(r"\d{1,3}(\.\d{3})+,\d+|\d{1,3}(\.\d{3}){2,}", cleaned):
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


# The largest id a database integer column holds (SQLite and PostgreSQL BIGINT alike).
MAX_ID = 2**63 - 1
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")


def parse_whole_number(text: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """A whole number as a person types it ("42", " 42 "), or None.

    Only ASCII digits: str.isdigit() also accepts "²" and "٣", which int() then
    rejects; and a value outside [minimum, maximum] (a 20-digit id overflows the
    database's integers) is no number either. Every typed or forged number goes
    through here.
    """
    stripped = text.strip()
    if not _WHOLE_NUMBER.fullmatch(stripped):
        return None
    value = int(stripped)
    return value if minimum <= value <= maximum else None


_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
ROMAN_CODE = re.compile(r"^[IVXLC]+$")


def roman_to_int(code: str) -> int | None:
    """Value of a Roman numeral, or None if ``code`` is not a well-formed one."""
    if not ROMAN_CODE.match(code):
        return None
    total = 0
    previous = 0
    for ch in reversed(code):
        value = _ROMAN_VALUES[ch]
        if value < previous:
            total -= value
        else:
            total += value
            previous = value
    return total if int_to_roman(total) == code else None


def int_to_roman(number: int) -> str:
    parts = []
    for value, letters in (
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        count, number = divmod(number, value)
        parts.append(letters * count)
    return "".join(parts)


def format_points(value: float) -> str:
    """Points with a decimal comma and no needless zeros: 16.5 -> "16,5", 2.0 -> "2"."""
    # Two decimals is the finest grain plans use (0,25 / 0,75); rounding there
    # also hides float noise such as 0.1 + 0.2.
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    return text.replace(".", ",")


def format_date(day: date) -> str:
    """Vietnamese dates are day/month/year: 31/12/2024."""
    return day.strftime("%d/%m/%Y")


def short_title(text: str, limit: int = 60) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary with "…"."""
    flat = one_line(nfc(text))
    if len(flat) <= limit:
        return flat
    head = flat[: limit - 1]
    cut = head.rfind(" ")
    # A cut that would keep less than half the room is worse than a cut mid-word.
    if cut >= limit // 2:
        head = head[:cut]
    return head.rstrip(" ,;:.-–") + "…"
