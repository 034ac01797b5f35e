"""The council report: every table of usage, compliance, outcomes and spending for a period.

Each `Table` carries its rows once; the HTML table, the chart and the CSV download are all
rendered from those same rows, so they can never disagree.
"""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from audit.flags import ALL_FLAGS, staffed_hours
from audit.models import AuditReview, QueryOutcome
from audit.nibrs import VIOLENT_CATEGORIES
from reports import selectors
from reports.models import Contract
from reports.periods import Period, fiscal_year, fiscal_year_of, previous, year_earlier

COLORS = ["#0b5394", "#b45f06", "#38761d", "#741b47", "#45818e", "#7f6000", "#3d3d3d"]


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[list]
    chart: str = ""  # "bar", "stacked", "line" or "" for no chart
    note: str = ""
    numeric_from: int = 1  # columns from this index on are numbers

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(["" if v is None else v for v in row] for row in self.rows)
        return out.getvalue()

    def figure(self) -> dict | None:
        """A plotly figure of the table: x = first column, one trace per numeric column."""
        if not self.chart or not self.rows:
            return None
        x = [str(row[0]) for row in self.rows]
        traces = []
        for index in range(self.numeric_from, len(self.columns)):
            y = [_number(row[index]) for row in self.rows]
            if all(value is None for value in y):
                continue  # a text column (change, share, yes/no): shown in the table only
            if self.chart == "stacked" and self.columns[index] == "Total":
                continue  # the stack itself shows the total
            traces.append(
                {
                    "type": "scatter" if self.chart == "line" else "bar",
                    "name": self.columns[index],
                    "x": x,
                    "y": y,
                    "marker": {"color": COLORS[(index - self.numeric_from) % len(COLORS)]},
                }
            )
        return {
            "data": traces,
            "layout": {
                "barmode": "stack" if self.chart == "stacked" else "group",
                "margin": {"t": 10, "r": 10, "b": 80, "l": 60},
                "height": 320,
                "legend": {"orientation": "h"},
                "font": {"family": "system-ui, sans-serif"},
            },
        }


def _number(value):
    if isinstance(value, Decimal):
        return float(value)  # for drawing only; tables and CSV keep the exact Decimal
    return value if isinstance(value, int | float) else None


@dataclass
class Section:
    id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def _change(current: int | Decimal, before: int | Decimal) -> str:
    if not before:
        return "new" if current else "-"
    return f"{(current - before) * 100 / before:+.0f}%"


def _share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "-"


def _compared(keys: list, now: dict, before: dict, year: dict) -> list:
    return [
        [
            *key,
            now.get(key, 0),
            before.get(key, 0),
            _change(now.get(key, 0), before.get(key, 0)),
            year.get(key, 0),
            _change(now.get(key, 0), year.get(key, 0)),
        ]
        for key in keys
    ]


COMPARE = ["This period", "Previous period", "Change", "Year earlier", "Change on year"]


class _Reads:
    """The selectors, each answer remembered for one report: sections that need the same counts
    (or a year-earlier period equal to the previous one) do not ask the database twice."""

    def __init__(self) -> None:
        self._answers: dict = {}

    def __getattr__(self, name: str):
        function = getattr(selectors, name)

        def remembered(*args, **kwargs):
            key = (name, args, tuple(sorted(kwargs.items())))
            if key not in self._answers:
                self._answers[key] = function(*args, **kwargs)
            return self._answers[key]

        return remembered


def council_report(period: Period) -> list[Section]:
    """All sections of the council report for a period, compared with two earlier periods."""
    reads = _Reads()
    before, year = previous(period), year_earlier(period)
    names = reads.technology_names()
    return [
        _usage(reads, period, before, year, names),
        _compliance(reads, period, before, year),
        _outcomes(reads, period, names),
        _spending(reads, period, names),
    ]


