"""Spending: Decimal arithmetic of cost per query and per lead, fiscal years of payments,
contract balances, and `manage.py import_spending` (all rows or none, bad rows by line)."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import Technology
from reports import periods, report, selectors
from reports.models import Contract, Expenditure, Vendor
from tests.reports.helpers import FACE, LPR, NIBIN, QueryMaker, local_time

CENT = Decimal("0.01")
FACILITY = selectors.FACILITY


@pytest.fixture(autouse=True)
def _july_fiscal_year(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7


def contract(title, technology, total="10000.00", source="grant", vendor="Roadside Optics"):
    return Contract.objects.create(
        vendor=Vendor.objects.get_or_create(name=vendor)[0],
        technology=Technology.objects.get(slug=technology) if technology else None,
        title=title,
        total_value=Decimal(total),
        start_date=date(2024, 7, 1),
        end_date=date(2027, 6, 30),
        funding_source=source,
    )


def pay(contract: Contract, day: date, amount: str, description: str = "") -> Expenditure:
    return Expenditure.objects.create(
        contract=contract, date=day, amount=Decimal(amount), description=description
    )


@pytest.fixture
def spending(db):
    lpr = contract("LPR cameras", LPR, total="412500.00", source="grant")
    face = contract("Face search licence", FACE, total="90000.00", source="general-fund")
    nibin = contract("NIBIN terminal", NIBIN, total="50.00", source="asset-forfeiture")
    center = contract("RTCC build-out", None, total="2150000.00", source="general-fund")
    pay(lpr, date(2025, 6, 30), "5000.00")  # FY2025: outside FY2026
    pay(lpr, date(2025, 7, 1), "0.10")  # first day of FY2026
    pay(lpr, date(2026, 6, 30), "0.20")  # last day of FY2026
    pay(lpr, date(2026, 7, 1), "7.00")  # FY2027
    pay(center, date(2025, 9, 15), "1000.00")
    pay(nibin, date(2026, 1, 10), "50.00")
    return {"lpr": lpr, "face": face, "nibin": nibin, "center": center}


@pytest.fixture
def usage(maker: QueryMaker):
    """FY2026: 3 LPR queries (1 lead), 4 face queries (3 leads, 1 arrest); one LPR query on the
    evening of 30 June 2025, local time (already 1 July in UTC), which is in FY2025."""
    lpr = maker.record(
        [maker.query(occurred_at=local_time(date(2025, 7, 1), 0, 0))]
        + [maker.query(occurred_at=local_time(date(2026, 6, 30), 23, 59, 59)) for _ in range(2)]
        + [maker.query(occurred_at=local_time(date(2025, 6, 30), 21, 30))]
    )
    face = maker.record(
        [
            maker.query(
                technology=FACE,
                target=f"probe-{n}",
                supervisor="S900",
                occurred_at=local_time(date(2026, 2, 1), 10),
            )
            for n in range(4)
        ]
    )
    maker.outcome(lpr[0].sequence, "lead")
    maker.outcome(lpr[3].sequence, "lead")  # FY2025: not counted in FY2026
    for result in face[:3]:
        maker.outcome(result.sequence, "lead")
    maker.outcome(face[0].sequence, "arrest")
    return {"lpr": lpr, "face": face}


# --- Cost per query and per lead ------------------------------------------------------------


def test_cost_per_query_and_per_lead_by_hand(spending, usage):
    costs = selectors.cost_per_query(periods.fiscal_year(2026))
    # By hand, in Decimal: LPR paid 0.10 + 0.20 in FY2026 and has 3 of the 7 queries, so it
    # carries 3/7 of the 1000.00 paid for the shared center.
    lpr_cost = (Decimal("0.10") + Decimal("0.20") + Decimal("1000.00") * 3 / 7).quantize(CENT)
    face_cost = (Decimal("1000.00") * 4 / 7).quantize(CENT)
    assert (lpr_cost, face_cost) == (Decimal("428.87"), Decimal("571.43"))
    assert costs == {
        LPR: {
            "cost": Decimal("428.87"),
            "queries": 3,
            "leads": 1,
            "per_query": Decimal("142.96"),  # 428.87 / 3 = 142.9566...
            "per_lead": Decimal("428.87"),
        },
        FACE: {
            "cost": Decimal("571.43"),
            "queries": 4,
            "leads": 3,
            "per_query": Decimal("142.86"),  # 571.43 / 4 = 142.8575
            "per_lead": Decimal("190.48"),  # 571.43 / 3 = 190.4766...
        },
        NIBIN: {  # paid for, never queried: a cost but no per-query figure
            "cost": Decimal("50.00"),
            "queries": 0,
            "leads": 0,
            "per_query": None,
            "per_lead": None,
        },
    }
    for figures in costs.values():
        for key in ("cost", "per_query", "per_lead"):
            value = figures[key]
            assert value is None or (type(value) is Decimal and value == value.quantize(CENT))
            if value is not None:
                assert value.as_tuple().exponent == -2, (key, value)


def test_cost_per_query_of_cents_is_exact(spending, maker: QueryMaker):
    """0.10 + 0.20 is 0.30 in Decimal (0.30000000000000004 in float)."""
    center = spending["center"]
    pay(center, date(2027, 3, 1), "0.10")
    pay(center, date(2027, 3, 2), "0.20")
    maker.record([maker.query(occurred_at=local_time(date(2027, 3, 3), 9))])
    costs = selectors.cost_per_query(periods.month(2027, 3))
    assert costs[LPR]["cost"] == Decimal("0.30")
    assert costs[LPR]["per_query"] == Decimal("0.30")
    assert str(costs[LPR]["cost"]) == "0.30"
    assert selectors.expenditures(periods.month(2027, 3)) == {
        (FACILITY, "general-fund"): Decimal("0.30")
    }


def test_cost_per_lead_counts_queries_with_a_lead_not_lead_reports(spending, maker: QueryMaker):
    """The page's method divides by 'the queries that produced a reported lead': a second lead
    reported for the same query does not halve the cost per lead."""
    pay(spending["lpr"], date(2027, 3, 1), "90.00")
    recorded = maker.record([maker.query(occurred_at=local_time(date(2027, 3, 3), 9))])
    maker.outcome(recorded[0].sequence, "lead")
    maker.outcome(recorded[0].sequence, "lead")  # reported again (append-only: adds)
    costs = selectors.cost_per_query(periods.month(2027, 3))
    assert costs[LPR]["cost"] == Decimal("90.00")
    assert costs[LPR]["per_lead"] == Decimal("90.00")


def council_sections(period: periods.Period) -> dict:
    """The council report's sections for a period viewed after it ended."""
    comparison = periods.compare(period, period.end + timedelta(days=1))
    return {s.id: s for s in report.council_report(comparison)}


