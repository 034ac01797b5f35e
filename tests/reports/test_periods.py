"""Reporting periods: fiscal-year boundaries, quarters, months, comparisons, and rollup_rows
covering exactly a period that starts or ends in the middle of a month."""

from datetime import date, timedelta

import pytest

from reports import periods, selectors
from reports.models import HourRollup, OperatorRollup, UsageRollup
from reports.periods import Period
from tests.reports.helpers import QueryMaker, local_time


@pytest.fixture
def july_fy(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7


@pytest.fixture
def january_fy(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 1


# --- Fiscal years ---------------------------------------------------------------------------


def test_fiscal_year_starting_in_july(july_fy):
    fy = periods.fiscal_year(2026)
    assert (fy.start, fy.end) == (date(2025, 7, 1), date(2026, 6, 30))
    assert fy.label == "FY2026"
    assert fy.kind == "fiscal-year"
    assert fy.days == 365
    assert fy.months()[0] == date(2025, 7, 1)
    assert fy.months()[-1] == date(2026, 6, 1)
    assert len(fy.months()) == 12
    # FY2024 holds 29 February 2024.
    assert periods.fiscal_year(2024).days == 366


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 6, 30), 2025),
        (date(2025, 7, 1), 2026),
        (date(2025, 12, 31), 2026),
        (date(2026, 1, 1), 2026),
        (date(2026, 6, 30), 2026),
        (date(2026, 7, 1), 2027),
    ],
)
def test_fiscal_year_of_with_july_start(july_fy, day, expected):
    assert periods.fiscal_year_of(day) == expected
    fy = periods.fiscal_year(expected)
    assert fy.start <= day <= fy.end


def test_fiscal_year_with_january_start_is_the_calendar_year(january_fy):
    fy = periods.fiscal_year(2026)
    assert (fy.start, fy.end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert periods.fiscal_year_of(date(2026, 1, 1)) == 2026
    assert periods.fiscal_year_of(date(2025, 12, 31)) == 2025
    assert periods.fiscal_year_of(date(2026, 7, 1)) == 2026
    assert periods.previous(fy) == periods.fiscal_year(2025)
    assert periods.previous(fy).start == date(2025, 1, 1)
    assert periods.year_earlier(fy).end == date(2025, 12, 31)


def test_fiscal_year_starting_in_october(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 10
    fy = periods.fiscal_year(2026)
    assert (fy.start, fy.end) == (date(2025, 10, 1), date(2026, 9, 30))
    assert periods.fiscal_year_of(date(2025, 9, 30)) == 2025
    assert periods.fiscal_year_of(date(2025, 10, 1)) == 2026


@pytest.mark.parametrize("start_month", range(1, 13))
def test_every_day_falls_in_exactly_the_fiscal_year_fiscal_year_of_names(settings, start_month):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = start_month
    day = date(2023, 12, 25)
    while day <= date(2026, 1, 10):
        fy = periods.fiscal_year(periods.fiscal_year_of(day))
        assert fy.start <= day <= fy.end, (start_month, day, fy)
        assert fy.start.month == start_month and fy.start.day == 1
        assert (fy.end + timedelta(days=1)) == periods.fiscal_year(fy_number(fy) + 1).start
        day += timedelta(days=9)


def fy_number(fy: Period) -> int:
    return int(fy.label.removeprefix("FY"))


def test_previous_and_year_earlier_of_a_fiscal_year(july_fy):
    fy = periods.fiscal_year(2026)
    before = periods.previous(fy)
    assert (before.start, before.end, before.label) == (
        date(2024, 7, 1),
        date(2025, 6, 30),
        "FY2025",
    )
    assert periods.year_earlier(fy) == before
    assert periods.previous(before).label == "FY2024"


# --- Months, quarters, calendar years -------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "number", "last"),
    [(2024, 2, 29), (2025, 2, 28), (2000, 2, 29), (2100, 2, 28), (2026, 4, 30), (2026, 12, 31)],
)
def test_month_ends_on_its_last_day(year, number, last):
    period = periods.month(year, number)
    assert period.start == date(year, number, 1)
    assert period.end == date(year, number, last)
    assert period.days == last
    assert period.kind == "month"
    assert period.months() == [date(year, number, 1)]


def test_month_label():
    assert periods.month(2026, 2).label == "February 2026"


@pytest.mark.parametrize(
    ("number", "start", "end"),
    [(1, (1, 1), (3, 31)), (2, (4, 1), (6, 30)), (3, (7, 1), (9, 30)), (4, (10, 1), (12, 31))],
)
def test_quarters(number, start, end):
    period = periods.quarter(2026, number)
    assert period.start == date(2026, *start)
    assert period.end == date(2026, *end)
    assert period.label == f"Q{number} 2026"
    assert len(period.months()) == 3


def test_first_quarter_of_a_leap_year_has_91_days():
    assert periods.quarter(2024, 1).days == 91
    assert periods.quarter(2025, 1).days == 90


def test_calendar_year():
    period = periods.calendar_year(2024)
    assert (period.start, period.end, period.label, period.kind) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
        "2024",
        "year",
    )
    assert period.days == 366