def _usage(reads, period, before, year, names) -> Section:
    section = Section("usage", "How often, for what and by whom")
    by_tech = [reads.usage_by(p, "technology") for p in (period, before, year)]
    keys = sorted(set().union(*by_tech), key=lambda k: names.get(k[0], k[0]))
    rows = _compared(keys, *by_tech)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table("by-technology", "Queries by technology", ["Technology", *COMPARE], rows, "bar")
    )

    monthly = reads.usage_by_month(period)
    slugs = sorted({slug for _, slug in monthly}, key=lambda s: names.get(s, s))
    month_rows = []
    for first in period.months():
        counts = [monthly.get((first, slug), 0) for slug in slugs]
        month_rows.append([first.strftime("%Y-%m"), *counts, sum(counts)])
    section.tables.append(
        Table(
            "by-month",
            "Queries per month by technology",
            ["Month", *(names.get(s, s) for s in slugs), "Total"],
            month_rows,
            "stacked",
        )
    )

    by_type = [reads.usage_by(p, "technology", "query_type") for p in (period, before, year)]
    rows = _compared(sorted(set().union(*by_type)), *by_type)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table(
            "by-query-type",
            "Queries by type",
            ["Technology", "Query type", *COMPARE],
            rows,
            numeric_from=2,
        )
    )

    by_category = [reads.usage_by(p, "offense_category") for p in (period, before, year)]
    total = sum(by_category[0].values())
    keys = sorted(by_category[0], key=lambda k: -by_category[0][k])
    rows = [
        [
            key[0],
            by_category[0][key],
            _share(by_category[0][key], total),
            by_category[1].get(key, 0),
            by_category[2].get(key, 0),
        ]
        for key in keys
    ]
    violent = sum(n for key, n in by_category[0].items() if key[0] in VIOLENT_CATEGORIES)
    homicide = by_category[0].get(("Homicide Offenses",), 0)
    section.facts.append(
        f"{_share(violent, total)} of queries were for violent-crime investigations "
        f"(homicide, assault, robbery, sex offenses, kidnapping, trafficking); "
        f"{_share(homicide, total)} for homicide investigations."
    )
    section.tables.append(
        Table(
            "by-offense",
            "What it is used for: queries by offense category",
            ["Offense category", "Queries", "Share", "Previous period", "Year earlier"],
            rows,
            "bar",
        )
    )

    units = reads.flagged_by_unit(period)
    rows = [
        [unit or "(unregistered operator)", n, flagged, _share(flagged, n)]
        for unit, (n, flagged) in sorted(units.items(), key=lambda kv: -kv[1][0])
    ]
    section.tables.append(
        Table(
            "by-unit",
            "Queries by unit",
            ["Unit", "Queries", "Flagged", "Share flagged"],
            rows,
            "bar",
        )
    )

    kinds = reads.agency_kinds()
    by_agency = reads.usage_by(period, "agency", "proxy")
    totals: dict[tuple, list[int]] = {}
    for (agency, proxy), n in by_agency.items():
        row = totals.setdefault((agency,), [0, 0])
        row[0] += n
        row[1] += n if proxy else 0
    label = {"home": "City department", "partner": "Partner agency", "outside": "Unregistered"}
    rows = [
        [agency, label[kinds.get(agency, "outside")], n, proxied]
        for (agency,), (n, proxied) in sorted(totals.items(), key=lambda kv: -kv[1][0])
    ]
    section.tables.append(
        Table(
            "by-agency",
            "Queries by requesting agency (and proxy searches)",
            ["Agency", "Kind", "Queries", "On behalf of another agency"],
            rows,
            "bar",
            numeric_from=2,
        )
    )

    hours = reads.hours(period)
    window = staffed_hours(settings.SIGHTLINE_STAFFED_HOURS)
    rows = [
        [f"{h:02d}:00", hours.get(h, 0), "yes" if window.covers(h * 60) else "no"]
        for h in range(24)
    ]
    outside = sum(r[1] for r in rows if r[2] == "no")
    section.facts.append(
        f"{_share(outside, sum(hours.values()))} of queries were made outside the staffed "
        f"hours ({settings.SIGHTLINE_STAFFED_HOURS})."
    )
    section.tables.append(
        Table(
            "by-hour",
            "Queries by hour of day (local time)",
            ["Hour", "Queries", "Staffed"],
            rows,
            "bar",
        )
    )
    return section


def _compliance(reads, period, before, year) -> Section:
    section = Section("compliance", "How well the rules are kept")
    totals = [reads.usage_totals(p) for p in (period, before, year)]
    flags = [reads.flag_counts(p) for p in (period, before, year)]
    rows = []
    for flag in ALL_FLAGS:
        now = flags[0].get((flag,), 0)
        rows.append(
            [
                flag,
                now,
                _share(now, totals[0]["queries"]),
                _share(flags[1].get((flag,), 0), totals[1]["queries"]),
                _share(flags[2].get((flag,), 0), totals[2]["queries"]),
            ]
        )
    section.facts.append(
        f"{_share(totals[0]['flagged'], totals[0]['queries'])} of queries raised at least one "
        f"policy flag ({_share(totals[1]['flagged'], totals[1]['queries'])} the period before); "
        f"{_share(totals[0]['with_case_number'], totals[0]['queries'])} carried a case number."
    )
    section.tables.append(
        Table(
            "flags",
            "Share of queries with each policy flag",
            ["Flag", "Queries", "Share", "Share, previous period", "Share, year earlier"],
            rows,
            "bar",
        )
    )

    monthly = reads.usage_by_month(period)
    trend = reads.flag_trend(period)
    rows = []
    for first in period.months():
        queries = sum(n for (month, _), n in monthly.items() if month == first)
        top = {flag: trend.get((first, flag), 0) for flag in ALL_FLAGS}
        rows.append([first.strftime("%Y-%m"), queries, *(top[f] for f in ALL_FLAGS[:5])])
    section.tables.append(
        Table(
            "flag-trend",
            "Trend: the five documentation flags per month",
            ["Month", "Queries", *ALL_FLAGS[:5]],
            rows,
            "line",
        )
    )

    reviews = reads.reviews_by_finding(period)
    rows = [[label, reviews.get(value, 0)] for value, label in AuditReview.Finding.choices]
    section.facts.append(f"{sum(reviews.values())} audit reviews were recorded in the period.")
    section.tables.append(
        Table("reviews", "Audit reviews and their findings", ["Finding", "Reviews"], rows, "bar")
    )
    return section


