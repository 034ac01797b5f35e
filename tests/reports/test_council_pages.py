"""The council report and annual report pages: roles, the period picker, every table's CSV equal
to the table as rendered, charts equal to their tables, plotly served locally, and the CSP."""

import re
from datetime import date
from decimal import Decimal
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import plotly
import pytest
from django.test import Client
from django.utils import timezone

from audit.models import Technology
from audit.workspace import services
from reports import periods
from reports.models import AnnualStatement, Contract, Expenditure, Vendor
from tests.reports.helpers import FACE, LPR, NIBIN, QueryMaker, local_time
from tests.reports.pages import ReportPage, as_number, csp_directives, parse_csv

FY2026 = {"kind": "fiscal-year", "year": "2026"}
COUNCIL_URL = "/reports/"
ANNUAL_URL = f"/reports/annual/{FACE}/"
WEIRD_UNIT = 'Crime Analysis, "Special" & Co'


@pytest.fixture(autouse=True)
def _july_fiscal_year(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7


@pytest.fixture
def report_data(maker: QueryMaker, users):
    """A little of everything in FY2026 (and some FY2025 for the comparisons)."""
    q = maker.query
    recorded = maker.record(
        [
            q(occurred_at=local_time(date(2025, 8, 10), 10)),
            q(
                operator="B6001",
                requesting_agency="MGM",
                on_behalf_of="MGM",
                occurred_at=local_time(date(2025, 9, 1), 3),
            ),
            q(
                technology=FACE,
                query_type="photo-probe",
                operator="B5150",
                supervisor="S900",
                offense_code="09A",
                target="probe-1",
                occurred_at=local_time(date(2026, 1, 5), 9),
            ),
            q(
                technology=NIBIN,
                query_type="firearm-trace",
                operator="X999",
                requesting_agency="ZZ9",
                case_number="",
                scope="national",
                offense_code="13A",
                target="",
                occurred_at=local_time(date(2026, 2, 10), 23, 59),
            ),
            q(occurred_at=local_time(date(2025, 3, 1), 11)),  # FY2025
            q(technology=FACE, supervisor="S900", occurred_at=local_time(date(2024, 9, 1), 11)),
        ]
    )
    maker.outcome(recorded[2].sequence, "lead")
    maker.outcome(recorded[2].sequence, "arrest")
    maker.outcome(recorded[0].sequence, "false-match")
    services.record_review(
        entry=maker.entry(recorded[3].sequence),
        reviewer=users["auditor"],
        finding="non-compliant",
        note="No case number.",
    )
    vendor = Vendor.objects.create(name="Roadside Optics")
    lpr = Contract.objects.create(
        vendor=vendor,
        technology=Technology.objects.get(slug=LPR),
        title="LPR cameras, hosted",
        total_value=Decimal("412500.00"),
        start_date=date(2024, 11, 1),
        end_date=date(2026, 10, 31),
        funding_source="grant",
    )
    center = Contract.objects.create(
        vendor=vendor,
        technology=None,
        title="RTCC build-out",
        total_value=Decimal("2150000.00"),
        start_date=date(2024, 7, 1),
        end_date=date(2026, 6, 30),
        funding_source="general-fund",
    )
    Expenditure.objects.create(contract=lpr, date=date(2025, 7, 1), amount=Decimal("0.10"))
    Expenditure.objects.create(contract=lpr, date=date(2026, 6, 30), amount=Decimal("0.20"))
    Expenditure.objects.create(contract=lpr, date=date(2025, 6, 30), amount=Decimal("5000.00"))
    Expenditure.objects.create(contract=center, date=date(2025, 9, 15), amount=Decimal("1000"))
    return recorded


def get(client: Client, url: str, params: dict | None = None):
    return client.get(url + ("?" + urlencode(params) if params else ""))


def page_of(response) -> ReportPage:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return ReportPage(response.content.decode())


# --- Roles ----------------------------------------------------------------------------------

EXPECTED = {
    "anonymous": "login",
    "no_role": 403,
    "council": 200,
    "auditor": 200,
    "administrator": 200,
    "superuser": 200,
}
URLS = [
    COUNCIL_URL,
    COUNCIL_URL + "?table=by-technology&format=csv",
    ANNUAL_URL,
    ANNUAL_URL + "?fy=2026&table=flags&format=csv",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("role", EXPECTED)
def test_roles(client_for, role, url):
    response = client_for(role).get(url)
    if EXPECTED[role] == "login":
        assert response.status_code == 302
        location = urlsplit(response["Location"])
        assert location.path == "/accounts/login/"
        assert parse_qs(location.query)["next"] == [url]
    else:
        assert response.status_code == EXPECTED[role]
    if response.status_code != 200:
        assert b"Queries by" not in response.content
        assert not response["Content-Type"].startswith("text/csv")


def test_an_inactive_council_member_is_sent_to_log_in(users):
    user = users["council"]
    user.is_active = False
    user.save()
    client = Client()
    client.force_login(user)
    assert client.get(COUNCIL_URL).status_code in (302, 403)


# --- Every table: CSV equal to the rendered table, chart equal to the table ------------------

COUNCIL_TABLES = {
    "by-technology",
    "by-month",
    "by-query-type",
    "by-offense",
    "by-unit",
    "by-agency",
    "by-hour",
    "flags",
    "flag-trend",
    "reviews",
    "vendor-exports",
    "outcomes",
    "outcomes-by-offense",
    "spending-in-period",
    "spending-by-year",
    "contracts",
    "cost-per-query",
}
ANNUAL_TABLES = {
    "monthly",
    "query_type",
    "offense_category",
    "units",
    "agencies",
    "scope",
    "flags",
    "reviews",
    "outcomes",
    "funding",
}


MONEY = re.compile(r"-?\$\d{1,3}(,\d{3})*\.\d\d")
COUNT = re.compile(r"-?\d{1,3}(,\d{3})*")


def csv_cells(html_row: list[str], csv_row: list[str]) -> list[str]:
    """The CSV cells a rendered row stands for, checking how the page wrote each number: money
    as dollars with cents and thousands separators, counts with separators, no value as a dash.
    """
    cells = []
    for html, plain in zip(html_row, csv_row, strict=True):
        if plain == "":
            assert html == "—", (html, plain)
            cells.append("")
        elif re.fullmatch(r"-?\d+\.\d\d", plain):  # money, plain in the CSV
            assert MONEY.fullmatch(html), (html, plain)
            cells.append(html.replace("$", "").replace(",", ""))
        elif re.fullmatch(r"-?\d+", plain):  # a count
            assert COUNT.fullmatch(html), (html, plain)
            cells.append(html.replace(",", ""))
        else:
            cells.append(html)
    return cells


def check_every_table(
    client: Client, url: str, params: dict, expected_ids: set, prefix: str, only: set | None = None
) -> ReportPage:
    page = page_of(get(client, url, params))
    assert expected_ids <= set(page.tables), expected_ids - set(page.tables)
    for table_id, table in page.tables.items():
        if only is not None and table_id not in only:
            continue
        # The page's own download link keeps the period.
        link = urlsplit(unescape(table.csv_link))
        query = parse_qs(link.query)
        assert query["table"] == [table_id]
        assert query["format"] == ["csv"]
        for name, value in params.items():
            assert query[name] == [value], (table_id, name)

        response = client.get(url + "?" + link.query)
        assert response.status_code == 200, table_id
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f"sightline-{table_id}-" in response["Content-Disposition"]
        rows = parse_csv(response.content.decode("utf-8"))
        assert rows[0] == table.columns, table_id
        assert len(rows[1:]) == len(table.rows), table_id
        assert rows[1:] == [csv_cells(h, c) for h, c in zip(table.rows, rows[1:], strict=True)], (
            table_id
        )
        assert all(len(r) == len(table.columns) for r in rows), table_id
        if not table.rows:
            assert table.empty_rows == 1, table_id

        figure = page.figure(table_id, prefix)
        if figure is None:
            continue
        x = [r[0] for r in table.rows]
        assert figure["data"], table_id
        for trace in figure["data"]:
            assert trace["x"] == x, table_id
            column = table.columns.index(trace["name"])
            assert trace["y"] == [as_number(r[column]) for r in rows[1:]], (table_id, column)
    return page


def test_every_council_table_csv_equals_the_table(council, report_data):
    page = check_every_table(council, COUNCIL_URL, FY2026, COUNCIL_TABLES, "")
    for table_id in COUNCIL_TABLES - {"vendor-exports"}:  # no import: its empty state
        assert page.tables[table_id].rows, f"{table_id} should have rows in this test"


def test_csv_of_a_custom_range_keeps_the_range(council, report_data):
    params = {"kind": "custom", "start": "2025-08-15", "end": "2026-02-10"}
    page = check_every_table(
        council, COUNCIL_URL, params, COUNCIL_TABLES, "", only={"by-month", "by-unit"}
    )
    assert [r[0] for r in page.tables["by-month"].rows][::6] == ["2025-08", "2026-02"]
    response = council.get(
        COUNCIL_URL + "?" + urlencode({**params, "table": "by-month", "format": "csv"})
    )
    assert (
        'filename="sightline-by-month-2025-08-15_to_2026-02-10.csv"'
        in response["Content-Disposition"]
    )


def test_every_annual_table_csv_equals_the_table(council, report_data):
    page = check_every_table(council, ANNUAL_URL, {"fy": "2026"}, ANNUAL_TABLES, "annual-")
    for table_id in ANNUAL_TABLES - {"funding"}:
        assert page.tables[table_id].rows, f"{table_id} should have rows in this test"
    # No face-recognition contract: the empty table says so, and its CSV is the header only.
    assert page.tables["funding"].rows == []
    assert page.tables["funding"].empty_rows == 1


def test_council_tables_hold_the_right_numbers(council, report_data):
    page = page_of(get(council, COUNCIL_URL, FY2026))
    by_tech = {r[0]: r for r in page.tables["by-technology"].rows}
    # A fiscal year's previous period is also the same period a year earlier: one comparison.
    assert page.tables["by-technology"].columns == ["Technology", "FY2026", "FY2025", "Change"]
    assert by_tech["License plate readers"][1:] == ["2", "1", "+100%"]
    assert by_tech["Facial recognition"][1:] == ["1", "1", "+0%"]
    assert by_tech["NIBIN ballistic evidence"][1:] == ["1", "0", "new"]
    agencies = {r[0]: r for r in page.tables["by-agency"].rows}
    assert agencies == {
        "BPD": ["BPD", "City department", "2", "0"],
        "MGM": ["MGM", "Partner agency", "1", "1"],
        "ZZ9": ["ZZ9", "Unregistered", "1", "0"],
    }
    units = {r[0]: r[1:] for r in page.tables["by-unit"].rows}
    assert units == {
        "RTCC": ["1", "0", "0.0%"],
        WEIRD_UNIT: ["1", "1", "100.0%"],
        "Homicide": ["1", "0", "0.0%"],
        "(unregistered operator)": ["1", "1", "100.0%"],
    }
    hours = {r[0]: r[1:] for r in page.tables["by-hour"].rows}
    assert hours["03:00"] == ["1", "no"]
    assert hours["23:00"] == ["1", "yes"]
    months = {r[0]: r[1:] for r in page.tables["by-month"].rows}
    assert list(months) == [f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(7, 13)]] + [
        f"2026-{m:02d}" for m in range(1, 7)
    ]
    assert months["2026-02"][-1] == "1"
    assert months["2025-09"][-1] == "1"
    outcomes = {r[0]: r[1:] for r in page.tables["outcomes"].rows}
    # Lead, Arrest, Charged, Case cleared, No match, False match, Not used.
    assert outcomes["Facial recognition"] == ["1", "1", "0", "0", "0", "0", "0"]
    assert outcomes["License plate readers"] == ["0", "0", "0", "0", "0", "1", "0"]
    cost = {r[0]: r[1:] for r in page.tables["cost-per-query"].rows}
    # 0.30 paid for LPR plus 2/4 of the 1000.00 paid for the center.
    assert cost["License plate readers"] == ["$500.30", "2", "$250.15", "0", "—"]
    assert cost["Facial recognition"] == ["$250.00", "1", "$250.00", "1", "$250.00"]
    contracts = {r[0]: r[1:] for r in page.tables["contracts"].rows}
    # Committed, paid in FY2026, paid to date, remaining.
    assert contracts["RTCC build-out"][3:] == [
        "$2,150,000.00",
        "$1,000.00",
        "$1,000.00",
        "$2,149,000.00",
    ]
    assert contracts["LPR cameras, hosted"][3:] == [
        "$412,500.00",
        "$0.30",
        "$5,000.30",
        "$407,499.70",
    ]
    paid = {tuple(r[:2]): r[2:] for r in page.tables["spending-in-period"].rows}
    assert paid == {
        ("License plate readers", "Grant"): ["$0.30", "$5,000.00", "-100%"],
        ("Shared RTCC facility", "General fund"): ["$1,000.00", "$0.00", "new"],
    }
    # The whole fiscal years of the period: FY2026 only (FY2025's 5000.00 is not in it).
    assert {r[0] for r in page.tables["spending-by-year"].rows} == {"FY2026"}


def test_money_is_dollars_on_the_page_and_plain_in_the_csv(council, report_data):
    html = unescape(get(council, COUNCIL_URL, FY2026).content.decode())
    assert "$2,150,000.00" in html
    assert "$1,000.00 was paid in the period." not in html  # 1000.30 was
    assert "$1,000.30 was paid in the period." in html
    assert not re.search(r"(?<![\d,.])2150000", html), "an amount without separators"
    csv_text = council.get(
        COUNCIL_URL + "?" + urlencode({**FY2026, "table": "contracts", "format": "csv"})
    ).content.decode()
    row = next(r for r in parse_csv(csv_text) if r[0] == "RTCC build-out")
    assert row[4:] == ["2150000.00", "1000.00", "1000.00", "2149000.00"]
    annual = unescape(council.get(f"/reports/annual/{LPR}/?fy=2026").content.decode())
    # 0.30 of its own plus half the center's 1000.00, for two queries.
    assert "FY2026 cost $500.30 for 2 queries ($250.15 per query)." in annual


# --- The period picker ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "label", "first_month", "months"),
    [
        ({"kind": "month", "year": "2026", "month": "2"}, "February 2026", "2026-02", 1),
        ({"kind": "quarter", "year": "2025", "quarter": "3"}, "Q3 2025", "2025-07", 3),
        ({"kind": "fiscal-year", "year": "2026"}, "FY2026", "2025-07", 12),
        ({"kind": "year", "year": "2025"}, "2025", "2025-01", 12),
        (
            {"kind": "custom", "start": "2025-08-15", "end": "2026-02-10"},
            "2025-08-15 to 2026-02-10",
            "2025-08",
            7,
        ),
    ],
)
def test_period_picker(council, params, label, first_month, months):
    response = get(council, COUNCIL_URL, params)
    page = page_of(response)
    text = unescape(response.content.decode())
    assert f"Surveillance technology report: {label}</h1>" in text
    assert 'role="alert"' not in text
    rows = page.tables["by-month"].rows
    assert rows[0][0] == first_month
    assert len(rows) == months


