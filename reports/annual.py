"""A technology's annual surveillance report for a fiscal year (the CCOPS model's shape)."""

from audit.flags.rules import ALL_FLAGS
from audit.models import AuditReview, QueryOutcome
from reports import selectors
from reports.formatting import dollars
from reports.models import Contract
from reports.periods import fiscal_year
from reports.report import OUTCOME_NOTE, QUERY_NOTE
from reports.tables import Section, Table
from reports.tables import share as _share

ANNUAL_NOTES = {
    "query_type": "Queries by the kind of search the operator chose; share is the type's "
    "queries as a percentage of the year's queries.",
    "offense_category": "Queries by the NIBRS offense group of the offense code entered with "
    "the query (unspecified when none was entered); share as a percentage of the year's queries.",
}


def annual_report(technology, fy: int) -> list[Section]:
    """The sections of a technology's annual surveillance report for fiscal year `fy`."""
    period = fiscal_year(fy)
    slug = technology.slug
    totals = selectors.usage_totals(period, slug)

    use = Section("use", "How it was used")
    with_case = _share(totals["with_case_number"], totals["queries"])
    with_supervisor = _share(totals["with_supervisor"], totals["queries"])
    use.facts.append(
        f"{totals['queries']:,} queries in FY{fy}; {with_case} with a case number; "
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
            note=QUERY_NOTE,
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
        use.tables.append(
            Table(
                dimension,
                title,
                [label, "Queries", "Share"],
                rows,
                "bar",
                note=ANNUAL_NOTES[dimension],
            )
        )
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
            note="Queries by the unit the operator belongs to today; flagged counts those that "
            "raised at least one policy flag.",
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
            note="Queries by the agency that asked for the search, and whether the search was "
            "made on behalf of a different agency.",
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
            note="Queries by whose data was searched: local (the city's own), regional "
            "(partner centers) or national.",
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
            note="Queries raising each possible policy breach found automatically from the "
            "query and the policy in force; share is those as a percentage of the year's "
            "queries. One query can raise several flags.",
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
            note="Reviews auditors recorded during the fiscal year, by finding.",
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
            note=OUTCOME_NOTE,
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
            note="US dollars paid during the fiscal year under this technology's own contracts, "
            "by the contract's funding source; the shared center's costs are not included.",
        )
    )
    per_query = selectors.cost_per_query(period).get(slug)
    if per_query:
        each = per_query["per_query"]
        cost.facts.append(
            f"Including its share of the shared center's costs, FY{fy} cost "
            f"{dollars(per_query['cost'])} for {per_query['queries']:,} queries"
            + (f" ({dollars(each)} per query)." if each else ".")
        )
    return [use, sharing, audit, results, cost]