def _outcomes(reads, period, names) -> Section:
    section = Section("outcomes", "Does it help solve cases?")
    kinds = QueryOutcome.Kind
    by_tech = reads.outcome_counts(period, "technology")
    techs = sorted({key[1] for key in by_tech}, key=lambda s: names.get(s, s))
    rows = [
        [names.get(slug, slug), *(by_tech.get((kind, slug), 0) for kind in kinds.values)]
        for slug in techs
    ]
    section.tables.append(
        Table(
            "outcomes",
            "Outcomes reported, by technology",
            ["Technology", *kinds.labels],
            rows,
            "bar",
        )
    )
    by_category = reads.outcome_counts(period, "offense_category")
    categories = sorted(
        {key[1] for key in by_category}, key=lambda c: -by_category.get(("lead", c), 0)
    )
    wanted = ["lead", "arrest", "charged", "cleared", "false-match"]
    rows = [
        [category, *(by_category.get((kind, category), 0) for kind in wanted)]
        for category in categories
    ]
    homicide_leads = by_category.get(("lead", "Homicide Offenses"), 0)
    section.facts.append(
        f"{homicide_leads} queries in homicide investigations produced a lead; "
        f"{by_category.get(('cleared', 'Homicide Offenses'), 0)} were followed by a cleared case."
    )
    section.tables.append(
        Table(
            "outcomes-by-offense",
            "Outcomes by offense category",
            ["Offense category", "Leads", "Arrests", "Charged", "Cleared", "False matches"],
            rows,
            "bar",
        )
    )
    return section


def _spending(reads, period, names) -> Section:
    section = Section("spending", "What it costs")
    label = {**names, selectors.FACILITY: "Shared RTCC facility"}
    sources = dict(Contract.FundingSource.choices)
    by_year = reads.spending_by_fiscal_year()
    rows = [
        [f"FY{fy}", label.get(slug, slug), sources.get(source, source), amount]
        for (fy, slug, source), amount in sorted(by_year.items())
    ]
    section.tables.append(
        Table(
            "spending-by-year",
            "Spending by fiscal year, technology and funding source",
            ["Fiscal year", "For", "Funding source", "Amount (USD)"],
            rows,
            "",
            numeric_from=3,
        )
    )
    rows = [
        [
            c.title,
            c.vendor.name,
            label.get(c.technology.slug if c.technology else selectors.FACILITY),
            sources[c.funding_source],
            c.total_value,
            c.spent,
            c.remaining,
        ]
        for c in reads.contracts_with_spending()
    ]
    section.tables.append(
        Table(
            "contracts",
            "Contract commitments and payments to date",
            [
                "Contract",
                "Vendor",
                "For",
                "Funding source",
                "Committed",
                "Paid to date",
                "Remaining",
            ],
            rows,
            "",
            numeric_from=4,
        )
    )
    costs = reads.cost_per_query(period)
    rows = [
        [label.get(slug, slug), c["cost"], c["queries"], c["per_query"], c["leads"], c["per_lead"]]
        for slug, c in costs.items()
    ]
    section.tables.append(
        Table(
            "cost-per-query",
            "Cost per query and per lead in the period",
            [
                "Technology",
                "Cost in period (USD)",
                "Queries",
                "Cost per query",
                "Leads",
                "Cost per lead",
            ],
            rows,
            "",
        )
    )
    section.tables[-1].note = (
        "Method: a technology's cost is what was paid in the period under its own contracts "
        "plus a share of the payments for the shared center, in proportion to its share of all "
        "queries in the period. Cost per lead divides that cost by the queries that produced a "
        "reported lead. Payments are counted on the date they were made."
    )
    return section


