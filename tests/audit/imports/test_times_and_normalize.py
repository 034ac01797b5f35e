"""Vendor timestamps in every shape exports ship, and the normalisation of vendor values."""

from datetime import UTC, datetime

import pytest

from audit.imports import normalize
from audit.imports.times import TimeProblem, TimeReader
from tests.audit.imports.helpers import CHICAGO, NOW

EXPECTED = datetime(2026, 7, 4, 19, 5, tzinfo=UTC)  # 2:05 PM CDT


@pytest.mark.parametrize(
    "text",
    [
        "2026-07-04 14:05",
        "2026-07-04 14:05:00",
        "2026-07-04T14:05:00.000",
        "2026-07-04T19:05:00Z",
        "2026-07-04T19:05:00.000000Z",
        "2026-07-04 14:05:00 -05:00",
        "2026-07-04 14:05 -0500",
        "2026-07-04 14:05 UTC-5",
        "2026-07-04 14:05:00 CDT",
        "2026-07-04 13:05:00 CST",
        "2026-07-04 15:05 EDT",
        "2026-07-04 14:05 America/Chicago",
        "2026-07-04 14:05 (America/Chicago)",
        "07/04/2026 14:05",
        "7/4/2026 2:05 PM",
        "7/4/26 2:05pm",
        "07/04/2026, 02:05:00 PM",
        "07/04/2026 2:05 p.m.",
        "7-4-2026 2:05 PM CDT",
        "2026-07-04 19:05 UTC",
        "2026-07-04 19:05 GMT",
    ],
)
def test_every_accepted_shape_reads_to_the_same_moment(text):
    assert TimeReader(zone=CHICAGO, now=NOW).read(text) == EXPECTED


def test_midnight_and_noon_in_12_hour_form():
    reader = TimeReader(zone=UTC, now=NOW)
    assert reader.read("2026-07-04 12:00 AM").hour == 0
    assert reader.read("2026-07-04 12:00 PM").hour == 12


def test_a_strptime_format_reads_naive_times_in_the_zone():
    reader = TimeReader(fmt="%d.%m.%Y %H.%M", zone=CHICAGO, now=NOW)
    assert reader.read("04.07.2026 14.05") == EXPECTED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the time is empty"),
        ("next tuesday", "'next tuesday' is not a date and time"),
        ("2026-02-30 10:00", "is not a real date and time"),
        ("2026-07-04 00:30 AM", "has hour 0 with AM"),
        ("2026-07-04 14:05 XST", "unknown time zone 'XST'"),
        ("1999-12-31 23:00 UTC", "is before 2000-01-01"),
        ("2027-06-01 10:00 UTC", "more than a day in the future"),
    ],
)
def test_unreadable_times_say_why(text, message):
    with pytest.raises(TimeProblem, match=message):
        TimeReader(zone=CHICAGO, now=NOW).read(text)


@pytest.mark.parametrize(
    "written",
    ["", "N/A", "n/a", "NA", "none", "None", "-", "--", "0", "000", "unknown", "UNK", "TBD",
     "xx-xxxx", "#", "Other - Not Applicable", "not applicable", "?", "\u2014"],
)  # fmt: skip
def test_placeholder_case_numbers_count_as_missing(written):
    assert normalize.case_number(written) == ""


@pytest.mark.parametrize("written", ["BPD-2026-001234", "26-1234", "0042", "A-0"])
def test_real_case_numbers_are_kept(written):
    assert normalize.case_number(f"  {written} ") == written


@pytest.mark.parametrize(
    ("networks", "search_type", "scope"),
    [
        (None, "Search", "local"),
        (1, "Search", "local"),
        (2, "Search", "regional"),
        (99, "Search", "regional"),
        (100, "Search", "national"),
        (1500, "Search", "national"),
        (1, "National Lookup", "national"),
        (1, "Statewide Lookup", "regional"),
    ],
)
def test_scope_follows_the_reach_of_the_search(networks, search_type, scope):
    assert normalize.ScopeRule().scope(networks, search_type) == scope


@pytest.mark.parametrize(
    ("value", "expected"), [("1,500", 1500), ("12 networks", 12), ("", None), ("all", None)]
)
def test_network_counts(value, expected):
    assert normalize.count(value) == expected


@pytest.mark.parametrize(
    ("search_type", "plate", "query_type"),
    [
        ("Search", "ABC1234", "plate-search"),
        ("Lookup", "ABC1234", "plate-search"),
        ("Search", "AB*123", "partial-plate-search"),
        ("Search", "", "vehicle-attribute-search"),
        ("Visual Search", "", "vehicle-attribute-search"),
        ("Convoy", "ABC1234", "vehicle-attribute-search"),
        ("Hotlist Alert", "ABC1234", "hotlist-alert"),
        ("Something new", "ABC1234", "plate-search"),
    ],
)
def test_flock_search_types_map_to_query_types(search_type, plate, query_type):
    assert normalize.flock_query_type(search_type, plate) == query_type