def test_custom_range_counts_only_its_days(council, report_data):
    params = {"kind": "custom", "start": "2025-09-01", "end": "2026-02-10"}
    page = page_of(get(council, COUNCIL_URL, params))
    totals = {r[0]: r[1] for r in page.tables["by-technology"].rows}
    assert totals == {
        "Facial recognition": "1",
        "License plate readers": "1",
        "NIBIN ballistic evidence": "1",
    }


def default_label() -> str:
    return periods.fiscal_year(periods.fiscal_year_of(timezone.localdate())).label


INVALID = {
    "month-without-month": ({"kind": "month", "year": "2026"}, "Required for this kind of period."),
    "quarter-without-year": ({"kind": "quarter", "quarter": "2"}, "Required for this kind"),
    "fiscal-year-without-year": ({"kind": "fiscal-year"}, "Required for this kind of period."),
    "custom-without-end": ({"kind": "custom", "start": "2026-01-01"}, "Required for this kind"),
    "custom-end-before-start": (
        {"kind": "custom", "start": "2026-03-10", "end": "2026-01-01"},
        "The end date is before the start date.",
    ),
    "unknown-kind": ({"kind": "decade", "year": "2026"}, "Select a valid choice."),
    "year-not-a-number": ({"kind": "year", "year": "twenty"}, "Enter a whole number."),
    "month-13": ({"kind": "month", "year": "2026", "month": "13"}, "less than or equal to 12"),
    "quarter-5": ({"kind": "quarter", "year": "2026", "quarter": "5"}, "less than or equal to 4"),
    "year-1999": ({"kind": "year", "year": "1999"}, "greater than or equal to 2000"),
    "bad-date": ({"kind": "custom", "start": "2026-02-30", "end": "2026-03-01"}, "valid date"),
}


