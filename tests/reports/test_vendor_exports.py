"""Searches in vendors' audit exports on the council report and the public page: exact counts
of imports made through the audit services, the CSVs, the empty states, small cells, the page
cache following imports, roles, and that no private field of a vendor row reaches the public."""

import re
from datetime import date, datetime, timedelta
from html import unescape
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from audit.imports.models import ImportRow, RowMatch, RowRecording
from tests.audit.imports.test_public_privacy import MARKERS  # the same markers, one list
from tests.reports.helpers import CHICAGO, QueryMaker, local_time
from tests.reports.pages import ReportPage, parse_csv
from tests.reports.test_council_pages import check_every_table
from tests.reports.test_public_pages import (
    DOWNLOADS,
    PUBLIC_PAGES,
    assert_nothing_shows,
    body,
    publish,
    with_table_csvs,
)
from tests.reports.vendor_exports import VendorSearch, import_searches

COUNCIL_URL = "/reports/"
FY2026 = {"kind": "fiscal-year", "year": "2026"}
COLUMNS = ["Technology", "Searches in vendor exports", "Never logged by the center", "Share"]


@pytest.fixture(autouse=True)
def _fresh_cache_and_july_fiscal_year(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7
    cache.clear()
    yield
    cache.clear()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)


def council_table(client: Client, params: dict) -> ReportPage:
    response = client.get(COUNCIL_URL + "?" + urlencode(params))
    assert response.status_code == 200
    return ReportPage(response.content.decode())


def public_rows(client: Client) -> dict[tuple[str, str], list[str]]:
    page = ReportPage(body(client.get("/")))
    return {(r[0], r[1]): r[2:] for r in page.tables["vendor-exports"].rows}


# --- The council report -------------------------------------------------------------------------


@pytest.fixture
def fy2026_export(maker: QueryMaker):
    """The center logged two plate searches; BPD's Flock export shows four searches, one of
    them the center's (two minutes apart on the vendor's clock), three it never logged."""
    logged = maker.record(
        [
            maker.query(target="ABC123", occurred_at=local_time(date(2025, 8, 10), 10)),
            maker.query(target="QQQ111", occurred_at=local_time(date(2025, 8, 11), 9)),
        ]
    )
    result = import_searches(
        [
            VendorSearch("f-1", at(date(2025, 8, 10), 10, 2), plate="ABC123"),  # matched
            VendorSearch("f-2", at(date(2025, 10, 1), 15), plate="NEW001"),
            VendorSearch("f-3", at(date(2026, 3, 15), 8, 30), plate="NEW002"),
            VendorSearch("f-4", at(date(2025, 3, 1), 11), plate="OLD001"),  # FY2025
        ]
    )
    assert (result.kept, result.matched, result.recorded) == (4, 1, 3)
    return logged


def test_council_table_counts_the_imported_searches(council, fy2026_export):
    page = council_table(council, FY2026)
    table = page.tables["vendor-exports"]
    assert table.caption == "Searches in vendors' audit exports"
    assert table.columns == COLUMNS
    # FY2026: f-1 (logged by the center), f-2 and f-3 (never logged); f-4 is in FY2025.
    assert table.rows == [["License plate readers", "3", "2", "66.7%"]]
    fy2025 = council_table(council, {"kind": "fiscal-year", "year": "2025"})
    assert fy2025.tables["vendor-exports"].rows == [["License plate readers", "1", "1", "100.0%"]]


def test_council_csv_equals_the_table(council, fy2026_export):
    page = check_every_table(
        council, COUNCIL_URL, FY2026, {"vendor-exports"}, "", {"vendor-exports"}
    )
    assert page.tables["vendor-exports"].rows
    response = council.get(COUNCIL_URL + "?" + urlencode({**FY2026, "table": "vendor-exports",
                                                          "format": "csv"}))  # fmt: skip
    assert parse_csv(response.content.decode()) == [
        COLUMNS,
        ["License plate readers", "3", "2", "66.7%"],
    ]
    assert (
        'filename="sightline-vendor-exports-2025-07-01_to_2026-06-30.csv"'
        in (response["Content-Disposition"])
    )


def test_council_numbers_have_thousands_separators(council, maker):
    searches = [
        VendorSearch(f"bulk-{n}", at(date(2025, 9, 1), 8) + timedelta(minutes=n), plate=f"P{n}")
        for n in range(1003)
    ]
    assert import_searches(searches).recorded == 1003
    rows = council_table(council, FY2026).tables["vendor-exports"].rows
    assert rows == [["License plate readers", "1,003", "1,003", "100.0%"]]


def test_council_table_says_how_it_is_counted_and_prints(council, fy2026_export):
    html = unescape(council.get(COUNCIL_URL + "?" + urlencode(FY2026)).content.decode())
    figure = re.search(r'<figure class="report-table" id="vendor-exports">(.*?)</figure>', html,
                       re.S).group(1)  # fmt: skip
    assert "How this is counted:" in figure
    assert "never posted to the log" in figure
    assert 'class="no-print"' in figure  # the CSV link is left off paper, the table is not