@pytest.mark.parametrize(
    ("period", "previous", "year_earlier"),
    [
        (periods.month(2026, 3), periods.month(2026, 2), periods.month(2025, 3)),
        (periods.month(2026, 1), periods.month(2025, 12), periods.month(2025, 1)),
        (periods.month(2024, 3), periods.month(2024, 2), periods.month(2023, 3)),
        (periods.month(2024, 2), periods.month(2024, 1), periods.month(2023, 2)),
        (periods.quarter(2026, 1), periods.quarter(2025, 4), periods.quarter(2025, 1)),
        (periods.quarter(2026, 3), periods.quarter(2026, 2), periods.quarter(2025, 3)),
        (periods.calendar_year(2026), periods.calendar_year(2025), periods.calendar_year(2025)),
    ],
    ids=["month", "january", "march-leap", "february-leap", "q1", "q3", "year"],
)
def test_previous_and_year_earlier(period, previous, year_earlier):
    assert periods.previous(period) == previous
    assert periods.year_earlier(period) == year_earlier
    assert periods.previous(period).end == period.start - timedelta(days=1)


def test_year_earlier_of_february_in_a_leap_year_is_the_whole_february():
    feb = periods.year_earlier(periods.month(2024, 2))
    assert (feb.start, feb.end) == (date(2023, 2, 1), date(2023, 2, 28))


@pytest.mark.parametrize(
    ("start", "end", "previous", "year_earlier"),
    [
        (
            date(2026, 1, 10),
            date(2026, 1, 20),
            (date(2025, 12, 30), date(2026, 1, 9)),
            (date(2025, 1, 10), date(2025, 1, 20)),
        ),
        (
            date(2026, 3, 1),
            date(2026, 3, 1),
            (date(2026, 2, 28), date(2026, 2, 28)),
            (date(2025, 3, 1), date(2025, 3, 1)),
        ),
        (
            date(2024, 2, 15),
            date(2024, 3, 15),
            (date(2024, 1, 16), date(2024, 2, 14)),
            (date(2023, 2, 15), date(2023, 3, 15)),
        ),
        (
            date(2025, 12, 15),
            date(2026, 2, 14),
            (date(2025, 10, 14), date(2025, 12, 14)),
            (date(2024, 12, 15), date(2025, 2, 14)),
        ),
    ],
)
def test_custom_ranges(start, end, previous, year_earlier):
    period = periods.custom(start, end)
    assert period.kind == "custom"
    assert period.label == f"{start.isoformat()} to {end.isoformat()}"
    before = periods.previous(period)
    assert (before.start, before.end) == previous
    assert before.days == period.days
    assert before.kind == "custom"
    earlier = periods.year_earlier(period)
    assert (earlier.start, earlier.end) == year_earlier
    assert earlier.kind == "custom"


def test_custom_range_from_a_leap_day_a_year_earlier():
    earlier = periods.year_earlier(periods.custom(date(2024, 2, 29), date(2024, 3, 31)))
    assert (earlier.start, earlier.end) == (date(2023, 2, 28), date(2023, 3, 31))


def test_months_of_a_period_spanning_a_year_end():
    period = periods.custom(date(2025, 11, 30), date(2026, 2, 1))
    assert period.months() == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 3, 31), -13, date(2025, 2, 28)),
        (date(2026, 7, 1), 12, date(2027, 7, 1)),
    ],
)
def test_add_months(day, months, expected):
    assert periods.add_months(day, months) == expected


