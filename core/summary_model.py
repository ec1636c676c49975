"""The weekly summary as data: computed once, rendered as chat text, PNG and .xlsx.

The field names follow the ``python -m bot summary --json`` contract; the
extra fields (due next week, item details, area breakdowns) feed the message,
the chart and the spreadsheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class Totals:
    items: int = 0  # leaf items only; parents are derived from their children
    done: int = 0
    in_progress: int = 0
    not_started: int = 0
    blocked: int = 0
    overdue: int = 0
    due_next_7: int = 0


@dataclass
class Points:
    max: float
    target: float
    secured: float  # target points of leaf items done with evidence
    at_risk: float  # target points of leaf items overdue, blocked, or done without evidence


@dataclass
class AreaRow:
    code: str
    title: str
    items: int
    done: int
    in_progress: int
    not_started: int  # includes blocked, for the chart's "not started" band
    overdue: int

    @property
    def percent(self) -> float:
        return round(100 * self.done / self.items, 1) if self.items else 0.0


@dataclass
class ItemLine:
    """One leaf item, as listed in the overdue / due-next-week lists and the detail sheet."""

    criterion_id: int
    index: str
    code: str
    title: str
    short_title: str
    owners: list[str]
    due_date: date | None
    status: str  # not_started | in_progress | done | blocked
    percent: int
    overdue: bool = False
    days_late: int = 0
    last_note: str | None = None
    evidence_count: int = 0
    max_points: float | None = None
    target_points: float | None = None


@dataclass
class IndexSummary:
    index: str
    totals: Totals
    points: Points | None
    areas: list[AreaRow]
    overdue: list[ItemLine]  # every overdue item, worst first
    due_next_week: list[ItemLine]  # due within 7 days, soonest first
    items: list[ItemLine] = field(default_factory=list)  # every leaf, document order


@dataclass
class OfficerRow:
    name: str
    items: int
    done: int
    overdue: int
    last_activity: datetime | None


@dataclass
class Trend:
    done_delta: int
    secured_delta: float


@dataclass
class Summary:
    unit: str
    as_of: date
    indexes: list[IndexSummary]
    officers: list[OfficerRow]
    silent_officers: list[str]  # no activity for 14 days or more
    evidence_added: int  # files added in the 7 days up to as_of
    trend: Trend | None  # against the last summary sent, if any

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "as_of": self.as_of.isoformat(),
            "indexes": [_index_json(index) for index in self.indexes],
            "officers": [
                {
                    "name": o.name,
                    "items": o.items,
                    "done": o.done,
                    "overdue": o.overdue,
                    "last_activity": o.last_activity.isoformat() if o.last_activity else None,
                }
                for o in self.officers
            ],
            "silent_officers": list(self.silent_officers),
            "evidence_added": self.evidence_added,
            "trend": (
                {"done_delta": self.trend.done_delta, "secured_delta": self.trend.secured_delta}
                if self.trend
                else None
            ),
        }


def _index_json(index: IndexSummary) -> dict[str, Any]:
    totals = index.totals
    return {
        "index": index.index,
        "totals": {
            "items": totals.items,
            "done": totals.done,
            "in_progress": totals.in_progress,
            "not_started": totals.not_started,
            "blocked": totals.blocked,
            "overdue": totals.overdue,
            "due_next_7": totals.due_next_7,
        },
        "points": (
            {
                "max": index.points.max,
                "target": index.points.target,
                "secured": index.points.secured,
                "at_risk": index.points.at_risk,
            }
            if index.points
            else None
        ),
        "areas": [
            {
                "code": a.code,
                "title": a.title,
                "items": a.items,
                "done": a.done,
                "overdue": a.overdue,
                "percent": a.percent,
            }
            for a in index.areas
        ],
        "overdue": [
            {
                "code": line.code,
                "title": line.title,
                "owners": list(line.owners),
                "due_date": line.due_date.isoformat() if line.due_date else None,
                "days_late": line.days_late,
            }
            for line in index.overdue
        ],
    }