@pytest.mark.parametrize(("params", "error"), INVALID.values(), ids=INVALID.keys())
def test_invalid_period_shows_errors_and_the_default_period(council, params, error):
    response = get(council, COUNCIL_URL, params)
    page = page_of(response)
    text = unescape(response.content.decode())
    assert error in text
    assert 'role="alert"' in text
    assert f"Surveillance technology report: {default_label()}</h1>" in text
    assert page.tables["by-technology"].columns[0] == "Technology"


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "custom", "start": "0001-01-01", "end": "0001-01-31"},
        {"kind": "custom", "start": "9999-12-01", "end": "9999-12-31"},
    ],
    ids=["first-dates", "last-dates"],
)
def test_extreme_custom_dates_do_not_crash(council, params):
    """Dates the form accepts whose comparison periods fall outside Python's dates."""
    council.raise_request_exception = False
    response = get(council, COUNCIL_URL, params)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        text = unescape(response.content.decode())
        # Either refused with an error (and the default period), or shown as asked.
        asked = f"Surveillance technology report: {params['start']} to {params['end']}</h1>"
        assert ('role="alert"' in text and default_label() in text) or asked in text
    csv_response = council.get(
        COUNCIL_URL + "?" + urlencode({**params, "table": "by-technology", "format": "csv"})
    )
    assert csv_response.status_code in (200, 400, 404), csv_response.status_code