def test_council_empty_state_when_no_export_covers_the_period(council, fy2026_export):
    # The export covers March 2025 to March 2026: after it, nothing covers the period.
    after = council_table(council, {"kind": "custom", "start": "2026-04-01", "end": "2026-05-31"})
    table = after.tables["vendor-exports"]
    assert table.rows == []
    assert table.empty_rows == 1
    later = {"kind": "custom", "start": "2026-04-01", "end": "2026-05-31"}
    html = council.get(COUNCIL_URL + "?" + urlencode(later)).content.decode()
    assert "No vendor audit export covers this period." in unescape(html)
    # Inside what the export covers, a month without searches in it is a row of zeros.
    inside = council_table(council, {"kind": "custom", "start": "2025-11-01", "end": "2025-11-30"})
    assert inside.tables["vendor-exports"].rows == [["License plate readers", "0", "0", "-"]]


def test_council_empty_state_with_no_import_at_all(council, db):
    table = council_table(council, FY2026).tables["vendor-exports"]
    assert table.rows == [] and table.empty_rows == 1
    csv_rows = parse_csv(
        council.get(COUNCIL_URL + "?" + urlencode({**FY2026, "table": "vendor-exports",
                                                   "format": "csv"})).content.decode()
    )  # fmt: skip
    assert csv_rows == [COLUMNS]


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("no_role", 403), ("council", 200), ("auditor", 200)],
)
def test_council_table_needs_its_role(client_for, fy2026_export, role, status):
    url = COUNCIL_URL + "?" + urlencode({**FY2026, "table": "vendor-exports", "format": "csv"})
    response = client_for(role).get(url)
    assert response.status_code == status
    if status != 200:
        assert b"vendor" not in response.content.lower()


# --- The public page ----------------------------------------------------------------------------


def days_ago(n: int, hour: int = 10, minute: int = 0) -> datetime:
    day = timezone.localdate() - timedelta(days=n)
    return at(day, hour, minute)


@pytest.fixture
def recent_export(maker: QueryMaker):
    """Six searches in BPD's export: three in the last 30 days (one the center logged too), two
    45 days ago and one 400 days ago, all never logged."""
    maker.record([maker.query(target="ABC123", occurred_at=days_ago(2).astimezone(CHICAGO))])
    result = import_searches(
        [
            VendorSearch("p-1", days_ago(2, minute=3), plate="ABC123"),  # the center's too
            VendorSearch("p-2", days_ago(3), plate="NEW001"),
            VendorSearch("p-3", days_ago(4), plate="NEW002"),
            VendorSearch("p-4", days_ago(45), plate="NEW003"),
            VendorSearch("p-5", days_ago(45, 11), plate="NEW004"),
            VendorSearch("p-6", days_ago(400), plate="NEW005"),
        ]
    )
    assert (result.kept, result.matched, result.recorded) == (6, 1, 5)
    return result


def expected_public() -> dict[tuple[str, str], list[str]]:
    """The figures recent_export gives, with the year to date depending on today's date."""
    today = timezone.localdate()
    this_year = [today - timedelta(days=n) for n in (2, 3, 4, 45, 45, 400)]
    in_year = [day.year == today.year for day in this_year]
    ytd_searches = sum(in_year)
    ytd_never = sum(in_year[1:])
    share = f"{ytd_never * 100 / ytd_searches:.1f}%" if ytd_searches else "—"
    lpr = "License plate readers"
    return {
        (lpr, "Searches in vendors' exports"): ["3", str(ytd_searches), "6"],
        (lpr, "Never logged by the center"): ["2", str(ytd_never), "5"],
        (lpr, "Share never logged"): ["66.7%", share, "83.3%"],
    }


def test_public_page_shows_the_imported_searches(recent_export, anon_client):
    assert public_rows(anon_client) == expected_public()
    page = ReportPage(body(anon_client.get("/")))
    table = page.tables["vendor-exports"]
    assert table.caption == "Searches in vendors' audit exports"
    assert table.columns == ["Technology", "Measure", "Last 30 days", "This year to date",
                             "All time"]  # fmt: skip
    html = body(anon_client.get("/"))
    assert 'href="#vendor-records"' in html
    assert "What the vendors' own records show" in unescape(html)


