"""The council report: every table of usage, compliance, outcomes and spending for a period,
compared with the same span of earlier periods.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from audit.flags.rules import ALL_FLAGS, staffed_hours
from audit.log.nibrs import VIOLENT_CATEGORIES
from audit.models import AuditReview, QueryOutcome
from reports import selectors, vendor_exports
from reports.formatting import dollars
from reports.models import Contract
from reports.periods import Comparison, Period, compare, fiscal_year, fiscal_year_of
from reports.tables import Section, Table
from reports.tables import change as _change
from reports.tables import share as _share


def _compared(keys: list, now: dict, *earlier: dict, zero: int | Decimal = 0) -> list:
    """Rows of `key..., now, then for each earlier period: its value and the change`; `zero`
    stands for a key missing from a period (0, or Decimal("0.00") for money)."""
    rows = []
    for key in keys:
        row = [*key, now.get(key, zero)]
        for before in earlier:
            row += [before.get(key, zero), _change(now.get(key, zero), before.get(key, zero))]
        rows.append(row)
    return rows


def _compare_columns(comparison: Comparison) -> list[str]:
    """Headings of the compared columns: the periods by name, and the change from each."""
    columns = [comparison.current.label]
    for earlier in comparison.earlier:
        columns += [earlier.period.label, earlier.change_label]
    return columns


CHANGE_NOTE = (
    "Change is (this period - earlier period) / earlier period, rounded to a whole percent; "
    '"new" when the earlier period had none.'
)
QUERY_NOTE = (
    "One query is one search an operator ran with a technology, posted to the log by the "
    "center's software when it was made; it is counted on the local (Birmingham) date it was "
    "made."
)


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


def council_report(comparison: Comparison | Period) -> list[Section]:
    """All sections of the council report for a period (or its span so far, when it is still in
    progress), compared with the same span of one or two earlier periods. A bare `Period` is
    reported whole, as on the day after it ended."""
    if isinstance(comparison, Period):
        comparison = compare(comparison, comparison.end + timedelta(days=1))
    reads = _Reads()
    names = reads.technology_names()
    return [
        _usage(reads, comparison, names),
        _compliance(reads, comparison, names),
        _outcomes(reads, comparison.current, names),
        _spending(reads, comparison, names),
    ]


def _spans(comparison: Comparison) -> list[Period]:
    return [comparison.current, *(e.period for e in comparison.earlier)]


def _usage(reads, comparison: Comparison, names) -> Section:
    section = Section("usage", "How often, for what and by whom")
    period, spans = comparison.current, _spans(comparison)
    compare_columns = _compare_columns(comparison)
    by_tech = [reads.usage_by(p, "technology") for p in spans]
    keys = sorted(set().union(*by_tech), key=lambda k: names.get(k[0], k[0]))
    rows = _compared(keys, *by_tech)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table(
            "by-technology",
            "Queries by technology",
            ["Technology", *compare_columns],
            rows,
            "bar",
            note=f"{QUERY_NOTE} {CHANGE_NOTE}",
        )
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
            note="Queries per calendar month, by local date. A month cut by the start or end "
            "of the period counts only its days inside the period.",
        )
    )

    by_type = [reads.usage_by(p, "technology", "query_type") for p in spans]
    rows = _compared(sorted(set().union(*by_type)), *by_type)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table(
            "by-query-type",
            "Queries by type",
            ["Technology", "Query type", *compare_columns],
            rows,
            numeric_from=2,
            note="Queries by the kind of search the operator chose, for example a plate "
            "search or a partial-plate search. " + CHANGE_NOTE,
        )
    )

    by_category = [reads.usage_by(p, "offense_category") for p in spans]
    total = sum(by_category[0].values())
    keys = sorted(by_category[0], key=lambda k: -by_category[0][k])
    rows = [
        [key[0], by_category[0][key], _share(by_category[0][key], total)]
        + [counts.get(key, 0) for counts in by_category[1:]]
        for key in keys
    ]
    violent = sum(n for key, n in by_category[0].items() if key[0] in VIOLENT_CATEGORIES)
    homicide = by_category[0].get(("Homicide Offenses",), 0)
    section.facts.append(
        f"{_share(violent, total)} of queries ({violent:,} of {total:,}) were for violent-crime "
        f"investigations (homicide, assault, robbery, sex offenses, kidnapping, trafficking); "
        f"{_share(homicide, total)} ({homicide:,}) for homicide investigations."
    )
    section.tables.append(
        Table(
            "by-offense",
            "What it is used for: queries by offense category",
            [
                "Offense category",
                comparison.current.label,
                "Share",
                *(e.period.label for e in comparison.earlier),
            ],
            rows,
            "bar",
            note="Queries by the NIBRS offense group of the offense code entered with the "
            "query (unspecified when none was entered). Share is the category's queries as a "
            "percentage of all queries in the period.",
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
            note="Queries by the unit the operator belongs to today. Flagged counts the "
            "queries that raised at least one policy flag; share flagged is flagged / queries.",
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
            note="Queries by the agency that asked for the search. The last column counts the "
            "searches made on behalf of a different agency than the one asking.",
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
        f"{_share(outside, sum(hours.values()))} of queries ({outside:,}) were made outside the "
        f"staffed hours ({settings.SIGHTLINE_STAFFED_HOURS})."
    )
    section.tables.append(
        Table(
            "by-hour",
            "Queries by hour of day (local time)",
            ["Hour", "Queries", "Staffed"],
            rows,
            "bar",
            note="Queries by the local hour they were made (03:00 counts 3:00 to 3:59 a.m.). "
            f"Staffed: inside the center's staffed hours ({settings.SIGHTLINE_STAFFED_HOURS}).",
        )
    )
    return section


def _compliance(reads, comparison: Comparison, names) -> Section:
    section = Section("compliance", "How well the rules are kept")
    period, spans = comparison.current, _spans(comparison)
    totals = [reads.usage_totals(p) for p in spans]
    flags = [reads.flag_counts(p) for p in spans]
    rows = []
    for flag in ALL_FLAGS:
        now = flags[0].get((flag,), 0)
        earlier = zip(flags[1:], totals[1:], strict=True)
        rows.append(
            [flag, now, _share(now, totals[0]["queries"])]
            + [_share(counts.get((flag,), 0), total["queries"]) for counts, total in earlier]
        )
    before = comparison.earlier[0].period
    section.facts.append(
        f"{_share(totals[0]['flagged'], totals[0]['queries'])} of queries "
        f"({totals[0]['flagged']:,} of {totals[0]['queries']:,}) raised at least one policy flag "
        f"({_share(totals[1]['flagged'], totals[1]['queries'])} in {before.label}); "
        f"{_share(totals[0]['with_case_number'], totals[0]['queries'])} carried a case number."
    )
    section.tables.append(
        Table(
            "flags",
            "Share of queries with each policy flag",
            [
                "Flag",
                "Queries",
                "Share",
                *(f"Share, {e.period.label}" for e in comparison.earlier),
            ],
            rows,
            "bar",
            note="A flag marks a possible policy breach, found automatically from the query and "
            "the policy in force (for example a missing case number); an auditor reviews it. "
            "Queries counts the queries with the flag; share is those as a percentage of all "
            "queries in the period. One query can raise several flags.",
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
            note="All queries, and the queries raising each documentation flag, per calendar "
            "month of the period.",
        )
    )

    reviews = reads.reviews_by_finding(period)
    rows = [[label, reviews.get(value, 0)] for value, label in AuditReview.Finding.choices]
    section.facts.append(f"{sum(reviews.values()):,} audit reviews were recorded in the period.")
    section.tables.append(
        Table(
            "reviews",
            "Audit reviews and their findings",
            ["Finding", "Reviews"],
            rows,
            "bar",
            note="Reviews auditors recorded during the period (by the date they recorded them), "
            "by finding. A later review of the same query is counted again.",
        )
    )
    section.tables.append(vendor_exports.council_table(reads.vendor_exports(period), names))
    return section


OUTCOME_NOTE = (
    "Queries made in the period with each outcome that the investigating unit reported later, "
    "counted once per query and outcome. One query can have several outcomes, and many have "
    "none reported yet, so recent periods grow as reports arrive."
)


def _outcomes(reads, period: Period, names) -> Section:
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
            note=OUTCOME_NOTE,
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
        f"{homicide_leads:,} queries in homicide investigations produced a lead; "
        f"{by_category.get(('cleared', 'Homicide Offenses'), 0):,} were followed by a cleared "
        "case."
    )
    section.tables.append(
        Table(
            "outcomes-by-offense",
            "Outcomes by offense category",
            ["Offense category", "Leads", "Arrests", "Charged", "Cleared", "False matches"],
            rows,
            "bar",
            note=OUTCOME_NOTE,
        )
    )
    return section


def fiscal_years_of(period: Period) -> list[int]:
    """The fiscal years a period touches, in order."""
    return list(range(fiscal_year_of(period.start), fiscal_year_of(period.end) + 1))


def _spending(reads, comparison: Comparison, names) -> Section:
    section = Section("spending", "What it costs")
    period = comparison.current
    label = {**names, selectors.FACILITY: "Shared RTCC facility"}
    sources = dict(Contract.FundingSource.choices)
    years = fiscal_years_of(period)
    spans = [fiscal_year(fy) for fy in years]
    section.facts.append(
        f"This section covers payments dated {period.start:%B} {period.start.day}, "
        f"{period.start.year} to {period.end:%B} {period.end.day}, {period.end.year}, which fall "
        f"in {' and '.join(f'FY{fy}' for fy in years)} (fiscal years run from "
        f"{spans[0].start:%B} {spans[0].start.day} to {spans[0].end:%B} {spans[0].end.day})."
    )

    paid = [reads.expenditures(p) for p in _spans(comparison)]
    keys = sorted(set().union(*paid), key=lambda k: (label.get(k[0], k[0]), k[1]))
    rows = _compared(keys, *paid, zero=Decimal("0.00"))
    for row in rows:
        row[0], row[1] = label.get(row[0], row[0]), sources.get(row[1], row[1])
    total_now = sum(paid[0].values(), Decimal("0.00"))
    section.facts.append(f"{dollars(total_now)} was paid in the period.")
    section.tables.append(
        Table(
            "spending-in-period",
            "Paid in the period, by what it paid for and funding source (US dollars)",
            ["For", "Funding source", *_compare_columns(comparison)],
            rows,
            "",
            numeric_from=2,
            note="US dollars paid under the city's contracts, counted on the date each payment "
            "was made. " + CHANGE_NOTE,
        )
    )

    by_year = reads.spending_by_fiscal_year()
    rows = [
        [f"FY{fy}", label.get(slug, slug), sources.get(source, source), amount]
        for (fy, slug, source), amount in sorted(by_year.items())
        if fy in years
    ]
    section.tables.append(
        Table(
            "spending-by-year",
            "Paid in the whole fiscal years of the period, by technology and funding source",
            ["Fiscal year", "For", "Funding source", "Amount (USD)"],
            rows,
            "",
            numeric_from=3,
            note=f"US dollars paid in each whole fiscal year the period touches "
            f"({', '.join(f'FY{fy}' for fy in years)}), including payments before or after the "
            "period's dates.",
        )
    )
    rows = [
        [
            c.title,
            c.vendor.name,
            label.get(c.technology.slug if c.technology else selectors.FACILITY),
            sources[c.funding_source],
            c.total_value,
            c.paid_in_period,
            c.spent,
            c.remaining,
        ]
        for c in reads.contracts_in_force(period)
    ]
    section.tables.append(
        Table(
            "contracts",
            "Contracts in force during the period: commitments and payments (US dollars)",
            [
                "Contract",
                "Vendor",
                "For",
                "Funding source",
                "Committed",
                "Paid in period",
                "Paid to date",
                "Remaining",
            ],
            rows,
            "",
            numeric_from=4,
            note="Contracts whose term overlaps the period. Committed is the contract's total "
            "value; paid in period counts payments dated in the period; paid to date every "
            "payment so far; remaining is committed minus paid to date.",
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
            "Cost per query and per lead in the period (US dollars)",
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
            note="A technology's cost is what was paid in the period under its own contracts "
            "plus a share of the payments for the shared center, in proportion to its share of "
            "all queries in the period. Cost per lead divides that cost by the queries that "
            "produced a reported lead. Payments are counted on the date they were made.",
        )
    )
    return section