# --- rollup_rows covers exactly the period --------------------------------------------------

# (local date, hour) of one query each: the days just outside and just inside each edge.
DAYS = [
    (date(2025, 12, 31), 23),
    (date(2026, 1, 14), 23),
    (date(2026, 1, 15), 0),
    (date(2026, 1, 31), 12),
    (date(2026, 2, 1), 0),
    (date(2026, 2, 28), 23),
    (date(2026, 3, 1), 0),
    (date(2026, 3, 10), 23),
    (date(2026, 3, 11), 0),
    (date(2026, 3, 31), 23),
    (date(2026, 4, 1), 0),
]


@pytest.fixture
def one_query_per_day(maker: QueryMaker):
    maker.record([maker.query(occurred_at=local_time(day, hour)) for day, hour in DAYS])
    return [day for day, _ in DAYS]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 1, 15), date(2026, 3, 10)),  # starts and ends mid-month
        (date(2026, 1, 15), date(2026, 2, 28)),  # starts mid-month, ends at a month end
        (date(2026, 1, 1), date(2026, 3, 10)),  # starts on the 1st, ends mid-month
        (date(2026, 1, 1), date(2026, 3, 31)),  # whole months only
        (date(2026, 1, 15), date(2026, 1, 31)),  # inside one month
        (date(2026, 1, 31), date(2026, 2, 1)),  # two days across a month end
        (date(2026, 3, 10), date(2026, 3, 10)),  # one day
        (date(2026, 2, 1), date(2026, 2, 28)),  # exactly February
        (date(2026, 2, 2), date(2026, 2, 27)),  # February without its first and last day
        (date(2025, 12, 31), date(2026, 4, 1)),  # one day beyond each month edge
    ],
)
def test_rollup_rows_cover_exactly_the_period(one_query_per_day, start, end):
    period = periods.custom(start, end)
    expected = sum(1 for day in one_query_per_day if start <= day <= end)
    for model in (UsageRollup, OperatorRollup, HourRollup):
        rows = selectors.rollup_rows(model, period)
        assert sum(r.queries for r in rows) == expected, (model.__name__, start, end)
    assert selectors.usage_totals(period)["queries"] == expected
    # Month rows are only used for months wholly inside the period.
    for row in selectors.rollup_rows(UsageRollup, period).filter(granularity="month"):
        assert row.period_start >= start
        assert periods.add_months(row.period_start, 1) - timedelta(days=1) <= end
    for row in selectors.rollup_rows(UsageRollup, period).filter(granularity="day"):
        assert start <= row.period_start <= end


def test_rollup_rows_of_a_mid_month_period_leave_out_both_neighbouring_days(one_query_per_day):
    period = periods.custom(date(2026, 1, 15), date(2026, 3, 10))
    by_month = selectors.usage_by_month(period)
    assert by_month == {
        (date(2026, 1, 1), "license-plate-reader"): 2,  # Jan 15 and Jan 31, not Jan 14
        (date(2026, 2, 1), "license-plate-reader"): 2,
        (date(2026, 3, 1), "license-plate-reader"): 2,  # Mar 1 and Mar 10, not Mar 11
    }


def test_rollup_rows_for_one_technology(one_query_per_day, maker: QueryMaker):
    maker.record([maker.query(technology="nibin", occurred_at=local_time(date(2026, 2, 10), 9))])
    period = periods.month(2026, 2)
    assert selectors.usage_totals(period)["queries"] == 3
    assert selectors.usage_totals(period, "nibin")["queries"] == 1
    assert selectors.usage_totals(period, "license-plate-reader")["queries"] == 2
    assert selectors.usage_totals(period, "face-recognition")["queries"] == 0


# --- Periods in progress: compared with the same span of earlier periods ----------------------


def spans(comparison) -> list[tuple[date, date, str]]:
    return [(e.period.start, e.period.end, e.period.label) for e in comparison.earlier]


