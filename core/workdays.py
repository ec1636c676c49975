"""Which days offices are open: Monday to Friday, minus Vietnam's public holidays
(Tết included, from the ``holidays`` package), minus a unit's own extra days off.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

_ONE_DAY = timedelta(days=1)
_MAX_SEARCH_DAYS = 60  # no real calendar closes offices for two months


@lru_cache(maxsize=64)
def _vietnam_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year))


class WorkCalendar:
    def __init__(
        self, *, days_off: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        # extra_workdays: Saturdays worked to make up for a bridge holiday.
        self.days_off = frozenset(days_off)
        self.extra_workdays = frozenset(extra_workdays)

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day.weekday() >= 5 or day in self.days_off:
            return False
        return day not in _vietnam_holidays(day.year)

    def on_or_before(self, day: date) -> date:
        """The day itself if offices are open, else the last workday before it.

        A reminder that falls on a day off goes out early, never late or never.
        """
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_workday(day):
                return day
            day -= _ONE_DAY
        return day

    def nth_workday_after(self, day: date, n: int) -> date:
        """The n-th workday strictly after ``day`` (n >= 1)."""
        found = 0
        for _ in range(n * 7 + _MAX_SEARCH_DAYS):
            day += _ONE_DAY
            if self.is_workday(day):
                found += 1
                if found == n:
                    return day
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Workdays in (start, end]: how many working days have passed since ``start``."""
        count, day = 0, start
        while day < end:
            day += _ONE_DAY
            count += self.is_workday(day)
        return count

    def first_workday_of_month(self, year: int, month: int) -> date:
        day = date(year, month, 1)
        while not self.is_workday(day):
            day += _ONE_DAY
        return day
