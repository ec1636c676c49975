"""When an item is worth a line in someone's daily digest, and when it is escalated.

Pure functions over plain facts, so every rule is tested without a database
or a clock. The database gathers the facts (core/reminders.py); the
scheduler only decides *when* to look.

Reminders are about an item's *open* milestone, the earliest one not yet
met (the rule lives in core/progress.py, shared with everything else that
says "late").

Reminders count calendar days before the open milestone (7, 3, 1, 0 by
default) and workdays after it (the 1st, 3rd and 7th, then every Monday).
A reminder whose day is not a workday goes out on the workday before it.
"Thường xuyên" items have no milestones: they get a check-in on the first
workday of each month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any, Literal

from core.progress import open_milestone
from core.workdays import WorkCalendar

Kind = Literal["overdue", "due_today", "due_in_1", "due_in_3", "due_in_7", "checkin"]
# Most urgent first: an item shows once, under the most urgent kind that day.
KIND_ORDER: tuple[Kind, ...] = (
    "overdue",
    "due_today",
    "due_in_1",
    "due_in_3",
    "due_in_7",
    "checkin",
)
_BEFORE_KINDS: dict[int, Kind] = {0: "due_today", 1: "due_in_1", 3: "due_in_3", 7: "due_in_7"}
MONDAY = 0


class PolicyError(ValueError):
    """A reminder setting has a bad value; the message is Vietnamese and names it."""


@dataclass(frozen=True)
class ReminderPolicy:
    """A unit's reminder settings (stored in ``units.settings["reminders"]``)."""

    reminder_time: time = time(7, 30)
    days_before: tuple[int, ...] = (7, 3, 1, 0)
    overdue_workdays: tuple[int, ...] = (1, 3, 7)
    weekly_overdue: bool = True  # every Monday after the last of overdue_workdays
    escalate_after_workdays: int = 3
    monthly_checkin: bool = True
    max_snooze_days: int = 14

    @classmethod
    def from_settings(cls, raw: dict[str, Any] | None) -> ReminderPolicy:
        raw = raw or {}
        policy = cls()
        values: dict[str, Any] = {}
        if "reminder_time" in raw:
            values["reminder_time"] = parse_clock(str(raw["reminder_time"]))
        for key in ("days_before", "overdue_workdays"):
            if key in raw:
                numbers = {int(value) for value in raw[key]}
                values[key] = tuple(sorted(numbers, reverse=key == "days_before"))
        for key in ("weekly_overdue", "monthly_checkin"):
            if key in raw:
                values[key] = bool(raw[key])
        for key in ("escalate_after_workdays", "max_snooze_days"):
            if key in raw:
                values[key] = int(raw[key])
        return _validated(policy, values)

    def as_settings(self) -> dict[str, Any]:
        return {
            "reminder_time": self.reminder_time.strftime("%H:%M"),
            "days_before": list(self.days_before),
            "overdue_workdays": list(self.overdue_workdays),
            "weekly_overdue": self.weekly_overdue,
            "escalate_after_workdays": self.escalate_after_workdays,
            "monthly_checkin": self.monthly_checkin,
            "max_snooze_days": self.max_snooze_days,
        }


def _validated(policy: ReminderPolicy, values: dict[str, Any]) -> ReminderPolicy:
    days_before = values.get("days_before", policy.days_before)
    if any(d not in _BEFORE_KINDS for d in days_before):
        raise PolicyError("Nhắc trước hạn chỉ nhận các mốc 7, 3, 1, 0 ngày.")
    overdue = values.get("overdue_workdays", policy.overdue_workdays)
    if any(not 1 <= d <= 30 for d in overdue):
        raise PolicyError("Nhắc quá hạn: số ngày làm việc phải từ 1 đến 30.")
    if not 1 <= values.get("escalate_after_workdays", policy.escalate_after_workdays) <= 30:
        raise PolicyError("Báo lên lãnh đạo sau 1 đến 30 ngày làm việc.")
    if not 1 <= values.get("max_snooze_days", policy.max_snooze_days) <= 60:
        raise PolicyError("Số ngày hoãn tối đa phải từ 1 đến 60.")
    return ReminderPolicy(**{**policy.__dict__, **values})


