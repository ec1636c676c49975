"""The shapes a plan takes between the document and the database.

A reader turns bytes into a :class:`Document` (text lines and table rows, in
reading order). The parser turns a Document into a :class:`ParsedPlan`. The
importer writes a ParsedPlan to the database. Nothing here knows about
Telegram or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Recurrence = Literal["monthly", "quarterly", "semiannual", "annual", "continuous"]
RECURRENCES: tuple[str, ...] = ("monthly", "quarterly", "semiannual", "annual", "continuous")


class PlanParseError(Exception):
    """The input is not a plan we can read. The message is Vietnamese and says why."""


@dataclass(frozen=True)
class TextLine:
    """A paragraph of running text outside any table."""

    text: str
    line_no: int


@dataclass(frozen=True)
class TableRow:
    """One table row. ``cells`` are raw cell texts (HTML allowed), NFC.

    A vertically or horizontally merged cell carries its text on its first
    cell only; the cells it covers are empty strings, exactly as in the text
    extraction of the seeds. ``table_no`` counts the tables of the document
    (a .docx table or a block of TAB rows); rows of one physical table share it.
    """

    cells: tuple[str, ...]
    line_no: int
    table_no: int


Block = TextLine | TableRow


@dataclass
class Document:
    blocks: list[Block]
    source_format: str  # "text", "docx", "xlsx", "csv", "yaml"
    name: str | None = None


@dataclass
class ParseWarning:
    code: str | None
    message: str
    line_no: int | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message}


@dataclass
class Milestone:
    """A dated step of a criterion: an activity row, or one occurrence of a recurrence."""

    due_date: date
    label: str | None = None
    leads: list[str] = field(default_factory=list)


@dataclass
class ParsedCriterion:
    index: str
    code: str
    parent: str | None
    title: str
    max_points: float | None = None
    target_points: float | None = None
    requirement: str | None = None
    task: str | None = None  # what to do, where the plan has it beside a requirement
    leads: list[str] = field(default_factory=list)
    supports: list[str] = field(default_factory=list)
    lead_text: str | None = None
    support_text: str | None = None
    deadline_text: str | None = None
    due_dates: list[date] = field(default_factory=list)
    recurrence: Recurrence | None = None
    milestones: list[Milestone] = field(default_factory=list)
    unmapped_leads: list[str] = field(default_factory=list)
    unmapped_supports: list[str] = field(default_factory=list)  # offered to map, like leads
    line_no: int | None = None
    occurrence: int = 1  # 2, 3, … for a code that repeats within its index
    synthetic_code: bool = False  # the document gave no number; we made one up

    @property
    def key(self) -> tuple[str, str, int]:
        """Identity of the criterion within a plan, stable across re-imports."""
        return (self.index, self.code, self.occurrence)

    def as_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "code": self.code,
            "parent": self.parent,
            "title": self.title,
            "max_points": self.max_points,
            "target_points": self.target_points,
            "requirement": self.requirement,
            "task": self.task,
            "leads": list(self.leads),
            "supports": list(self.supports),
            "lead_text": self.lead_text,
            "deadline_text": self.deadline_text,
            "due_dates": [d.isoformat() for d in self.due_dates],
            "recurrence": self.recurrence,
        }


@dataclass
class ParsedPlan:
    unit: str | None
    year: int | None
    period: tuple[int, int] | None
    criteria: list[ParsedCriterion]
    warnings: list[ParseWarning] = field(default_factory=list)
    title: str | None = None
    source_format: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "year": self.year,
            "period": list(self.period) if self.period else None,
            "criteria": [c.as_json() for c in self.criteria],
            "warnings": [w.as_json() for w in self.warnings],
        }

    def indexes(self) -> list[str]:
        seen: dict[str, None] = {}
        for criterion in self.criteria:
            seen.setdefault(criterion.index, None)
        return list(seen)


def parent_positions(criteria: list[ParsedCriterion]) -> list[int | None]:
    """For each criterion, the position of its parent in the list (or None).

    A parent code names the nearest earlier criterion with that code in the same
    index: codes can repeat ("4.1" heading, then a "4.1" child).
    """
    latest: dict[tuple[str, str], int] = {}
    positions: list[int | None] = []
    for position, criterion in enumerate(criteria):
        parent = criterion.parent
        positions.append(latest.get((criterion.index, parent)) if parent else None)
        latest[(criterion.index, criterion.code)] = position
    return positions


def leaf_flags(criteria: list[ParsedCriterion]) -> list[bool]:
    """True for the criteria nobody else has as a parent: the items people work on."""
    parents = {p for p in parent_positions(criteria) if p is not None}
    return [position not in parents for position in range(len(criteria))]