def default_period(today) -> Period:
    """The fiscal year holding `today`."""
    return fiscal_year(fiscal_year_of(today))


def annual_report(technology, fy: int) -> list[Section]:
    """The sections of a technology's annual surveillance report for fiscal year `fy`."""
    period = fiscal_year(fy)
    slug = technology.slug
    totals = selectors.usage_totals(period, slug)

    use = Section("use", "How it was used")
    with_case = _share(totals["with_case_number"], totals["queries"])
    with_supervisor = _share(totals["with_supervisor"], totals["queries"])
    use.facts.append(
        f"{totals['queries']} queries in FY{fy}; {with_case} with a case number; "
        f"{with_supervisor} with a supervisor's approval recorded."
    )
    monthly = selectors.usage_by_month(period)
    use.tables.append(
        Table(
            "monthly",
            "Queries per month",
            ["Month", "Queries"],
            [[m.strftime("%Y-%m"), monthly.get((m, slug), 0)] for m in period.months()],
            "bar",
        )
    )
    for dimension, title, label in (
        ("query_type", "Queries by type", "Query type"),
        ("offense_category", "Queries by offense category", "Offense category"),
    ):
        counts = selectors.usage_by(period, dimension, technology=slug)
        rows = [
            [key[0], n, _share(n, totals["queries"])]
            for key, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        use.tables.append(Table(dimension, title, [label, "Queries", "Share"], rows, "bar"))
    units = selectors.flagged_by_unit(period, slug)
    use.tables.append(
        Table(
            "units",
            "Queries by unit",
            ["Unit", "Queries", "Flagged"],
            [
                [u or "(unregistered operator)", n, f]
                for u, (n, f) in sorted(units.items(), key=lambda kv: -kv[1][0])
            ],
            "bar",
        )
    )

    sharing = Section("sharing", "Sharing with other agencies")
    kinds = selectors.agency_kinds()
    by_agency = selectors.usage_by(period, "agency", "proxy", technology=slug)
    rows = []
    for (agency, proxy), n in sorted(by_agency.items(), key=lambda kv: -kv[1]):
        kind = {"home": "City department", "partner": "Partner agency"}.get(
            kinds.get(agency, ""), "Unregistered"
        )
        rows.append([agency, kind, "yes" if proxy else "no", n])
    sharing.tables.append(
        Table(
            "agencies",
            "Queries by requesting agency",
            ["Agency", "Kind", "On behalf of another agency", "Queries"],
            rows,
            "",
            numeric_from=3,
        )
    )
    scopes = selectors.usage_by(period, "scope", technology=slug)
    sharing.tables.append(
        Table(
            "scope",
            "Whose data was searched",
            ["Scope", "Queries"],
            [[k[0], n] for k, n in sorted(scopes.items())],
            "bar",
        )
    )

    audit = Section("audit", "Audit results and policy violations")
    flags = selectors.flag_counts(period, technology=slug)
    audit.tables.append(
        Table(
            "flags",
            "Policy flags raised",
            ["Flag", "Queries", "Share"],
            [
                [f, flags.get((f,), 0), _share(flags.get((f,), 0), totals["queries"])]
                for f in ALL_FLAGS
            ],
            "bar",
        )
    )
    reviews = selectors.reviews_by_finding(period, slug)
    audit.tables.append(
        Table(
            "reviews",
            "Audit reviews and findings",
            ["Finding", "Reviews"],
            [[label, reviews.get(value, 0)] for value, label in AuditReview.Finding.choices],
            "bar",
        )
    )

    results = Section("outcomes", "Outcomes")
    outcomes = selectors.outcome_counts(period, technology=slug)
    results.tables.append(
        Table(
            "outcomes",
            "Outcomes reported",
            ["Outcome", "Count"],
            [[label, outcomes.get((value,), 0)] for value, label in QueryOutcome.Kind.choices],
            "bar",
        )
    )

    cost = Section("cost", "Total cost and funding")
    paid = selectors.expenditures(period)
    sources = dict(Contract.FundingSource.choices)
    own = [[sources[source], amount] for (s, source), amount in sorted(paid.items()) if s == slug]
    cost.tables.append(
        Table(
            "funding",
            f"Paid in FY{fy} under {technology.name} contracts",
            ["Funding source", "Amount (USD)"],
            own,
        )
    )
    per_query = selectors.cost_per_query(period).get(slug)
    if per_query:
        cost.facts.append(
            f"Including its share of the shared center's costs, FY{fy} cost "
            f"${per_query['cost']:,} for {per_query['queries']} queries"
            + (f" (${per_query['per_query']:,} per query)." if per_query["per_query"] else ".")
        )
    return [use, sharing, audit, results, cost]
