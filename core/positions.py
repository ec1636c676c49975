"""The position catalogue and the matcher that maps a plan's lead text to position codes.

A cell such as "- Nội vụ Phường - CC VP-TK (Tổng hợp)" or "Cán bộ, công chức
thuộc UBND xã , Bộ phận mottj cửa" names several positions in free text. We
scan its folded words left to right and, at each word, take the longest alias
that starts there (so "Cán bộ, công chức thuộc UBND xã" wins over "UBND xã").
Aliases are compared with their separators removed, so "VP-TK", "VP -TK" and
"VPTK" are the same. Words no alias covers are checked against a short list of
filler words ("công chức", "phường", …); whatever meaningful text is left gets
one fuzzy try (typos such as "mottj cửa"), and otherwise is reported as unmapped
so the admin can map it (the whole cell when nothing in it matched). Nothing
is guessed silently.

Some names changed meaning with the merger of 07/2025: "Phòng Kinh tế" was the
DCXD post in a 2024 plan and is a department in a 2026 one. Such aliases carry
their years in the catalogue, and :meth:`PositionCatalogue.for_year` gives the
catalogue as a plan of that year spells it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import yaml
from rapidfuzz.distance import Levenshtein

from core.text import fold, fold_compact, nfc, one_line, strip_diacritics

PositionKind = Literal["officer", "department", "body", "everyone"]

# Words that carry no position of their own: titles, "ward", "related", "and".
FILLER_WORDS = frozenset(
    """
    cong chuc cc can bo cac phuong xa thi tran va thuoc co lien quan khac nganh duoc giao
    nhiem vu phu trach tong hop mang tac chuyen mon cua don vi to khu pho tham muu thuc hien
    theo doi cap truong pho ve tai trong cho voi ubnd
    """.split()
)
_WORD = re.compile(r"\w+")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_MAX_ALIAS_WORDS = 12


@dataclass(frozen=True)
class DatedAlias:
    """An alias that means this position only in plans of some years.

    "Văn phòng HĐND và UBND" was the VPTK post in 2023–2024 plans and is a
    department in merged communes' plans from 2026: the post carries the alias
    with ``until``, the department as a plain alias. A plan whose year is not
    known is read as a current one (aliases with ``until`` do not apply).
    """

    text: str
    since: int | None = None
    until: int | None = None

    def applies(self, year: int | None) -> bool:
        if year is None:
            return self.until is None
        return (self.since is None or year >= self.since) and (
            self.until is None or year <= self.until
        )


@dataclass(frozen=True)
class Position:
    code: str
    name: str
    kind: PositionKind
    aliases: tuple[str, ...] = ()
    dated_aliases: tuple[DatedAlias, ...] = ()


@dataclass(frozen=True)
class LeadMatch:
    codes: tuple[str, ...]
    unmapped: tuple[str, ...] = ()  # pieces of text that named something we could not map
    fuzzy: tuple[tuple[str, str], ...] = ()  # (text as written, code) matched despite a typo


@dataclass
class _Word:
    original: str
    folded: str
    start: int
    end: int


@dataclass
class PositionCatalogue:
    positions: dict[str, Position]
    alias_to_code: dict[str, str] = field(default_factory=dict)
    _prefixes: set[str] = field(default_factory=set)
    _by_length: dict[int, list[str]] = field(default_factory=dict)  # aliases, for fuzzy search
    _cache: dict[str, LeadMatch] = field(default_factory=dict)
    # The dated aliases in force here, and the unit's own mappings (they win).
    _dated_in_force: frozenset[tuple[str, str]] = frozenset()
    _extra: dict[str, str] = field(default_factory=dict)
    _views: dict[frozenset[tuple[str, str]], PositionCatalogue] = field(default_factory=dict)

    @classmethod
    def from_positions(
        cls,
        positions: Iterable[Position],
        extra_aliases: Mapping[str, str] | None = None,
        *,
        year: int | None = None,
        in_force: frozenset[tuple[str, str]] | None = None,
    ) -> PositionCatalogue:
        """The catalogue as plans of ``year`` spell it (None: as current plans do), or
        with exactly the dated aliases ``in_force``."""
        catalogue = cls(positions={p.code: p for p in positions})
        for position in catalogue.positions.values():
            for alias in (position.code, position.name, *position.aliases):
                catalogue._add_alias(alias, position.code)
        # Dated aliases after the plain ones: in their years they override a
        # department's name ("Phòng Kinh tế" was the DCXD post before 2026).
        if in_force is None:
            in_force = _dated_in_force(catalogue.positions.values(), year)
        for text, code in sorted(in_force):
            catalogue._add_alias(text, code)
        catalogue._dated_in_force = in_force
        catalogue._views[in_force] = catalogue
        for alias, code in (extra_aliases or {}).items():
            catalogue._add_alias(alias, code)
        catalogue._extra = dict(extra_aliases or {})
        return catalogue

    def with_aliases(self, extra_aliases: Mapping[str, str]) -> PositionCatalogue:
        """A copy that also knows a unit's own mappings (admins' answers to past warnings)."""
        merged = dict(self.alias_to_code)
        copy = PositionCatalogue(positions=self.positions, alias_to_code=merged)
        copy._prefixes = set(self._prefixes)
        copy._by_length = {length: list(keys) for length, keys in self._by_length.items()}
        copy._dated_in_force = self._dated_in_force
        copy._views[self._dated_in_force] = copy
        for alias, code in extra_aliases.items():
            copy._add_alias(alias, code)
        copy._extra = {**self._extra, **extra_aliases}
        return copy

    def for_year(self, year: int | None) -> PositionCatalogue:
        """This catalogue as a plan of ``year`` spells it, the unit's mappings kept.

        Built once per set of dated aliases, so every plan of a year shares one
        view and its cache of matched cells.
        """
        return self._view(_dated_in_force(self.positions.values(), year))

    def for_posts(self) -> PositionCatalogue:
        """Names read as the posts they were before the merger ("Văn phòng UBND" is VPTK).

        A roster's positions column names posts, whatever the year.
        """
        before_merger = frozenset(
            (alias.text, position.code)
            for position in self.positions.values()
            for alias in position.dated_aliases
            if alias.until is not None
        )
        return self._view(before_merger)

    def _view(self, in_force: frozenset[tuple[str, str]]) -> PositionCatalogue:
        view = self._views.get(in_force)
        if view is None:
            positions = self.positions.values()
            view = PositionCatalogue.from_positions(positions, self._extra, in_force=in_force)
            view._views = self._views  # one family of views, whichever is asked
            self._views[in_force] = view
        return view

    def _add_alias(self, alias: str, code: str) -> None:
        key = fold_compact(alias)
        if not key:
            return
        if key not in self.alias_to_code:
            self._by_length.setdefault(len(key), []).append(key)
        self.alias_to_code[key] = code
        self._prefixes.update(key[:length] for length in range(1, len(key) + 1))

    def kind(self, code: str) -> PositionKind | None:
        position = self.positions.get(code)
        return position.kind if position else None

    def match(self, text: str | None) -> LeadMatch:
        """Map a lead or support cell to position codes, in the order they appear."""
        if not text:
            return LeadMatch(codes=())
        cached = self._cache.get(text)
        if cached is None:
            cached = self._match_uncached(text)
            self._cache[text] = cached
        return cached

    def _match_uncached(self, text: str) -> LeadMatch:
        plain = _PARENTHESISED.sub(" ", one_line(nfc(text)))
        words = [
            _Word(m.group(), strip_diacritics(m.group()).lower(), m.start(), m.end())
            for m in _WORD.finditer(plain)
        ]
        codes: list[str] = []
        leftovers: list[list[_Word]] = [[]]
        position = 0
        while position < len(words):
            length, code = self._longest_alias_at(words, position)
            if code is None:
                leftovers[-1].append(words[position])
                position += 1
                continue
            if not _is_qualifier(words, position, code):
                _append_unique(codes, code)
            leftovers.append([])
            position += length
        unmapped: list[str] = []
        fuzzy: list[tuple[str, str]] = []
        for run in leftovers:
            self._resolve_leftover(plain, run, codes, unmapped, fuzzy)
        if not codes:
            # Nothing in the cell named a known position: the whole text is what
            # the admin maps ("Các phòng chuyên môn", not its one word "phòng").
            whole = one_line(plain).strip(" -.,;:")
            unmapped = [whole] if whole else []
        return LeadMatch(codes=tuple(codes), unmapped=tuple(unmapped), fuzzy=tuple(fuzzy))

    def _longest_alias_at(self, words: list[_Word], start: int) -> tuple[int, str | None]:
        joined = ""
        best: tuple[int, str | None] = (0, None)
        for offset, word in enumerate(words[start : start + _MAX_ALIAS_WORDS]):
            joined += word.folded
            if joined not in self._prefixes:
                break
            code = self.alias_to_code.get(joined)
            if code is not None:
                best = (offset + 1, code)
        return best

    def _resolve_leftover(
        self,
        plain: str,
        run: list[_Word],
        codes: list[str],
        unmapped: list[str],
        fuzzy: list[tuple[str, str]],
    ) -> None:
        if not any(word.folded not in FILLER_WORDS for word in run):
            return
        window = self._best_fuzzy_window(run)
        if window is None:
            unmapped.append(_span_text(plain, run))
            return
        start, end, code = window
        _append_unique(codes, code)
        fuzzy.append((plain[run[start].start : run[end - 1].end], code))
        for rest in (run[:start], run[end:]):
            if any(word.folded not in FILLER_WORDS for word in rest):
                unmapped.append(_span_text(plain, rest))

    def _best_fuzzy_window(self, run: list[_Word]) -> tuple[int, int, str] | None:
        """The stretch of ``run`` closest to an alias, allowing a typo or two."""
        best: tuple[int, int, int, str] | None = None  # distance, -length, start, code
        for start in range(len(run)):
            for end in range(start + 1, min(len(run), start + 6) + 1):
                if all(word.folded in FILLER_WORDS for word in run[start:end]):
                    continue
                key = "".join(word.folded for word in run[start:end])
                match = self._fuzzy_code(key)
                if match is None:
                    continue
                code, distance = match
                candidate = (distance, start - end, start, code)
                if best is None or candidate < best:
                    best = candidate
        if best is None:
            return None
        distance, negative_length, start, code = best
        return start, start - negative_length, code

    def _fuzzy_code(self, key: str) -> tuple[str, int] | None:
        # Short keys are abbreviations: one wrong letter is another abbreviation.
        allowed = 2 if len(key) >= 12 else 1 if len(key) >= 6 else 0
        if allowed == 0:
            return None
        best: tuple[str, int] | None = None
        nearby = (
            alias
            for length in range(len(key) - allowed, len(key) + allowed + 1)
            for alias in self._by_length.get(length, ())
        )
        for alias in nearby:
            code = self.alias_to_code[alias]
            distance = Levenshtein.distance(alias, key, score_cutoff=allowed)
            if distance <= allowed and (best is None or distance < best[1]):
                best = (code, distance)
        return best


def unmapped_message(what: str, written: str, whole: str) -> str:
    """The warning for a lead or support the catalogue does not know, quoting the whole cell."""
    whole = one_line(whole)
    if fold(written) == fold(whole):
        return f"không nhận ra đơn vị {what} «{whole}»; cần ánh xạ."
    return f"không nhận ra «{written}» trong đơn vị {what} «{whole}»; cần ánh xạ."


def _dated_in_force(positions: Iterable[Position], year: int | None) -> frozenset[tuple[str, str]]:
    return frozenset(
        (alias.text, position.code)
        for position in positions
        for alias in position.dated_aliases
        if alias.applies(year)
    )


def _is_qualifier(words: list[_Word], position: int, code: str) -> bool:
    """ "Bộ phận Một cửa của UBND xã": the committee here says whose unit it is, not who leads."""
    return code == "UBND" and position > 0 and words[position - 1].folded in ("cua", "thuoc")


def _span_text(plain: str, words: list[_Word]) -> str:
    """The text as written from the first to the last meaningful word (filler trimmed)."""
    meaningful = [word for word in words if word.folded not in FILLER_WORDS] or words
    return plain[meaningful[0].start : meaningful[-1].end]


def _append_unique(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def load_positions(yaml_text: str | None = None) -> list[Position]:
    """Read the catalogue; by default the one shipped in ``seeds/positions.yaml``."""
    if yaml_text is None:
        yaml_text = resources.files("seeds").joinpath("positions.yaml").read_text("utf-8")
    data = yaml.safe_load(yaml_text)
    positions = []
    for item in data["positions"]:
        aliases = item.get("aliases", [])
        positions.append(
            Position(
                code=str(item["code"]),
                name=str(item["name"]),
                kind=item.get("kind", "officer"),
                aliases=tuple(str(alias) for alias in aliases if not isinstance(alias, dict)),
                dated_aliases=tuple(
                    DatedAlias(str(alias["alias"]), alias.get("since"), alias.get("until"))
                    for alias in aliases
                    if isinstance(alias, dict)
                ),
            )
        )
    return positions


def department_codes(catalogue: PositionCatalogue | None = None) -> list[str]:
    catalogue = catalogue or default_catalogue()
    return [code for code, p in catalogue.positions.items() if p.kind == "department"]


_DEFAULT: PositionCatalogue | None = None


def default_catalogue() -> PositionCatalogue:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PositionCatalogue.from_positions(load_positions())
    return _DEFAULT
