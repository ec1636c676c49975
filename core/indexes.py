"""Recognising which index (PAR, SIPAS, PAPI, PCI) a title speaks of."""

from __future__ import annotations

import re

# Which index an appendix is about, judged by its title. The earliest mention
# wins: "Chỉ số cải cách hành chính, Chỉ số hài lòng …" is a PAR appendix that
# also covers SIPAS items. "Cải cách hành chính" without "chỉ số" is a plain
# reform plan (CCHC), not the PAR index.
_INDEX_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("PCI", r"\bpci\b|nang luc canh tranh"),
        ("PAPI", r"\bpapi\b|hieu qua quan tri"),
        ("SIPAS", r"\bsipas\b|chi so hai long|muc do hai long"),
        ("PAR", r"\bpar\b|\bparindex\b|chi so (?:cai )?cach hanh chinh|chi so cchc"),
    )
)


def earliest_index(folded: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, pattern in _INDEX_PATTERNS:
        match = pattern.search(folded)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None