def test_fiscal_year_in_progress_is_compared_with_the_same_dates_a_year_earlier(july_fy):
    # The case of the issue: on 5 December, FY2027 has run five months and four days.
    comparison = periods.compare(periods.fiscal_year(2027), date(2026, 12, 5))
    assert comparison.status == periods.IN_PROGRESS
    assert comparison.in_progress
    current = comparison.current
    assert (current.start, current.end, current.label) == (
        date(2026, 7, 1),
        date(2026, 12, 4),  # the last whole day
        "FY2027 to Dec 4",
    )
    assert current.kind == "fiscal-year"
    # Previous fiscal year and the same period a year earlier are one: a single comparison.
    assert spans(comparison) == [(date(2025, 7, 1), date(2025, 12, 4), "FY2026 to Dec 4")]
    assert comparison.earlier[0].change_label == "Change"
    assert comparison.completed == periods.fiscal_year(2026)


def test_month_in_progress_has_two_comparisons_of_the_same_days():
    comparison = periods.compare(periods.month(2026, 12), date(2026, 12, 5))
    assert (comparison.current.start, comparison.current.end) == (
        date(2026, 12, 1),
        date(2026, 12, 4),
    )
    assert comparison.current.label == "December 2026 to Dec 4"
    assert spans(comparison) == [
        (date(2026, 11, 1), date(2026, 11, 4), "November 2026 to Nov 4"),
        (date(2025, 12, 1), date(2025, 12, 4), "December 2025 to Dec 4"),
    ]
    assert [e.change_label for e in comparison.earlier] == ["Change", "Change on year"]
    assert comparison.completed == periods.month(2026, 11)


def test_month_in_progress_on_its_last_day_stops_at_the_shorter_previous_month():
    comparison = periods.compare(periods.month(2026, 3), date(2026, 3, 31))
    assert comparison.status == periods.IN_PROGRESS  # the 31st is not over yet
    assert comparison.current.end == date(2026, 3, 30)
    assert spans(comparison)[0][:2] == (date(2026, 2, 1), date(2026, 2, 28))
    assert spans(comparison)[1][:2] == (date(2025, 3, 1), date(2025, 3, 30))


def test_quarter_in_progress():
    comparison = periods.compare(periods.quarter(2026, 4), date(2026, 11, 15))
    assert (comparison.current.start, comparison.current.end) == (
        date(2026, 10, 1),
        date(2026, 11, 14),
    )
    assert [s[:2] for s in spans(comparison)] == [
        (date(2026, 7, 1), date(2026, 8, 14)),
        (date(2025, 10, 1), date(2025, 11, 14)),
    ]
    assert comparison.completed == periods.quarter(2026, 3)


def test_calendar_year_to_date_across_a_leap_day():
    comparison = periods.compare(periods.calendar_year(2024), date(2024, 3, 1))
    assert (comparison.current.start, comparison.current.end) == (
        date(2024, 1, 1),
        date(2024, 2, 29),
    )
    # 2023 has no 29 February: its span ends on the 28th. One comparison for a year.
    assert spans(comparison) == [(date(2023, 1, 1), date(2023, 2, 28), "2023 to Feb 28")]
    assert comparison.completed == periods.calendar_year(2023)


def test_custom_range_in_progress_moves_back_by_days_and_by_a_year():
    period = periods.custom(date(2026, 11, 20), date(2026, 12, 31))
    comparison = periods.compare(period, date(2026, 12, 5))
    current = comparison.current
    assert (current.start, current.end, current.label) == (
        date(2026, 11, 20),
        date(2026, 12, 4),
        "2026-11-20 to 2026-12-04",
    )
    # The previous range is the 42 days just before; its first 15 days match the 15 so far.
    assert spans(comparison) == [
        (date(2026, 10, 9), date(2026, 10, 23), "2026-10-09 to 2026-10-23"),
        (date(2025, 11, 20), date(2025, 12, 4), "2025-11-20 to 2025-12-04"),
    ]
    assert all((end - start).days + 1 == current.days for start, end, _label in spans(comparison))
    assert comparison.completed == periods.custom(date(2026, 11, 20), date(2026, 12, 4))


def test_a_period_that_began_today_counts_today_so_far():
    comparison = periods.compare(periods.month(2026, 12), date(2026, 12, 1))
    assert comparison.status == periods.IN_PROGRESS
    assert (comparison.current.start, comparison.current.end) == (
        date(2026, 12, 1),
        date(2026, 12, 1),
    )
    assert spans(comparison)[0][:2] == (date(2026, 11, 1), date(2026, 11, 1))
    # A custom range that began today has no whole day to offer instead.
    today = periods.compare(periods.custom(date(2026, 12, 1), date(2026, 12, 9)), date(2026, 12, 1))
    assert today.completed is None