def test_public_csv_equals_the_table(recent_export, anon_client):
    response = anon_client.get("/", {"table": "vendor-exports", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = parse_csv(body(response))
    assert rows[0] == ["Technology", "Measure", "Last 30 days", "This year to date", "All time"]
    assert {(r[0], r[1]): r[2:] for r in rows[1:]} == expected_public()


def test_public_page_thousands_separators(maker, anon_client):
    searches = [
        VendorSearch(f"bulk-{n}", days_ago(5) + timedelta(minutes=n // 4), plate=f"P{n}")
        for n in range(1200)
    ]
    import_searches(searches)
    rows = public_rows(anon_client)
    assert rows[("License plate readers", "Searches in vendors' exports")] == ["1,200"] * 3


def test_public_empty_state(db, anon_client):
    page = ReportPage(body(anon_client.get("/")))
    assert page.tables["vendor-exports"].rows == []
    assert page.tables["vendor-exports"].empty_rows == 1
    assert "No vendor audit export has been imported yet." in body(anon_client.get("/"))
    spanish = body(Client(HTTP_ACCEPT_LANGUAGE="es").get("/"))
    assert 'id="vendor-exports"' in spanish


def test_public_small_cells_are_withheld(recent_export, anon_client, settings):
    settings.SIGHTLINE_PUBLIC_MIN_CELL = 3
    rows = public_rows(anon_client)
    lpr = "License plate readers"
    searches = rows[(lpr, "Searches in vendors' exports")]
    never = rows[(lpr, "Never logged by the center")]
    shares = rows[(lpr, "Share never logged")]
    assert searches[0] == "3" and never[0] == "fewer than 3"  # 2 is a small cell
    assert shares[0] == "66.7%"  # of 3 searches, not a small whole
    assert searches[2] == "6" and never[2] == "5"
    settings.SIGHTLINE_PUBLIC_MIN_CELL = 4
    cache.clear()
    rows = public_rows(anon_client)
    assert rows[(lpr, "Searches in vendors' exports")][0] == "fewer than 4"
    assert rows[(lpr, "Share never logged")][0] == "—"  # the whole is a small cell
    csv_text = body(anon_client.get("/", {"table": "vendor-exports", "format": "csv"}))
    assert "fewer than 4" in csv_text
    assert not re.search(r",(1|2|3)(,|\r\n)", csv_text.split("\r\n", 1)[1])


def test_an_import_invalidates_the_cached_page_without_a_new_head(maker, anon_client):
    maker.record([maker.query(occurred_at=days_ago(1).astimezone(CHICAGO))])
    publish()
    assert anon_client.get("/")["X-Page-Cache"] == "miss"
    assert anon_client.get("/")["X-Page-Cache"] == "hit"
    assert public_rows(anon_client) == {}
    import_searches([VendorSearch("c-1", days_ago(3), plate="NEW001")])
    response = anon_client.get("/")
    assert response["X-Page-Cache"] == "miss"
    rows = public_rows(anon_client)
    assert rows[("License plate readers", "Searches in vendors' exports")] == ["1", "1", "1"]
    # An import that only matches what the center logged records nothing, and still counts.
    maker.record([maker.query(target="MATCH1", occurred_at=days_ago(6).astimezone(CHICAGO))])
    anon_client.get("/")
    assert anon_client.get("/")["X-Page-Cache"] == "hit"
    recordings = RowRecording.objects.count()
    import_searches([VendorSearch("c-2", days_ago(6, minute=1), plate="MATCH1")], name="second.csv")
    assert RowRecording.objects.count() == recordings and RowMatch.objects.count() == 1
    assert anon_client.get("/")["X-Page-Cache"] == "miss"
    assert public_rows(anon_client)[("License plate readers", "Searches in vendors' exports")] == [
        "2", "2", "2",
    ]  # fmt: skip


def test_signed_in_staff_see_the_same_public_figures(recent_export, client_for):
    assert public_rows(client_for("council")) == expected_public()


def test_no_private_field_of_an_import_reaches_a_public_page(maker, anon_client):
    # The search's minute is half an hour from the clock's, so the times the pages show of now
    # (the signed head's, for one) cannot contain the search's time by chance.
    minute = (timezone.localtime().minute + 30) % 60
    moment = days_ago(3, 13, minute)
    import_searches(
        [
            VendorSearch(MARKERS["row_id"], moment, plate=MARKERS["plate"],
                         operator=MARKERS["operator"], reason=MARKERS["reason"],
                         case=MARKERS["case"], networks="1523"),
            VendorSearch("other-1", days_ago(4), plate="NEW001"),
            VendorSearch("other-2", days_ago(5), plate="NEW002"),
        ]
    )  # fmt: skip
    head = publish()
    row = ImportRow.objects.order_by("line").first()
    secrets = [v.lower() for v in MARKERS.values()] + [
        "rsnmark4402",
        "vendormark",
        row.target_fingerprint.lower(),
        row.row_key.lower(),
        f"13:{minute:02d}",
        f"1:{minute:02d}",
    ]
    rows = public_rows(anon_client)
    assert rows[("License plate readers", "Searches in vendors' exports")][2] == "3"
    urls = [*PUBLIC_PAGES, "/log/", *DOWNLOADS, "/api/v1/stats/",
            f"/api/v1/log/entries?start=0&end={head.tree_size}"]  # fmt: skip
    urls = with_table_csvs(urls)
    assert "/?table=vendor-exports&format=csv" in urls
    assert assert_nothing_shows(urls, secrets) == 2 * len(urls) > 20