def parse_clock(text: str) -> time:
    """ "07:30" or "7h30" -> time(7, 30)."""
    cleaned = text.strip().lower().replace("h", ":")
    try:
        hours, _, minutes = cleaned.partition(":")
        return time(int(hours), int(minutes or 0))
    except ValueError:
        raise PolicyError(f"Giờ nhắc {text!r} không hợp lệ; ví dụ 07:30.") from None


@dataclass(frozen=True)
class ItemFacts:
    """What the rules need to know about one item."""

    criterion_id: int
    milestones: tuple[date, ...]  # sorted
    recurrence: str | None
    done: bool
    update_days: tuple[date, ...] = ()  # local dates of its progress updates, any order
    period: tuple[int, int] | None = None  # the plan's years, for monthly check-ins


@dataclass(frozen=True)
class Reminder:
    criterion_id: int
    kind: Kind
    due_date: date | None
    days_late: int = 0


@dataclass
class Rules:
    calendar: WorkCalendar
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)

    def open_milestone(self, item: ItemFacts) -> date | None:
        return open_milestone(item.milestones, done=item.done, update_days=item.update_days)

    def reminder_for(self, item: ItemFacts, day: date) -> Reminder | None:
        """The one reminder ``item`` gets on ``day`` (most urgent kind), if any."""
        if item.done:
            return None
        if item.recurrence == "continuous" and not item.milestones:
            return self._checkin(item, day)
        milestone = self.open_milestone(item)
        if milestone is None:
            return None
        if milestone < day:
            if self._overdue_day(milestone, day):
                return Reminder(item.criterion_id, "overdue", milestone, (day - milestone).days)
            return None
        for days in sorted(self.policy.days_before):
            if self.calendar.on_or_before(milestone - timedelta(days=days)) == day:
                return Reminder(item.criterion_id, _BEFORE_KINDS[days], milestone)
        return None

    def is_overdue(self, item: ItemFacts, day: date) -> bool:
        milestone = self.open_milestone(item)
        return milestone is not None and milestone < day

    def escalation_due(self, item: ItemFacts, day: date) -> date | None:
        """The overdue milestone to escalate on ``day``, or None.

        True from the N-th workday after the milestone on, not only on that day:
        the claim table makes it happen once, and a bot that was down that day
        still escalates the next time it runs.
        """
        milestone = self.open_milestone(item)
        if milestone is None or milestone >= day:
            return None
        threshold = self.calendar.nth_workday_after(milestone, self.policy.escalate_after_workdays)
        return milestone if day >= self.calendar.on_or_before(threshold) else None

    def _overdue_day(self, milestone: date, day: date) -> bool:
        workdays = self.policy.overdue_workdays
        targets = [self.calendar.nth_workday_after(milestone, n) for n in workdays]
        if day in targets:
            return True
        if not self.policy.weekly_overdue or not targets:
            return False
        # Every Monday after the last scheduled overdue reminder (or the workday before it).
        monday = day + timedelta(days=(MONDAY - day.weekday()) % 7)
        return monday > max(targets) and self.calendar.on_or_before(monday) == day

    def _checkin(self, item: ItemFacts, day: date) -> Reminder | None:
        if not self.policy.monthly_checkin:
            return None
        if item.period and not item.period[0] <= day.year <= item.period[1]:
            return None
        if self.calendar.first_workday_of_month(day.year, day.month) != day:
            return None
        return Reminder(item.criterion_id, "checkin", None)


def sort_for_digest(reminders: Sequence[Reminder], codes: dict[int, str]) -> list[Reminder]:
    """Overdue first (most late first), then by date, then by code."""

    def key(reminder: Reminder) -> tuple[int, int, date, str]:
        overdue = reminder.kind == "overdue"
        return (
            0 if overdue else 1,
            -reminder.days_late if overdue else 0,
            reminder.due_date or date.max,
            codes.get(reminder.criterion_id, ""),
        )

    return sorted(reminders, key=key)
