"""Reporting periods: months, quarters, fiscal and calendar years, custom ranges, comparisons."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates with a human label."""

    start: date
    end: date
    label: str
    kind: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def months(self) -> list[date]:
        """First days of the months the period touches, in order."""
        months, current = [], self.start.replace(day=1)
        while current <= self.end:
            months.append(current)
            current = add_months(current, 1)
        return months


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, _last_day(year, month + 1)))


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    end = date(year, number, _last_day(year, number))
    return Period(start, end, start.strftime("%B %Y"), "month")


def quarter(year: int, number: int) -> Period:
    start = date(year, 3 * number - 2, 1)
    end = add_months(start, 3) - timedelta(days=1)
    return Period(start, end, f"Q{number} {year}", "quarter")


def calendar_year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), str(year), "year")


def fiscal_year_of(day: date) -> int:
    """The fiscal year a date falls in, named by the calendar year it ends in."""
    first_month = settings.SIGHTLINE_FISCAL_YEAR_START_MONTH
    if first_month == 1:
        return day.year
    return day.year + 1 if day.month >= first_month else day.year


def fiscal_year(number: int) -> Period:
    """FY `number`: with a July start, FY2026 runs July 1 2025 to June 30 2026."""
    first_month = settings.SIGHTLINE_FISCAL_YEAR_START_MONTH
    start = date(number - 1 if first_month > 1 else number, first_month, 1)
    end = add_months(start, 12) - timedelta(days=1)
    return Period(start, end, f"FY{number}", "fiscal-year")


def custom(start: date, end: date) -> Period:
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}", "custom")


def previous(period: Period) -> Period:
    """The equal period just before: previous month, quarter or year, or as many days."""
    if period.kind == "month":
        start = add_months(period.start, -1)
        return month(start.year, start.month)
    if period.kind == "quarter":
        start = add_months(period.start, -3)
        return quarter(start.year, (start.month - 1) // 3 + 1)
    if period.kind == "fiscal-year":
        return fiscal_year(fiscal_year_of(period.start) - 1)
    if period.kind == "year":
        return calendar_year(period.start.year - 1)
    end = period.start - timedelta(days=1)
    return custom(end - timedelta(days=period.days - 1), end)


def year_earlier(period: Period) -> Period:
    """The same period one year before."""
    if period.kind == "month":
        return month(period.start.year - 1, period.start.month)
    if period.kind == "quarter":
        return quarter(period.start.year - 1, (period.start.month - 1) // 3 + 1)
    if period.kind == "fiscal-year":
        return fiscal_year(fiscal_year_of(period.start) - 1)
    if period.kind == "year":
        return calendar_year(period.start.year - 1)
    return custom(add_months(period.start, -12), add_months(period.end, -12))