def test_no_period_means_the_current_fiscal_year(council):
    response = council.get(COUNCIL_URL)
    text = unescape(response.content.decode())
    assert f"Surveillance technology report: {default_label()}</h1>" in text
    assert 'role="alert"' not in text


def test_unknown_table_is_404(council):
    for query in (
        "table=nope&format=csv",
        "kind=fiscal-year&year=2026&table=nope&format=csv",
        "format=csv",
    ):
        assert council.get(f"{COUNCIL_URL}?{query}").status_code == 404, query
    assert council.get(f"{ANNUAL_URL}?fy=2026&table=by-technology&format=csv").status_code == 404


# --- Scripts, styles, plotly and the CSP ----------------------------------------------------


@pytest.mark.parametrize(
    "url", [COUNCIL_URL + "?kind=fiscal-year&year=2026", ANNUAL_URL + "?fy=2026"]
)
def test_no_inline_script_or_style(council, report_data, url):
    response = council.get(url)
    html = response.content.decode()
    page = page_of(response)
    assert '<script src="/assets/plotly.min.js"' in html
    sources = [s.get("src") for s in page.scripts if s.get("src")]
    assert "/assets/plotly.min.js" in sources
    inline = [s for s in page.scripts if not s.get("src")]
    assert all(s.get("type") == "application/json" for s in inline), inline
    assert page.json_blocks, "the charts' data should be embedded as JSON"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE)
    assert not re.search(r"<style[\s>]", html, re.IGNORECASE)
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), "inline event handler"


