"""Reporting periods: months, quarters, fiscal and calendar years, custom ranges, comparisons."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates with a human label (in the language active when the
    period was made: periods are made per request)."""

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
    return Period(start, end, date_format(start, "YEAR_MONTH_FORMAT"), "month")


def quarter(year: int, number: int) -> Period:
    start = date(year, 3 * number - 2, 1)
    end = add_months(start, 3) - timedelta(days=1)
    return Period(
        start, end, _("Q%(number)d %(year)d") % {"number": number, "year": year}, "quarter"
    )


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
    return Period(start, end, _("FY%(year)d") % {"year": number}, "fiscal-year")


def custom(start: date, end: date) -> Period:
    label = _("%(start)s to %(end)s") % {"start": start.isoformat(), "end": end.isoformat()}
    return Period(start, end, label, "custom")


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


# --- Periods still in progress -----------------------------------------------------------------
#
# A period that has not ended yet is counted only up to its last whole day, and every earlier
# period it is compared with is cut to the same span: five months of a fiscal year are compared
# with the same five months of earlier years, never with whole years.

COMPLETE, IN_PROGRESS, NOT_STARTED = "complete", "in-progress", "not-started"


@dataclass(frozen=True)
class Earlier:
    """An earlier period a report compares with, and the heading of its change column."""

    period: Period
    change_label: str


@dataclass(frozen=True)
class Comparison:
    """What a report counts for a chosen period and what it compares it with, on a given day.

    `current` is the chosen period, or its span so far when it is in progress; `earlier` holds
    one or two earlier periods of the same span (one when the previous period and the same
    period a year earlier are the same, as for years); `completed` is the latest whole period of
    the chosen kind, offered when the chosen one is not complete.
    """

    chosen: Period
    current: Period
    earlier: tuple[Earlier, ...]
    status: str
    completed: Period | None

    @property
    def in_progress(self) -> bool:
        return self.status == IN_PROGRESS


def status(period: Period, today: date) -> str:
    """COMPLETE once the period's last day is over, NOT_STARTED before its first day, else
    IN_PROGRESS."""
    if period.end < today:
        return COMPLETE
    return NOT_STARTED if today < period.start else IN_PROGRESS


def last_whole_day(period: Period, today: date) -> date:
    """The last day of an in-progress period whose counts are final: yesterday, or today when
    the period began today (there is no whole day yet)."""
    return max(period.start, today - timedelta(days=1))


def to_date(period: Period, through: date) -> Period:
    """The period from its start to `through`, labelled as a span so far."""
    if period.kind == "custom":
        return Period(period.start, through, custom(period.start, through).label, "custom")
    return Period(period.start, through, _so_far_label(period, through), period.kind)


def _so_far_label(whole: Period, through: date) -> str:
    # Translators: a Django date format for a short day of the year ("Dec 4").
    day = date_format(through, pgettext("date format", "M j"))
    return _("%(period)s to %(day)s") % {"period": whole.label, "day": day}


def same_span(period: Period, earlier: Period, span: Period, *, by_days: bool = False) -> Period:
    """The part of `earlier` (a whole period before `period`) that matches `span`, the part of
    `period` counted so far: the same start, and an end moved back by as many calendar months
    as `earlier` starts before `period` (or by as many days, with `by_days`)."""
    if span == period:
        return earlier
    if by_days:
        end = span.end - (period.start - earlier.start)
    else:
        shift = _month_index(earlier.start) - _month_index(period.start)
        end = add_months(span.end, shift)
    end = min(end, earlier.end)
    if earlier.kind == "custom":
        return Period(earlier.start, end, custom(earlier.start, end).label, "custom")
    return Period(earlier.start, end, _so_far_label(earlier, end), earlier.kind)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month


def latest_completed(period: Period, today: date) -> Period | None:
    """The most recent whole period of the same kind that ended before `today`; for a custom
    range in progress, the range up to yesterday (None when it has no whole day yet)."""
    if period.kind == "month":
        return previous(month(today.year, today.month))
    if period.kind == "quarter":
        return previous(quarter(today.year, (today.month - 1) // 3 + 1))
    if period.kind == "fiscal-year":
        return fiscal_year(fiscal_year_of(today) - 1)
    if period.kind == "year":
        return calendar_year(today.year - 1)
    yesterday = today - timedelta(days=1)
    return custom(period.start, yesterday) if period.start <= yesterday else None


def compare(period: Period, today: date) -> Comparison:
    """The comparison a report of `period` makes on `today` (see `Comparison`)."""
    state = status(period, today)
    current = to_date(period, last_whole_day(period, today)) if state == IN_PROGRESS else period
    # The previous custom range is as many days just before; every other earlier period is a
    # whole number of months before (a year earlier: twelve).
    before = same_span(period, previous(period), current, by_days=period.kind == "custom")
    year = same_span(period, year_earlier(period), current)
    if before == year:
        earlier: tuple[Earlier, ...] = (Earlier(before, _("Change")),)
    else:
        earlier = (Earlier(before, _("Change")), Earlier(year, _("Change on year")))
    return Comparison(
        chosen=period,
        current=current,
        earlier=earlier,
        status=state,
        completed=None if state == COMPLETE else latest_completed(period, today),
    )


def picker_params(period: Period) -> dict[str, str]:
    """The period picker's query parameters that choose `period` (for one-click links)."""
    if period.kind == "fiscal-year":
        return {"kind": period.kind, "year": str(fiscal_year_of(period.start))}
    if period.kind == "year":
        return {"kind": period.kind, "year": str(period.start.year)}
    if period.kind == "quarter":
        number = (period.start.month - 1) // 3 + 1
        return {"kind": period.kind, "year": str(period.start.year), "quarter": str(number)}
    if period.kind == "month":
        year, number = str(period.start.year), str(period.start.month)
        return {"kind": period.kind, "year": year, "month": number}
    return {"kind": "custom", "start": period.start.isoformat(), "end": period.end.isoformat()}


def default_period(today: date) -> Period:
    """The period a report shows when none is chosen: the fiscal year holding `today`."""
    return fiscal_year(fiscal_year_of(today))
