"""Working days in Vietnam: Monday to Friday, less the public holidays the workers have off.

The legal clocks of a data-subject request count working days (Decree 356/2025/NĐ-CP: acknowledged within 2
working days). The holidays are those of the Labour Code 2019 (article 112): New Year's Day, five days of Tết,
the Hùng Kings' day (10th of the 3rd lunar month), 30 April, 1 May, and 2 September with a day beside it; a
holiday on a weekend is taken on the next working day. The lunar ones move every year and the government
announces the days off each year, so they are listed per year here: add a year when it is announced.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ..timezones import local_midnight, local_today

#: The weekdays off for public holidays, compensation days included, as announced for each year.
PUBLIC_HOLIDAYS: dict[date, str] = {
    date(2026, 1, 1): "New Year's Day",
    date(2026, 2, 16): "Tết",
    date(2026, 2, 17): "Tết",
    date(2026, 2, 18): "Tết",
    date(2026, 2, 19): "Tết",
    date(2026, 2, 20): "Tết",
    date(2026, 4, 27): "Hùng Kings' day (26 April, a Sunday)",
    date(2026, 4, 30): "Reunification Day",
    date(2026, 5, 1): "Labour Day",
    date(2026, 9, 1): "National Day",
    date(2026, 9, 2): "National Day",
    date(2027, 1, 1): "New Year's Day",
}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in PUBLIC_HOLIDAYS


def working_days_after(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself not counted, whether it is one or not)."""
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def end_of_local_day(day: date) -> datetime:
    """The moment a Vietnamese calendar day ends: a deadline "within the day" runs to it."""
    return local_midnight(day + timedelta(days=1))


def end_of_working_days(moment: datetime, count: int) -> datetime:
    """When `count` working days from `moment` (a Vietnamese day's moment) run out: the end of the count-th
    working day after its day."""
    return end_of_local_day(working_days_after(local_today(moment), count))


def end_of_days(moment: datetime, count: int) -> datetime:
    """When `count` calendar days from `moment` run out: the end of the count-th day after its day."""
    return end_of_local_day(local_today(moment) + timedelta(days=count))