def test_cost_table_in_the_council_report_keeps_the_decimals(spending, usage):
    sections = council_sections(periods.fiscal_year(2026))
    tables = {t.id: t for t in sections["spending"].tables}
    rows = {row[0]: row for row in tables["cost-per-query"].rows}
    assert rows["License plate readers"] == [
        "License plate readers",
        Decimal("428.87"),
        3,
        Decimal("142.96"),
        1,
        Decimal("428.87"),
    ]
    assert rows["NIBIN ballistic evidence"][3] is None
    csv_lines = tables["cost-per-query"].csv().splitlines()
    assert "License plate readers,428.87,3,142.96,1,428.87" in csv_lines
    assert "NIBIN ballistic evidence,50.00,0,,0," in csv_lines
    assert "in proportion to its share of all queries" in tables["cost-per-query"].note


def test_facility_costs_follow_the_query_share_within_the_period_only(spending, maker):
    """A month with no queries at all leaves the center's payments unallocated."""
    pay(spending["center"], date(2027, 1, 5), "300.00")
    costs = selectors.cost_per_query(periods.month(2027, 1))
    assert costs == {}
    maker.record(
        [maker.query(occurred_at=local_time(date(2027, 1, 6), 9))]
        + [maker.query(technology=NIBIN, occurred_at=local_time(date(2027, 1, 6), 9))] * 2
    )
    costs = selectors.cost_per_query(periods.month(2027, 1))
    assert {slug: c["cost"] for slug, c in costs.items()} == {
        LPR: Decimal("100.00"),
        NIBIN: Decimal("200.00"),
    }
    assert costs[NIBIN]["per_query"] == Decimal("100.00")