def test_plotly_is_served_from_the_installed_package(client_for):
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = client_for("anonymous").get("/assets/plotly.min.js")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("text/javascript", "application/javascript")
    body = b"".join(response.streaming_content)
    assert body == bundled.read_bytes()
    assert len(body) > 1_000_000  # the real bundle, not a stub


@pytest.mark.parametrize("url", [COUNCIL_URL, ANNUAL_URL])
def test_csp_allows_only_same_origin_scripts(council, url):
    response = council.get(url)
    assert response.status_code == 200
    directives = csp_directives(response["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert "script-src-elem" not in directives
    assert "'unsafe-inline'" not in " ".join(" ".join(v) for v in directives.values())
    assert "'unsafe-eval'" not in directives["script-src"]


# --- The annual report ----------------------------------------------------------------------


def test_annual_report_shows_the_policy_and_no_statement_yet(council, report_data):
    response = council.get(ANNUAL_URL + "?fy=2026")
    text = unescape(response.content.decode())
    policy = Technology.objects.get(slug=FACE).policy_text
    assert policy and policy in text
    assert "Annual surveillance report: Facial recognition, FY2026</h1>" in text
    assert "Staff have not yet entered the complaints" in text


def test_annual_report_shows_the_complaints_statement(council, report_data):
    AnnualStatement.objects.create(
        technology=Technology.objects.get(slug=FACE),
        fiscal_year=2026,
        complaints_received=7,
        complaints_summary="Two residents asked <who> approved the searches.",
        civil_rights_review="No disparate impact found.",
        requested_changes="Publish match thresholds.",
    )
    response = council.get(ANNUAL_URL + "?fy=2026")
    html = response.content.decode()
    text = unescape(html)
    assert "Complaints received:</strong> 7" in text
    assert "Two residents asked <who> approved the searches." in text
    assert "&lt;who&gt;" in html  # escaped, not markup
    assert "No disparate impact found." in text
    assert "Publish match thresholds." in text
    assert "Staff have not yet entered the complaints" not in text
    # Another year has no statement.
    other = unescape(council.get(ANNUAL_URL + "?fy=2025").content.decode())
    assert "Complaints received:" not in other
    assert "Staff have not yet entered the complaints" in other


def test_annual_report_fy_switches_years(council, report_data):
    page_2026 = page_of(council.get(ANNUAL_URL + "?fy=2026"))
    page_2025 = page_of(council.get(ANNUAL_URL + "?fy=2025"))
    months_2026 = dict(page_2026.tables["monthly"].rows)
    months_2025 = dict(page_2025.tables["monthly"].rows)
    assert (min(months_2026), max(months_2026), len(months_2026)) == ("2025-07", "2026-06", 12)
    assert (min(months_2025), max(months_2025), len(months_2025)) == ("2024-07", "2025-06", 12)
    assert months_2026["2026-01"] == "1"
    assert sum(int(n) for n in months_2026.values()) == 1
    assert months_2025["2024-09"] == "1"
    assert sum(int(n) for n in months_2025.values()) == 1
    outcomes_2026 = dict(page_2026.tables["outcomes"].rows)
    outcomes_2025 = dict(page_2025.tables["outcomes"].rows)
    assert (outcomes_2026["Lead"], outcomes_2026["Arrest"]) == ("1", "1")
    assert (outcomes_2025["Lead"], outcomes_2025["Arrest"]) == ("0", "0")
    html = council.get(ANNUAL_URL + "?fy=2025").content.decode()
    assert "FY2025</h1>" in html
    assert '<a href="?fy=2025" aria-current="page">FY2025</a>' in html


def test_annual_report_without_fy_is_the_current_fiscal_year(council):
    for query in ("", "?fy=", "?fy=abc"):
        html = unescape(council.get(ANNUAL_URL + query).content.decode())
        assert f"Facial recognition, {default_label()}</h1>" in html, query


@pytest.mark.parametrize("fy", ["0", "1", "10000", "-5", "99999999999999999999"])
def test_annual_report_out_of_range_fy_does_not_crash(council, fy):
    council.raise_request_exception = False
    response = council.get(f"{ANNUAL_URL}?fy={fy}")
    assert response.status_code in (200, 400, 404), (fy, response.status_code)
    if response.status_code == 200:
        assert "Annual surveillance report: Facial recognition, FY" in response.content.decode()


def test_annual_report_of_an_unknown_technology_is_404(council):
    assert council.get("/reports/annual/drones/?fy=2026").status_code == 404


# --- A period still in progress -------------------------------------------------------------


@pytest.fixture
def today_is(monkeypatch):
    """Fix the report's "today" (the local date) at a given day."""

    def _set(day: date) -> None:
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return _set


@pytest.fixture
def monthly_plate_searches(maker: QueryMaker):
    """One plate search on the 10th of every month from July 2025 to November 2026, and one on
    5 December 2026."""
    days = [periods.add_months(date(2025, 7, 10), n) for n in range(17)] + [date(2026, 12, 5)]
    maker.record([maker.query(occurred_at=local_time(day, 10)) for day in days])
    return days


def test_fiscal_year_in_progress_is_compared_with_the_same_dates(
    council, monthly_plate_searches, today_is
):
    # The case: on 5 December FY2027 has five searches so far, FY2026 had twelve in
    # all but five by 4 December. Compared whole it looked like a 58% fall; it is no change.
    today_is(date(2026, 12, 5))
    response = council.get(COUNCIL_URL)
    page = page_of(response)
    text = unescape(response.content.decode())
    table = page.tables["by-technology"]
    assert table.columns == ["Technology", "FY2027 to Dec 4", "FY2026 to Dec 4", "Change"]
    assert table.rows == [["License plate readers", "5", "5", "+0%"]]
    assert "FY2027 is still in progress: it runs to June 30, 2027." in text
    assert "These figures run to December 4, 2026, the last whole day" in text
    assert "compared with FY2026 to Dec 4: Jul 1, 2025 to Dec 4, 2025" in re.sub(
        r"<[^>]+>", "", text
    )
    assert "-58%" not in text
    # The months shown stop at the last whole day (December so far: none before the 5th).
    months = {r[0]: r[-1] for r in page.tables["by-month"].rows}
    assert months == {f"2026-{m:02d}": "1" for m in range(7, 12)} | {"2026-12": "0"}
    # The completed year is one click away, and is compared whole.
    link = re.search(r'<a class="button-link" href="\?([^"]+)">([^<]+)</a>', text)
    assert link is not None
    assert parse_qs(unescape(link.group(1))) == {"kind": ["fiscal-year"], "year": ["2026"]}
    assert link.group(2) == "Show the last complete period instead: FY2026"
    completed = council.get(COUNCIL_URL + "?" + unescape(link.group(1)))
    completed_text = unescape(completed.content.decode())
    assert "still in progress" not in completed_text
    rows = page_of(completed).tables["by-technology"].rows
    assert rows == [["License plate readers", "12", "0", "new"]]


def test_csv_of_a_period_in_progress_is_named_for_its_days_so_far(
    council, monthly_plate_searches, today_is
):
    today_is(date(2026, 12, 5))
    response = council.get(COUNCIL_URL + "?table=by-technology&format=csv")
    assert (
        'filename="sightline-by-technology-2026-07-01_to_2026-12-04.csv"'
        in (response["Content-Disposition"])
    )
    assert parse_csv(response.content.decode()) == [
        ["Technology", "FY2027 to Dec 4", "FY2026 to Dec 4", "Change"],
        ["License plate readers", "5", "5", "+0%"],
    ]


def test_month_in_progress_shows_both_comparisons(council, monthly_plate_searches, today_is):
    today_is(date(2026, 11, 20))
    params = {"kind": "month", "year": "2026", "month": "11"}
    page = page_of(get(council, COUNCIL_URL, params))
    assert page.tables["by-technology"].columns == [
        "Technology",
        "November 2026 to Nov 19",
        "October 2026 to Oct 19",
        "Change",
        "November 2025 to Nov 19",
        "Change on year",
    ]
    assert page.tables["by-technology"].rows == [
        ["License plate readers", "1", "1", "+0%", "1", "+0%"]
    ]


def test_a_period_not_started_says_so(council, monthly_plate_searches, today_is):
    today_is(date(2026, 12, 5))
    text = unescape(
        get(council, COUNCIL_URL, {"kind": "fiscal-year", "year": "2028"}).content.decode()
    )
    assert "FY2028 has not started yet (it starts on July 1, 2027)" in text
    assert "Show the last complete period instead: FY2026" in text


def test_spending_section_follows_the_period_and_names_its_fiscal_years(council, report_data):
    quarter = {"kind": "quarter", "year": "2025", "quarter": "3"}  # July to September 2025
    response = get(council, COUNCIL_URL, quarter)
    page = page_of(response)
    text = unescape(response.content.decode())
    assert (
        "This section covers payments dated July 1, 2025 to September 30, 2025, which fall "
        "in FY2026" in text
    )
    paid = {tuple(r[:2]): r[2] for r in page.tables["spending-in-period"].rows}
    assert paid == {
        ("License plate readers", "Grant"): "$0.10",
        ("Shared RTCC facility", "General fund"): "$1,000.00",
    }
    years = {(r[0], r[1]): r[3] for r in page.tables["spending-by-year"].rows}
    assert years == {
        ("FY2026", "License plate readers"): "$0.30",
        ("FY2026", "Shared RTCC facility"): "$1,000.00",
    }
    crossing = {"kind": "custom", "start": "2025-06-01", "end": "2025-07-31"}
    text = unescape(get(council, COUNCIL_URL, crossing).content.decode())
    assert "which fall in FY2025 and FY2026" in text


def test_every_council_table_says_how_it_is_counted(council, report_data):
    html = unescape(get(council, COUNCIL_URL, FY2026).content.decode())
    figures = re.findall(r'<figure class="report-table" id="([^"]+)">(.*?)</figure>', html, re.S)
    assert {table_id for table_id, _body in figures} == COUNCIL_TABLES
    for table_id, body in figures:
        assert "How this is counted:" in body, table_id
    annual = unescape(council.get(ANNUAL_URL + "?fy=2026").content.decode())
    figures = re.findall(r'<figure class="report-table" id="([^"]+)">(.*?)</figure>', annual, re.S)
    assert {table_id for table_id, _body in figures} == ANNUAL_TABLES
    for table_id, body in figures:
        assert "How this is counted:" in body, table_id
