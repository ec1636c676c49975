"""Reminder rules on a real calendar (2024: Tết from Thu 8 to Wed 14 February)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.reminder_rules import ItemFacts, PolicyError, ReminderPolicy, Rules, sort_for_digest
from core.workdays import WorkCalendar


def d(text: str) -> date:
    day, month, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


RULES = Rules(WorkCalendar())


def item(*due: str, done: bool = False, updates: tuple[str, ...] = (), **kw: object) -> ItemFacts:
    return ItemFacts(
        criterion_id=1,
        milestones=tuple(d(x) for x in due),
        recurrence=kw.get("recurrence"),  # type: ignore[arg-type]
        done=done,
        update_days=tuple(d(x) for x in updates),
        period=kw.get("period"),  # type: ignore[arg-type]
    )


def schedule(facts: ItemFacts, start: str, end: str, rules: Rules = RULES) -> dict[str, str]:
    """Every day in [start, end] on which the item gets a reminder, with its kind."""
    out, day = {}, d(start)
    while day <= d(end):
        reminder = rules.reminder_for(facts, day)
        if reminder is not None:
            out[day.strftime("%d/%m")] = reminder.kind
        day += timedelta(days=1)
    return out


def test_workday_calendar_knows_weekends_and_tet() -> None:
    calendar = WorkCalendar()
    assert calendar.is_workday(d("07/02/2024"))  # Wednesday before Tết
    assert not any(calendar.is_workday(d(f"{n:02}/02/2024")) for n in range(8, 15))
    assert calendar.is_workday(d("15/02/2024")) and calendar.is_workday(d("16/02/2024"))
    assert not calendar.is_workday(d("17/02/2024"))  # Saturday
    assert not calendar.is_workday(d("02/09/2024"))  # National Day
    assert calendar.on_or_before(d("12/02/2024")) == d("07/02/2024")
    assert calendar.nth_workday_after(d("07/02/2024"), 1) == d("15/02/2024")
    extra = WorkCalendar(days_off=[d("01/03/2024")])  # a unit's own day off, a Friday
    assert not extra.is_workday(d("01/03/2024"))
    assert extra.first_workday_of_month(2024, 3) == d("04/03/2024")


def test_weekday_due_date_gets_every_kind_on_its_days() -> None:
    # Due Wednesday 13/03/2024: 7 days before is Wed 06/03; 3 days before is Sunday 10/03,
    # so it goes out on Friday 08/03; then Tue 12/03, the day itself, and overdue on the
    # 1st (Thu 14/03), 3rd (Mon 18/03) and 7th (Fri 22/03) workdays, then every Monday.
    assert schedule(item("13/03/2024"), "01/03/2024", "09/04/2024") == {
        "06/03": "due_in_7",
        "08/03": "due_in_3",
        "12/03": "due_in_1",
        "13/03": "due_today",
        "14/03": "overdue",
        "18/03": "overdue",
        "22/03": "overdue",
        "25/03": "overdue",
        "01/04": "overdue",
        "08/04": "overdue",
    }


def test_due_on_a_sunday_is_reminded_on_friday_and_overdue_on_monday() -> None:
    # Sunday 17/03/2024: "due today" and "due in 1 day" both fall back to Friday 15/03;
    # the more urgent one wins, once.
    assert schedule(item("17/03/2024"), "08/03/2024", "19/03/2024") == {
        "08/03": "due_in_7",  # Sunday 10/03 -> Friday 08/03
        "14/03": "due_in_3",
        "15/03": "due_today",
        "18/03": "overdue",
    }


def test_tet_week_moves_reminders_before_the_holiday() -> None:
    # Due Monday 12/02/2024, in the middle of Tết: everything falls back to Wed 07/02.
    assert schedule(item("12/02/2024"), "01/02/2024", "22/02/2024") == {
        "05/02": "due_in_7",  # Monday 05/02 itself is a workday
        "07/02": "due_today",  # 3 days before (09/02), 1 day before and the day: all Tết
        "15/02": "overdue",  # 1st workday after
        "19/02": "overdue",  # 3rd: 15, 16, 19
    }


def test_never_dropped_even_when_the_due_date_is_on_a_holiday() -> None:
    for due in ("10/02/2024", "02/09/2024", "30/04/2024", "01/01/2025"):
        days = schedule(item(due), "01/01/2024", "31/01/2025")
        assert "due_today" in days.values(), due
        assert "overdue" in days.values(), due


def test_done_items_are_never_reminded() -> None:
    assert schedule(item("13/03/2024", done=True), "01/03/2024", "30/04/2024") == {}


def test_monthly_checkin_for_ongoing_items() -> None:
    ongoing = item(recurrence="continuous", period=(2024, 2024))
    days = schedule(ongoing, "01/01/2024", "31/12/2024")
    assert days == {
        "02/01": "checkin",  # 01/01 is New Year's Day
        "01/02": "checkin",
        "01/03": "checkin",
        "01/04": "checkin",
        "02/05": "checkin",  # 01/05 is Labour Day
        "03/06": "checkin",  # 01/06 is a Saturday
        "01/07": "checkin",
        "01/08": "checkin",
        "04/09": "checkin",  # 02-03/09 National Day, 01/09 Sunday
        "01/10": "checkin",
        "01/11": "checkin",
        "02/12": "checkin",
    }
    assert schedule(ongoing, "01/01/2025", "31/01/2025") == {}  # outside the plan's years
    assert schedule(item(recurrence="continuous", done=True), "01/01/2024", "31/01/2024") == {}


def test_annual_milestones_of_a_multi_year_plan() -> None:
    annual = item("31/12/2023", "31/12/2024", "31/12/2025", recurrence="annual")
    assert RULES.open_milestone(annual) == d("31/12/2023")
    assert RULES.reminder_for(annual, d("02/01/2024")).kind == "overdue"  # type: ignore[union-attr]
    # A late report in January covers 2023, not 2024 as well.
    reported = item("31/12/2023", "31/12/2024", "31/12/2025", updates=("05/01/2024",))
    assert RULES.open_milestone(reported) == d("31/12/2024")
    assert schedule(reported, "01/01/2024", "31/12/2024") == {
        "24/12": "due_in_7",
        "27/12": "due_in_3",  # 28/12 is a Saturday
        "30/12": "due_in_1",
        "31/12": "due_today",
    }
    twice = item("31/12/2023", "31/12/2024", "31/12/2025", updates=("05/01/2024", "20/12/2024"))
    assert RULES.open_milestone(twice) == d("31/12/2025")
    # Two reports in the same period meet only that period.
    same = item("31/12/2023", "31/12/2024", "31/12/2025", updates=("02/12/2023", "20/12/2023"))
    assert RULES.open_milestone(same) == d("31/12/2024")


def test_escalation_threshold_counts_workdays() -> None:
    due = item("12/02/2024")  # Tết: 3 workdays after are 15, 16 and 19 February
    assert RULES.escalation_due(due, d("16/02/2024")) is None
    assert RULES.escalation_due(due, d("19/02/2024")) == d("12/02/2024")
    assert RULES.escalation_due(due, d("26/02/2024")) == d("12/02/2024")  # still, until claimed
    assert RULES.escalation_due(item("12/02/2024", done=True), d("19/02/2024")) is None


def test_policy_from_unit_settings() -> None:
    policy = ReminderPolicy.from_settings(
        {"reminder_time": "8h15", "days_before": [1, 7], "escalate_after_workdays": 5}
    )
    assert policy.reminder_time == time(8, 15)
    assert policy.days_before == (7, 1)
    assert ReminderPolicy.from_settings(policy.as_settings()) == policy
    quiet = Rules(WorkCalendar(), ReminderPolicy.from_settings({"days_before": [0]}))
    assert schedule(item("13/03/2024"), "01/03/2024", "13/03/2024", quiet) == {"13/03": "due_today"}
    for bad in ({"reminder_time": "25:00"}, {"days_before": [5]}, {"max_snooze_days": 0}):
        with pytest.raises(PolicyError):
            ReminderPolicy.from_settings(bad)


def test_digest_order_is_overdue_first_then_by_date() -> None:
    rules = RULES
    items = [
        ItemFacts(1, (d("20/03/2024"),), None, False),
        ItemFacts(2, (d("01/03/2024"),), None, False),
        ItemFacts(3, (d("14/03/2024"),), None, False),
        ItemFacts(4, (d("22/02/2024"),), None, False),
    ]
    today = d("13/03/2024")
    found = [r for r in (rules.reminder_for(i, today) for i in items) if r is not None]
    codes = {1: "1.1", 2: "2.1", 3: "3.1", 4: "4.1"}
    assert [(r.criterion_id, r.kind) for r in sort_for_digest(found, codes)] == [
        (3, "due_in_1"),
        (1, "due_in_7"),
    ]
    monday = d("18/03/2024")  # 2.1 is 3 workdays late; 4.1 is on its weekly Monday
    found = [r for r in (rules.reminder_for(i, monday) for i in items) if r is not None]
    assert [(r.criterion_id, r.kind) for r in sort_for_digest(found, codes)] == [
        (4, "overdue"),
        (2, "overdue"),
    ]


@given(
    st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)),
    st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)),
)
def test_reminders_fall_on_workdays_and_overdue_only_after_the_due_date(
    due: date, day: date
) -> None:
    reminder = RULES.reminder_for(ItemFacts(1, (due,), None, False), day)
    if reminder is None:
        return
    assert WorkCalendar().is_workday(day)
    if reminder.kind == "overdue":
        assert day > due and reminder.days_late == (day - due).days
    else:
        assert day <= due and reminder.due_date == due