# --- Spending by fiscal year, contract balances ---------------------------------------------


def test_spending_by_fiscal_year_splits_on_june_30(spending):
    assert selectors.spending_by_fiscal_year() == {
        (2025, LPR, "grant"): Decimal("5000.00"),
        (2026, LPR, "grant"): Decimal("0.30"),
        (2027, LPR, "grant"): Decimal("7.00"),
        (2026, FACILITY, "general-fund"): Decimal("1000.00"),
        (2026, NIBIN, "asset-forfeiture"): Decimal("50.00"),
    }
    for amount in selectors.spending_by_fiscal_year().values():
        assert type(amount) is Decimal


def test_spending_by_fiscal_year_with_a_calendar_fiscal_year(spending, settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 1
    assert selectors.spending_by_fiscal_year() == {
        (2025, LPR, "grant"): Decimal("5000.10"),
        (2026, LPR, "grant"): Decimal("7.20"),
        (2025, FACILITY, "general-fund"): Decimal("1000.00"),
        (2026, NIBIN, "asset-forfeiture"): Decimal("50.00"),
    }


def test_expenditures_in_a_fiscal_year(spending):
    assert selectors.expenditures(periods.fiscal_year(2026)) == {
        (LPR, "grant"): Decimal("0.30"),
        (FACILITY, "general-fund"): Decimal("1000.00"),
        (NIBIN, "asset-forfeiture"): Decimal("50.00"),
    }
    assert selectors.expenditures(periods.fiscal_year(2025)) == {(LPR, "grant"): Decimal("5000.00")}


def test_contracts_with_spending(spending):
    by_title = {c.title: c for c in selectors.contracts_with_spending()}
    assert {t: (c.spent, c.remaining) for t, c in by_title.items()} == {
        "LPR cameras": (Decimal("5007.30"), Decimal("407492.70")),
        "Face search licence": (Decimal("0.00"), Decimal("90000.00")),
        "NIBIN terminal": (Decimal("50.00"), Decimal("0.00")),
        "RTCC build-out": (Decimal("1000.00"), Decimal("2149000.00")),
    }
    for c in by_title.values():
        assert type(c.spent) is Decimal and type(c.remaining) is Decimal


def test_contract_balance_table(spending):
    tables = {t.id: t for t in council_sections(periods.fiscal_year(2026))["spending"].tables}
    rows = {row[0]: row for row in tables["contracts"].rows}
    assert rows["RTCC build-out"] == [
        "RTCC build-out",
        "Roadside Optics",
        "Shared RTCC facility",
        "General fund",
        Decimal("2150000.00"),
        Decimal("1000.00"),  # paid in FY2026
        Decimal("1000.00"),  # paid to date
        Decimal("2149000.00"),
    ]
    by_year = tables["spending-by-year"].rows
    assert ["FY2026", "License plate readers", "Grant", Decimal("0.30")] in by_year
    # The section follows the period: FY2025 is not part of FY2026's report...
    assert {row[0] for row in by_year} == {"FY2026"}
    # ...but is for a range that crosses into it.
    crossing = periods.custom(date(2025, 6, 1), date(2025, 7, 31))
    section = council_sections(crossing)["spending"]
    tables = {t.id: t for t in section.tables}
    by_year = tables["spending-by-year"].rows
    assert ["FY2025", "License plate readers", "Grant", Decimal("5000.00")] in by_year
    assert {row[0] for row in by_year} == {"FY2025", "FY2026"}
    assert "fall in FY2025 and FY2026" in section.facts[0]


# --- import_spending ------------------------------------------------------------------------

HEADER = (
    "kind,contract,vendor,technology,total_value,start_date,end_date,funding_source,"
    "resolution,document_url,date,amount,description"
)
GOOD_CONTRACT = (
    'contract,LPR cameras,Roadside Optics,license-plate-reader,"412,500.00",2024-11-01,'
    "2026-10-31,grant,2024-233,https://example.org/contracts/lpr.pdf,,,"
)
GOOD_PAYMENT = "expenditure,LPR cameras,,,,,,,,,2025-07-01,0.10,First quarter"
GOOD_FACILITY = (
    "contract,RTCC build-out,Magic City Builders,,2150000.00,2024-07-01,2025-06-30,"
    "general-fund,,,,,"
)


def write(tmp_path, *lines: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "spending.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return str(path)


def counts() -> tuple[int, int, int]:
    return Contract.objects.count(), Expenditure.objects.count(), Vendor.objects.count()


def test_import_spending_happy_path(db, tmp_path):
    path = write(
        tmp_path,
        HEADER,
        GOOD_CONTRACT,
        GOOD_FACILITY,
        GOOD_PAYMENT,
        "expenditure,LPR cameras,,,,,,,,,2025-10-01,0.20,",
        "",  # blank lines are skipped
        'expenditure,RTCC build-out,,,,,,,,,2024-09-30,"$1,000.50","Build-out, phase 1"',
        "Expenditure,RTCC build-out,,,,,,,,,2025-06-30,1000005.00,",
    )
    out = StringIO()
    call_command("import_spending", path, stdout=out)
    assert "Imported 2 contracts and 4 expenditures." in out.getvalue()
    lpr = Contract.objects.get(title="LPR cameras")
    assert lpr.vendor.name == "Roadside Optics"
    assert lpr.technology.slug == LPR
    assert lpr.total_value == Decimal("412500.00")
    assert (lpr.start_date, lpr.end_date) == (date(2024, 11, 1), date(2026, 10, 31))
    assert lpr.funding_source == "grant"
    assert lpr.council_resolution == "2024-233"
    assert lpr.document_url == "https://example.org/contracts/lpr.pdf"
    center = Contract.objects.get(title="RTCC build-out")
    assert center.technology is None
    assert center.funding_source == "general-fund"
    assert sorted(
        (e.contract.title, e.date, e.amount, e.description) for e in Expenditure.objects.all()
    ) == [
        ("LPR cameras", date(2025, 7, 1), Decimal("0.10"), "First quarter"),
        ("LPR cameras", date(2025, 10, 1), Decimal("0.20"), ""),
        ("RTCC build-out", date(2024, 9, 30), Decimal("1000.50"), "Build-out, phase 1"),
        ("RTCC build-out", date(2025, 6, 30), Decimal("1000005.00"), ""),
    ]
    assert selectors.spending_by_fiscal_year() == {
        (2026, LPR, "grant"): Decimal("0.30"),
        (2025, FACILITY, "general-fund"): Decimal("1001005.50"),
    }


def test_import_spending_reads_a_utf8_file_with_bom_and_pays_existing_contracts(db, tmp_path):
    contract("Existing", LPR)
    path = write(
        tmp_path,
        HEADER,
        "expenditure,Existing,,,,,,,,,2026-01-01,12.34,Café",
        encoding="utf-8-sig",
    )
    call_command("import_spending", path, stdout=StringIO())
    payment = Expenditure.objects.get()
    assert (payment.contract.title, payment.amount, payment.description) == (
        "Existing",
        Decimal("12.34"),
        "Café",
    )


def _contract_row(**changes) -> str:
    fields = {
        "kind": "contract",
        "contract": "Face search licence",
        "vendor": "Faceworks",
        "technology": FACE,
        "total_value": "90000.00",
        "start_date": "2025-07-01",
        "end_date": "2026-06-30",
        "funding_source": "general-fund",
        "resolution": "",
        "document_url": "",
        "date": "",
        "amount": "",
        "description": "",
    }
    fields.update(changes)
    return ",".join(fields.values())


def _payment_row(**changes) -> str:
    fields = {"contract": "LPR cameras", "date": "2025-08-01", "amount": "10.00"}
    fields.update(changes)
    return f"expenditure,{fields['contract']},,,,,,,,,{fields['date']},{fields['amount']},"


BAD_ROWS = {
    "unknown-kind": ("invoice,LPR cameras,,,,,,,,,2025-08-01,10.00,", "kind must be"),
    "empty-kind": (",LPR cameras,,,,,,,,,2025-08-01,10.00,", "kind must be"),
    "contract-missing-vendor": (_contract_row(vendor=""), "missing vendor"),
    "contract-missing-value-and-dates": (
        _contract_row(total_value="", start_date="", end_date=""),
        "missing total_value, start_date, end_date",
    ),
    "payment-missing-amount": (_payment_row(amount=""), "missing amount"),
    "payment-missing-date": (_payment_row(date=""), "missing date"),
    "bad-start-date": (_contract_row(start_date="2025-13-01"), "is not a date"),
    "bad-end-date": (_contract_row(end_date="06/30/2026"), "is not a date"),
    "bad-payment-date": (_payment_row(date="2025-02-30"), "is not a date"),
    "amount-not-a-number": (_payment_row(amount="ten dollars"), "is not an amount"),
    "amount-three-decimals": (_payment_row(amount="1000.005"), "at most two decimals"),
    "value-three-decimals": (_contract_row(total_value="0.001"), "at most two decimals"),
    "amount-negative": (_payment_row(amount="-5.00"), "zero or more"),
    "value-negative": (_contract_row(total_value="-1"), "zero or more"),
    "amount-nan": (_payment_row(amount="NaN"), "amount"),
    "amount-infinity": (_payment_row(amount="Infinity"), "amount"),
    "amount-huge-exponent": (_payment_row(amount="1e30"), "amount"),
    "amount-over-14-digits": (_payment_row(amount="1000000000000.00"), "amount"),
    "unknown-technology": (_contract_row(technology="drones"), "unknown technology 'drones'"),
    "bad-funding-source": (_contract_row(funding_source="bonds"), "funding_source must be"),
    "payment-for-unknown-contract": (
        _payment_row(contract="Drone fleet"),
        "no contract titled 'Drone fleet'",
    ),
    "duplicate-title-in-file": (_contract_row(contract="LPR cameras"), "already exists"),
    "duplicate-title-in-database": (_contract_row(contract="Existing"), "already exists"),
    "end-before-start": (
        _contract_row(start_date="2026-07-01", end_date="2026-06-30"),
        "end_date is before start_date",
    ),
    "bad-url": (_contract_row(document_url="not a url"), "valid URL"),
}


@pytest.mark.parametrize(("row", "message"), BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_import_spending_refuses_a_bad_row_and_imports_nothing(db, tmp_path, row, message):
    contract("Existing", LPR)
    before = counts()
    path = write(
        tmp_path,
        HEADER,  # line 1
        GOOD_CONTRACT,  # line 2
        GOOD_PAYMENT,  # line 3
        row,  # line 4
        GOOD_FACILITY,  # line 5
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_spending", path, stdout=StringIO())
    text = str(refused.value)
    assert "Nothing was imported" in text
    assert "line 4: " in text
    problem = next(line for line in text.splitlines() if "line 4:" in line)
    assert message in problem
    for good in (2, 3, 5):
        assert f"line {good}:" not in text
    assert counts() == before


def test_import_spending_names_every_bad_line_after_multiline_cells(db, tmp_path):
    before = counts()
    path = write(
        tmp_path,
        HEADER,  # 1
        GOOD_CONTRACT,  # 2
        'expenditure,LPR cameras,,,,,,,,,2025-07-01,0.10,"Quarter 1',  # 3
        'and a second line"',  # 4
        _payment_row(amount="1.234"),  # 5
        GOOD_FACILITY,  # 6
        _contract_row(funding_source="bonds"),  # 7
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_spending", path, stdout=StringIO())
    bad = sorted(int(part.split(":")[0]) for part in str(refused.value).split("line ")[1:])
    assert bad == [5, 7]
    assert counts() == before


def test_import_spending_needs_a_kind_column(db, tmp_path):
    path = write(tmp_path, "contract,date,amount", "LPR cameras,2025-07-01,1.00")
    with pytest.raises(CommandError, match="line 1: the header row needs a 'kind' column"):
        call_command("import_spending", path, stdout=StringIO())
    assert counts() == (0, 0, 0)


def test_import_spending_of_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_spending", str(tmp_path / "nope.csv"), stdout=StringIO())


def test_import_spending_of_a_file_that_is_not_utf8(db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "\n" + GOOD_PAYMENT.replace("First", "Caf\xe9") + "\n").encode("latin-1")
    )
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_spending", str(path), stdout=StringIO())
    assert counts() == (0, 0, 0)