def test_a_completed_fiscal_year_is_compared_whole_with_one_comparison(july_fy):
    comparison = periods.compare(periods.fiscal_year(2026), date(2026, 12, 5))
    assert comparison.status == periods.COMPLETE
    assert comparison.current == periods.fiscal_year(2026)
    assert spans(comparison) == [(date(2024, 7, 1), date(2025, 6, 30), "FY2025")]
    assert comparison.completed is None


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 6, 29), periods.IN_PROGRESS),
        (date(2026, 6, 30), periods.IN_PROGRESS),  # its last day is not over
        (date(2026, 7, 1), periods.COMPLETE),
        (date(2025, 7, 1), periods.IN_PROGRESS),
        (date(2025, 6, 30), periods.NOT_STARTED),
    ],
)
def test_status_at_the_edges(july_fy, today, expected):
    assert periods.status(periods.fiscal_year(2026), today) == expected


def test_a_completed_month_keeps_two_whole_comparisons():
    comparison = periods.compare(periods.month(2026, 3), date(2026, 12, 5))
    assert comparison.current == periods.month(2026, 3)
    assert [(e.period, e.change_label) for e in comparison.earlier] == [
        (periods.month(2026, 2), "Change"),
        (periods.month(2025, 3), "Change on year"),
    ]


def test_a_period_not_started_is_shown_whole_and_offers_the_last_complete_one(july_fy):
    comparison = periods.compare(periods.fiscal_year(2028), date(2026, 12, 5))
    assert comparison.status == periods.NOT_STARTED
    assert comparison.current == periods.fiscal_year(2028)
    assert comparison.completed == periods.fiscal_year(2026)


def test_january_fiscal_years_in_progress_are_calendar_years_to_date(january_fy):
    comparison = periods.compare(periods.fiscal_year(2026), date(2026, 5, 10))
    assert (comparison.current.start, comparison.current.end) == (
        date(2026, 1, 1),
        date(2026, 5, 9),
    )
    assert spans(comparison) == [(date(2025, 1, 1), date(2025, 5, 9), "FY2025 to May 9")]


@pytest.mark.parametrize(
    "period",
    [
        periods.fiscal_year(2026),
        periods.calendar_year(2025),
        periods.quarter(2026, 4),
        periods.month(2026, 2),
        periods.custom(date(2025, 8, 15), date(2026, 2, 10)),
    ],
    ids=["fiscal-year", "year", "quarter", "month", "custom"],
)
def test_picker_params_choose_the_same_period(july_fy, period):
    from reports.forms import PeriodPickerForm

    form = PeriodPickerForm(periods.picker_params(period))
    assert form.is_valid(), form.errors
    assert form.period() == period


def test_period_labels_are_in_the_language_of_the_request(july_fy):
    """Periods are made per request: their labels and change headings follow its language."""
    from django.utils import translation

    with translation.override("es"):
        assert periods.month(2026, 12).label == "diciembre de 2026"
        assert periods.quarter(2026, 4).label == "T4 2026"
        assert periods.fiscal_year(2026).label == "FY2026"
        assert periods.custom(date(2026, 1, 1), date(2026, 1, 31)).label == (
            "2026-01-01 a 2026-01-31"
        )
        comparison = periods.compare(periods.fiscal_year(2027), date(2026, 12, 5))
        assert comparison.current.label == "FY2027 hasta el 4 dic"
        assert comparison.earlier[0].change_label == "Variación"
        by_month = periods.compare(periods.month(2026, 3), date(2026, 4, 10))
        assert [e.change_label for e in by_month.earlier] == ["Variación", "Variación interanual"]
    # And in English again outside the block.
    assert periods.quarter(2026, 4).label == "Q4 2026"


def test_the_period_picker_speaks_the_language_of_the_request():
    from django.utils import translation

    from reports.forms import PeriodPickerForm

    with translation.override("es"):
        labels = [str(field.label) for field in PeriodPickerForm()]
    assert labels == ["Período", "Año", "Trimestre", "Mes", "Desde", "Hasta"]
